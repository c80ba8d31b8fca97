package kinds

import (
	"context"
	"errors"
	"fmt"

	"github.com/hashicorp/hcl/v2"
	goredis "github.com/redis/go-redis/v9"
	"github.com/understudy/understudy/dsl"
	"github.com/understudy/understudy/steps"
	"github.com/understudy/understudy/steps/redis"
	"github.com/zclconf/go-cty/cty"
)

// Command sends any command to a node; the reply is the step's output.
type Command struct{}

var commandSpec = &dsl.KindSpec{
	Name: "command",
	Doc:  "Sends any command to a node; the reply is the step's output.",
	Args: []dsl.ArgSpec{
		{Name: "node", Type: dsl.ArgNode, Required: true, Doc: "The node that receives the command."},
		{Name: "command", Type: dsl.ArgLive, LiveType: cty.List(cty.String), Required: true, Doc: `The command and its arguments: ["CONFIG", "SET", "maxmemory", "1gb"].`},
	},
}

func (Command) Spec() *dsl.KindSpec { return commandSpec }

func (Command) Check(s *dsl.Step, _ *redis.Sim) hcl.Diagnostics {
	return checkNotEmpty(s.Args["command"])
}

// checkNotEmpty reports a command list known to be empty.
func checkNotEmpty(a *dsl.Arg) hcl.Diagnostics {
	if a == nil || a.Value == cty.NilVal || !a.Value.IsKnown() || a.Value.IsNull() || !a.Value.CanIterateElements() || a.Value.LengthInt() > 0 {
		return nil
	}
	return hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  "Empty command",
		Detail:   `The command list is empty: give the command and its arguments, e.g. ["INFO", "replication"].`,
		Subject:  a.Range.Ptr(),
	}}
}

func (Command) Describe(s *dsl.Step, sim *redis.Sim) []string {
	return []string{fmt.Sprintf("%s to %s", s.Runbook().ArgText(s.Args["command"]), nodeText(s, "node", sim))}
}

func (Command) Run(ctx context.Context, x *steps.Exec) (cty.Value, error) {
	n, c, err := x.NodeArg("node")
	if err != nil {
		return cty.NilVal, err
	}
	args, err := x.EvalStrings(ctx, x.Step.Args["command"].Expr)
	if err != nil {
		return cty.NilVal, err
	}
	if len(args) == 0 {
		return cty.NilVal, steps.Permanent(steps.ErrorAt(x.Step.Args["command"].Range, "Empty command", "The command list is empty."))
	}
	cmd := make([]any, len(args))
	for i, a := range args {
		cmd[i] = a
	}
	reply, err := c.Do(ctx, cmd...).Result()
	if errors.Is(err, goredis.Nil) {
		return cty.NullVal(cty.DynamicPseudoType), nil
	}
	if err != nil {
		// Only the command name: arguments may hold secrets (CONFIG SET requirepass).
		return cty.NilVal, fmt.Errorf("%s on node %q: %w", args[0], n.Name(), err)
	}
	return replyValue(reply), nil
}

// Resume refuses: understudy cannot tell whether an arbitrary command
// reached the node, nor what it changed, and running it again may not be
// safe (INCR, CONFIG SET, FLUSHALL). The operator checks by hand.
func (Command) Resume(_ context.Context, x *steps.Exec) (steps.ResumeDecision, cty.Value, error) {
	return steps.ResumeRefuse, cty.NilVal, fmt.Errorf("step %s sends a command to node %q, and understudy cannot tell whether it reached the node or what it changed", x.Step.Ref(), x.Step.NodeArg("node"))
}

// replyValue converts a go-redis reply to a cty value.
func replyValue(v any) cty.Value {
	switch t := v.(type) {
	case nil:
		return cty.NullVal(cty.DynamicPseudoType)
	case string:
		return cty.StringVal(t)
	case int64:
		return cty.NumberIntVal(t)
	case float64:
		return cty.NumberFloatVal(t)
	case bool:
		return cty.BoolVal(t)
	case []any:
		if len(t) == 0 {
			return cty.EmptyTupleVal
		}
		vals := make([]cty.Value, len(t))
		for i, e := range t {
			vals[i] = replyValue(e)
		}
		return cty.TupleVal(vals)
	case map[any]any:
		if len(t) == 0 {
			return cty.EmptyObjectVal
		}
		attrs := map[string]cty.Value{}
		for k, e := range t {
			attrs[fmt.Sprint(k)] = replyValue(e)
		}
		return cty.ObjectVal(attrs)
	case error:
		return cty.StringVal(t.Error())
	}
	return cty.StringVal(fmt.Sprint(v))
}
