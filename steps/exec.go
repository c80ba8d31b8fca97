package steps

import (
	"context"
	"fmt"

	"github.com/hashicorp/hcl/v2"
	goredis "github.com/redis/go-redis/v9"
	"github.com/understudy/understudy/dsl"
	"github.com/understudy/understudy/steps/dataset"
	"github.com/understudy/understudy/steps/topology"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// Exec is what a step kind works with while its step runs: the step, the
// nodes and endpoints through the topology, live evaluation of its
// expressions, and the hooks to say what it is doing.
type Exec struct {
	Step    *dsl.Step
	Attempt int

	in       *Interpreter
	result   *StepResult
	warnings hcl.Diagnostics
}

// Runbook is the runbook being run.
func (x *Exec) Runbook() *dsl.Runbook { return x.in.rb }

// Log tells the hooks what the step is doing (a progress line).
func (x *Exec) Log(format string, args ...any) {
	text := fmt.Sprintf(format, args...)
	for _, h := range x.in.hooks {
		h.Message(x.Step, text)
	}
}

// Topology is how the step reaches nodes and endpoints.
func (x *Exec) Topology() topology.Topology { return x.in.opts.Topology }

// ExcludeKeys are the key patterns every data comparison leaves out.
func (x *Exec) ExcludeKeys() []string { return x.in.opts.ExcludeKeys }

// Comparer runs a full data comparison: in a worker process when the
// caller set one, else in this process.
func (x *Exec) Comparer() dataset.Comparer {
	if c := x.in.opts.Comparer; c != nil {
		return c
	}
	return dataset.InProcess{}
}

// DryRun reports whether the run sends nothing but reads: a kind that
// runs a program returns a NotSent instead.
func (x *Exec) DryRun() bool { return x.in.opts.DryRun }

// Node returns a node of the runbook.
func (x *Exec) Node(name string) (topology.Node, error) {
	n, err := x.in.opts.Topology.Node(name)
	if err != nil {
		return nil, fmt.Errorf("node %q: %w", name, err)
	}
	return n, nil
}

// Client is the controller's client for a node.
func (x *Exec) Client(name string) (*goredis.Client, error) {
	_, c, err := x.NodeClient(name)
	return c, err
}

// NodeClient is the node called name and the controller's client for it.
func (x *Exec) NodeClient(name string) (topology.Node, *goredis.Client, error) {
	return topology.NodeClient(x.in.opts.Topology, name)
}

// NodeArg returns the node a node argument names and its client.
func (x *Exec) NodeArg(arg string) (topology.Node, *goredis.Client, error) {
	n, err := x.Node(x.Step.NodeArg(arg))
	if err != nil {
		return nil, nil, err
	}
	c, err := n.Client()
	if err != nil {
		return nil, nil, fmt.Errorf("node %q: %w", n.Name(), err)
	}
	return n, c, nil
}

// Endpoint returns the endpoint named name.
func (x *Exec) Endpoint(name string) (topology.Endpoint, error) {
	ep, err := x.in.opts.Topology.Endpoint(name)
	if err != nil {
		return nil, fmt.Errorf("endpoint %q: %w", name, err)
	}
	return ep, nil
}

// context reads the live state the expressions need, once, and returns the
// evaluation context they share: every expression evaluated in it sees the
// same values.
func (x *Exec) context(ctx context.Context, exprs ...hcl.Expression) (*hcl.EvalContext, error) {
	st, err := x.in.state(ctx, x.Step, exprs...)
	if err != nil {
		return nil, err
	}
	return x.in.rb.EvalContext(st), nil
}

// Eval evaluates a live expression now: it reads INFO from every node the
// expression mentions, then evaluates it and converts the result to want.
func (x *Exec) Eval(ctx context.Context, expr hcl.Expression, want cty.Type) (cty.Value, error) {
	ectx, err := x.context(ctx, expr)
	if err != nil {
		return cty.NilVal, err
	}
	return x.evalIn(ectx, expr, want)
}

func (x *Exec) evalIn(ectx *hcl.EvalContext, expr hcl.Expression, want cty.Type) (cty.Value, error) {
	v, diags := expr.Value(ectx)
	if diags.HasErrors() {
		return cty.NilVal, &DiagError{Diag: diags[0]}
	}
	if !v.IsWhollyKnown() {
		return cty.NilVal, ErrorAt(expr.Range(), "Value not known", "%s depends on something that is not known at this point (a step that did not run?).", x.in.rb.ExprText(expr))
	}
	if want != cty.DynamicPseudoType {
		conv, err := convert.Convert(v, want)
		if err != nil {
			return cty.NilVal, ErrorAt(expr.Range(), "Incorrect value type", "%s: %s.", x.in.rb.ExprText(expr), err)
		}
		v = conv
	}
	if v.IsNull() && want == cty.Bool {
		return cty.NilVal, ErrorAt(expr.Range(), "Null condition", "%s is null.", x.in.rb.ExprText(expr))
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
			return nil, ErrorAt(expr.Range(), "Null element", "%s holds a null element.", x.in.rb.ExprText(expr))
		}
		out = append(out, e.AsString())
	}
	return out, nil
}

