package dsl

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// EnvType is the type of an env map (an exec step's env, the rehearsal
// workload's env): environment variables a program gets on top of
// understudy's own, e.g. { REDISCLI_AUTH = node.old.password }. It is a
// live expression: node.NAME.address, node.NAME.password,
// endpoint.NAME.address and endpoint.NAME.url are read when the program
// starts. Its names are checked when the runbook loads (an ArgLive of
// this type, the workload's env).
var EnvType = cty.Map(cty.String)

// envEntry is one NAME = value of an env map written as an object literal.
type envEntry struct {
	name      string
	nameRange hcl.Range
	value     hcl.Expression
}

// envEntries lists the entries of an env map written as an object literal
// ({ A = ..., "B" = ... }), in source order; ok is false for any other
// expression (a local, merge(...)), whose names are known only once
// evaluated.
func envEntries(expr hcl.Expression) (entries []envEntry, ok bool) {
	oc, ok := expr.(*hclsyntax.ObjectConsExpr)
	if !ok {
		return nil, false
	}
	for _, item := range oc.Items {
		k, diags := item.KeyExpr.Value(nil)
		if diags.HasErrors() || !k.IsKnown() || k.IsNull() || k.Type() != cty.String {
			return nil, false
		}
		entries = append(entries, envEntry{name: k.AsString(), nameRange: item.KeyExpr.Range(), value: item.ValueExpr})
	}
	return entries, true
}

// checkEnvNames reports names of an env map that cannot be environment
// variable names: empty, or holding "=" or a NUL byte.
func checkEnvNames(expr hcl.Expression) hcl.Diagnostics {
	entries, ok := envEntries(expr)
	if !ok {
		return nil
	}
	var diags hcl.Diagnostics
	for _, e := range entries {
		if problem := EnvNameProblem(e.name); problem != "" {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid environment variable name",
				Detail:   problem,
				Subject:  e.nameRange.Ptr(),
			})
		}
	}
	return diags
}

// EnvNameProblem says, as a sentence, why name cannot be an environment
// variable's name; "" when it can.
func EnvNameProblem(name string) string {
	switch {
	case name == "":
		return "An environment variable needs a name, not an empty string."
	case strings.ContainsAny(name, "=\x00"):
		return fmt.Sprintf("The name %q holds \"=\" or a NUL byte, which no environment can carry: use letters, digits and \"_\".", name)
	}
	return ""
}

// EnvText describes an env map for a plan, one "NAME = value" per entry:
// values known without a server resolved, live ones as written, and any
// value that reads a secret (node.NAME.password, endpoint.NAME.url, a
// sensitive variable) as (sensitive). An env map that is not an object
// literal is shown whole, as ArgText shows an argument.
func (r *Runbook) EnvText(expr hcl.Expression) []string {
	if expr == nil {
		return nil
	}
	entries, ok := envEntries(expr)
	if !ok {
		if r.readsSensitive(expr) {
			return []string{"(sensitive)"}
		}
		return []string{r.ExprText(expr)}
	}
	out := make([]string, 0, len(entries))
	for _, e := range entries {
		out = append(out, e.name+" = "+r.valueText(e.value))
	}
	return out
}

// valueText is an expression's value for a plan: (sensitive) when it reads
// a secret, resolved when it is known without a server, else as written.
func (r *Runbook) valueText(expr hcl.Expression) string {
	if r.readsSensitive(expr) {
		return "(sensitive)"
	}
	if r.readsOutside(expr, nil) {
		return r.ExprText(expr)
	}
	if v, diags := expr.Value(r.EvalContext(EvalState{})); !diags.HasErrors() && v.IsWhollyKnown() {
		return ShowValue(v)
	}
	return r.ExprText(expr)
}
