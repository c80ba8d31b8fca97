package kinds

import (
	"context"

	"github.com/understudy/understudy/dsl"
	"github.com/understudy/understudy/steps"
	"github.com/understudy/understudy/steps/redis"
	"github.com/zclconf/go-cty/cty"
)

// Assert checks a condition on live state once.
type Assert struct{ noCheck }

var assertSpec = &dsl.KindSpec{
	Name: "assert",
	Doc:  "Checks a condition on live state once; fails the step with error_message when it is false (or, with severity = \"warning\", reports a warning and goes on).",
	Args: []dsl.ArgSpec{
		{Name: "condition", Type: dsl.ArgLive, LiveType: cty.Bool, Required: true, Doc: "The condition that must hold."},
		{Name: "error_message", Type: dsl.ArgLive, LiveType: cty.String, Doc: "The message when it does not, rendered from the same live values as the condition."},
		{Name: "severity", Type: dsl.ArgString, Enum: []string{dsl.SeverityError, dsl.SeverityWarning}, Doc: `"error" (default) fails the step; "warning" reports it in every output and fails nothing.`},
	},
}

func (Assert) Spec() *dsl.KindSpec { return assertSpec }

func (Assert) Describe(s *dsl.Step, _ *redis.Sim) []string {
	line := "INFO on the nodes it reads, then checks: " + s.Runbook().ExprText(s.Args["condition"].Expr)
	if s.StringArg("severity", dsl.SeverityError) == dsl.SeverityWarning {
		line += " (a warning only: a false condition fails nothing)"
	}
	return []string{line}
}

func (Assert) Run(ctx context.Context, x *steps.Exec) (cty.Value, error) {
	var msg = x.Step.Args["error_message"]
	sev := x.Step.StringArg("severity", dsl.SeverityError)
	if msg == nil {
		return cty.NilVal, x.CheckAssert(ctx, x.Step.Args["condition"].Expr, nil, sev)
	}
	return cty.NilVal, x.CheckAssert(ctx, x.Step.Args["condition"].Expr, msg.Expr, sev)
}