// CheckAssert evaluates a condition and its error message from the same
// live values, read once. A false condition fails the step, or, with
// severity dsl.SeverityWarning, is recorded as a warning of the step.
func (x *Exec) CheckAssert(ctx context.Context, cond, msg hcl.Expression, severity string) error {
	exprs := []hcl.Expression{cond}
	if msg != nil {
		exprs = append(exprs, msg)
	}
	ectx, err := x.context(ctx, exprs...)
	if err != nil {
		return err
	}
	v, err := x.evalIn(ectx, cond, cty.Bool)
	if err != nil {
		return err
	}
	if v.True() {
		return nil
	}
	detail := fmt.Sprintf("%s is false.", x.in.rb.ExprText(cond))
	if msg != nil {
		if m, err := x.evalIn(ectx, msg, cty.String); err == nil && !m.IsNull() {
			detail = m.AsString()
		} else if err != nil {
			detail += fmt.Sprintf(" (error_message could not be evaluated: %s)", err)
		}
	}
	if severity == dsl.SeverityWarning {
		x.warnings = append(x.warnings, &hcl.Diagnostic{
			Severity: hcl.DiagWarning,
			Summary:  fmt.Sprintf("Step %s: assertion failed (warning)", x.Step.Ref()),
			Detail:   detail,
			Subject:  cond.Range().Ptr(),
		})
		x.Log("warning: %s", detail)
		return nil
	}
	return ErrorAt(cond.Range(), "Assertion failed", "%s", detail)
}

// EvalEnv evaluates an env map (dsl.EnvType) into NAME=value pairs sorted
// by name, for a program's environment.
func (x *Exec) EvalEnv(ctx context.Context, expr hcl.Expression) ([]string, error) {
	v, err := x.Eval(ctx, expr, dsl.EnvType)
	if err != nil {
		return nil, err
	}
	return x.in.envPairs(expr, v)
}

// Eval evaluates a live expression outside any step, such as the
// rehearsal's workload: it reads the nodes and endpoints the expression
// mentions, as a step does; step.* values are those of the steps that ran.
func (in *Interpreter) Eval(ctx context.Context, expr hcl.Expression, want cty.Type) (cty.Value, error) {
	return (&Exec{in: in}).Eval(ctx, expr, want)
}

// EvalEnv is Exec.EvalEnv outside any step.
func (in *Interpreter) EvalEnv(ctx context.Context, expr hcl.Expression) ([]string, error) {
	return (&Exec{in: in}).EvalEnv(ctx, expr)
}

func (in *Interpreter) envPairs(expr hcl.Expression, v cty.Value) ([]string, error) {
	if v.IsNull() {
		return nil, nil
	}
	var out []string
	for it := v.ElementIterator(); it.Next(); {
		k, e := it.Element()
		name := k.AsString()
		if problem := dsl.EnvNameProblem(name); problem != "" {
			return nil, ErrorAt(expr.Range(), "Invalid environment variable name", "%s", problem)
		}
		if e.IsNull() {
			return nil, ErrorAt(expr.Range(), "Null environment value", "The value of %s in %s is null.", name, in.rb.ExprText(expr))
		}
		out = append(out, name+"="+e.AsString())
	}
	return out, nil
}

// ResumeLog is what the step said (Log) in the earlier run before it
// stopped, when this run resumes it and it was in flight; nil otherwise.
// A kind's Resume reads it to learn what its action had begun.
func (x *Exec) ResumeLog() []string {
	if rs := x.in.opts.Resume; rs != nil && rs.InFlight == x.Step.Name {
		return rs.InFlightLog
	}
	return nil
}
