package kinds_test

import (
	"context"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/understudy/understudy/dsl"
	"github.com/understudy/understudy/internal/redistest"
	"github.com/understudy/understudy/internal/runtest"
	"github.com/understudy/understudy/steps"
	"github.com/understudy/understudy/steps/kinds"
	"github.com/understudy/understudy/steps/redis"
	"github.com/understudy/understudy/steps/report"
	"github.com/zclconf/go-cty/cty"
)

// echo is a toy kind: the whole of it is this type, as a kind's file in
// package kinds would hold it.
type echo struct{}

var echoSpec = &dsl.KindSpec{
	Name: "echo",
	Doc:  "Says a message; the message is the step's output.",
	Args: []dsl.ArgSpec{
		{Name: "message", Type: dsl.ArgLive, LiveType: cty.String, Required: true, Doc: "What to say."},
	},
}

func (echo) Spec() *dsl.KindSpec { return echoSpec }

func (echo) Check(s *dsl.Step, _ *redis.Sim) hcl.Diagnostics {
	if v := s.Args["message"].Value; v.IsKnown() && !v.IsNull() && v.AsString() == "" {
		return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Empty message", Detail: "An echo says something.", Subject: s.Args["message"].Range.Ptr()}}
	}
	return nil
}

func (echo) Describe(s *dsl.Step, _ *redis.Sim) []string {
	return []string{"echoes " + s.Runbook().ArgText(s.Args["message"])}
}

func (echo) Run(ctx context.Context, x *steps.Exec) (cty.Value, error) {
	v, err := x.Eval(ctx, x.Step.Args["message"].Expr, cty.String)
	if err != nil {
		return cty.NilVal, err
	}
	x.Log("echo: %s", v.AsString())
	return v, nil
}

// A new kind is one type and one line in a registry; it shows in validate
// (its schema and its check), in plan (its description) and in run.
func TestToyKindInValidatePlanAndRun(t *testing.T) {
	withEcho := steps.MustRegistry(append(kinds.Registry.Kinds(), echo{})...) // the one registry line

	// validate: the kind's arguments and check.
	for _, tc := range []struct{ body, want string }{
		{`message = ""`, "Empty message"},
		{"message = \"x\"\nwords = \"x\"", `Unsupported argument`},
		{``, `Missing required argument`},
	} {
		_, diags := dsl.LoadSource("echo.hcl", []byte("step \"echo\" \"e\" {\n"+tc.body+"\n}\n"), dsl.LoadOptions{Kinds: withEcho, Mode: dsl.ModeValidate})
		if !diags.HasErrors() || !strings.Contains(diags.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.body, diags, tc.want)
		}
	}
	_, diags := dsl.LoadSource("echo.hcl", []byte("step \"echo\" \"e\" {\n  message = \"hi\"\n}\n"), dsl.LoadOptions{Kinds: kinds.Registry, Mode: dsl.ModeValidate})
	if !diags.HasErrors() || !strings.Contains(diags.Error(), "no step kind \"echo\"") {
		t.Errorf("the registry without echo accepted it: %v", diags)
	}

	// plan and run.
	s := redistest.Start(t)
	rb := runtest.LoadWith(t, withEcho, runtest.OneNode+`
step "echo" "role" {
  message = "a is ${node.a.role}"
}
`, runtest.NodeVars(s)...)
	p := report.BuildPlan(rb, "echo.hcl")
	if len(p.Steps) != 1 || strings.Join(p.Steps[0].Sends, "") != `echoes "a is ${node.a.role}"` {
		t.Errorf("plan: %+v", p.Steps)
	}
	res := runtest.RunLive(t, rb)
	if res.Status != steps.StatusPassed || res.Steps[0].Output.AsString() != "a is master" {
		t.Errorf("run: %s %#v", res.Status, res.Steps[0].Output)
	}
}
