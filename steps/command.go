package steps

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"
	"github.com/zclconf/go-cty/cty"
)

// runCommand sends any command to a node; the reply is the step's output.
func runCommand(ctx context.Context, x *Exec) (cty.Value, error) {
	node, c, err := x.NodeArg("node")
	if err != nil {
		return cty.NilVal, err
	}
	args, err := x.EvalStrings(ctx, x.Step.Args["command"].Expr)
	if err != nil {
		return cty.NilVal, err
	}
	if len(args) == 0 {
		return cty.NilVal, Permanent(errorAt(x.Step.Args["command"].Range, "Empty command", "The command list is empty."))
	}
	cmd := make([]any, len(args))
	for i, a := range args {
		cmd[i] = a
	}
	reply, err := c.Do(ctx, cmd...).Result()
	if err == redis.Nil {
		return cty.NullVal(cty.DynamicPseudoType), nil
	}
	if err != nil {
		// Only the command name: arguments may hold secrets (CONFIG SET requirepass).
		return cty.NilVal, fmt.Errorf("%s on node %q: %w", args[0], node, err)
	}
	return replyValue(reply), nil
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
