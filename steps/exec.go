package steps

import (
	"context"
	"fmt"
	"io"

	"github.com/hashicorp/hcl/v2"
	"github.com/redis/go-redis/v9"
	"github.com/understudy/understudy/dsl"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// Exec is what a step's action works with: its step, the nodes through the
// backend, the endpoints, and live evaluation of its expressions.
type Exec struct {
	Step    *dsl.Step
	Attempt int
	in      *Interpreter
}

// Runbook is the runbook being run.
func (x *Exec) Runbook() *dsl.Runbook { return x.in.rb }

// Log writes a progress line under the step.
func (x *Exec) Log(format string, args ...any) {
	fmt.Fprintf(x.in.opts.Log, "    "+format+"\n", args...)
}

// Writer is the progress log.
func (x *Exec) Writer() io.Writer { return x.in.opts.Log }

// Client is the controller's client for a node.
func (x *Exec) Client(node string) (*redis.Client, error) {
	c, err := x.in.opts.Backend.Client(node)
	if err != nil {
		return nil, fmt.Errorf("node %q: %w", node, err)
	}
	return c, nil
}

// Backend is the node contract.
func (x *Exec) Backend() Backend { return x.in.opts.Backend }

// Endpoint returns the endpoint named name.
func (x *Exec) Endpoint(name string) (Endpoint, error) {
	ep, ok := x.in.opts.Endpoints[name]
	if !ok {
		return nil, fmt.Errorf("endpoint %q has no implementation in this mode", name)
	}
	return ep, nil
}

// NodeArg returns the client and name of a node argument.
func (x *Exec) NodeArg(arg string) (string, *redis.Client, error) {
	name := x.Step.NodeArg(arg)
	c, err := x.Client(name)
	return name, c, err
}

// Eval evaluates a live expression now: it reads INFO from every node the
// expression mentions, then evaluates it and converts the result to want.
func (x *Exec) Eval(ctx context.Context, expr hcl.Expression, want cty.Type) (cty.Value, error) {
	st, err := x.in.state(ctx, expr)
	if err != nil {
		return cty.NilVal, err
	}
	v, diags := expr.Value(x.in.rb.EvalContext(st))
	if diags.HasErrors() {
		return cty.NilVal, &DiagError{Diag: diags[0]}
	}
	if !v.IsWhollyKnown() {
		return cty.NilVal, errorAt(expr.Range(), "Value not known", "%s depends on something that is not known at this point (a step that did not run?).", x.in.rb.ExprText(expr))
	}
	if want != cty.DynamicPseudoType {
		conv, err := convert.Convert(v, want)
		if err != nil {
			return cty.NilVal, errorAt(expr.Range(), "Incorrect value type", "%s: %s.", x.in.rb.ExprText(expr), err)
		}
		v = conv
	}
	if v.IsNull() && want == cty.Bool {
		return cty.NilVal, errorAt(expr.Range(), "Null condition", "%s is null.", x.in.rb.ExprText(expr))
	}
	return v, nil
}

// EvalBool evaluates a live condition.
func (x *Exec) EvalBool(ctx context.Context, expr hcl.Expression) (bool, error) {
	v, err := x.Eval(ctx, expr, cty.Bool)
	if err != nil {
		return false, err
	}
	return v.True(), nil
}

// EvalStrings evaluates a live list of strings, e.g. a command.
func (x *Exec) EvalStrings(ctx context.Context, expr hcl.Expression) ([]string, error) {
	v, err := x.Eval(ctx, expr, cty.List(cty.String))
	if err != nil {
		return nil, err
	}
	var out []string
	for it := v.ElementIterator(); it.Next(); {
		_, e := it.Element()
		if e.IsNull() {
			return nil, errorAt(expr.Range(), "Null element", "%s holds a null element.", x.in.rb.ExprText(expr))
		}
		out = append(out, e.AsString())
	}
	return out, nil
}

// checkAssert evaluates a condition and fails with its error_message.
func (x *Exec) checkAssert(ctx context.Context, cond, msg hcl.Expression) error {
	ok, err := x.EvalBool(ctx, cond)
	if err != nil {
		return err
	}
	if ok {
		return nil
	}
	detail := fmt.Sprintf("%s is false.", x.in.rb.ExprText(cond))
	if msg != nil {
		if m, err := x.Eval(ctx, msg, cty.String); err == nil && !m.IsNull() {
			detail = m.AsString()
		} else if err != nil {
			detail += fmt.Sprintf(" (error_message could not be evaluated: %s)", err)
		}
	}
	return errorAt(cond.Range(), "Assertion failed", "%s", detail)
}
