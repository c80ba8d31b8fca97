package dsl

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// ExprText returns an expression's source text as written, for plans and
// messages.
func (r *Runbook) ExprText(expr hcl.Expression) string {
	if expr == nil {
		return ""
	}
	rng := expr.Range()
	f, ok := r.Files[rng.Filename]
	if !ok || rng.End.Byte > len(f.Bytes) {
		return "(expression)"
	}
	return string(f.Bytes[rng.Start.Byte:rng.End.Byte])
}

// ArgText shows an argument resolved when it is known without a server,
// otherwise as written. A value that reads a sensitive variable is shown as
// (sensitive).
func (r *Runbook) ArgText(a *Arg) string {
	if a == nil {
		return ""
	}
	if r.readsSensitive(a.Expr) {
		return "(sensitive)"
	}
	if a.Value != cty.NilVal && a.Value.IsWhollyKnown() {
		return ShowValue(a.Value)
	}
	return r.ExprText(a.Expr)
}

// readsSensitive reports whether expr reads a sensitive variable.
func (r *Runbook) readsSensitive(expr hcl.Expression) bool {
	for _, tr := range expr.Variables() {
		if tr.RootName() == "var" && len(tr) > 1 {
			if a, ok := tr[1].(hcl.TraverseAttr); ok && r.sensitive[a.Name] {
				return true
			}
		}
	}
	return false
}

// ShowValue writes a value as HCL would, briefly.
func ShowValue(v cty.Value) string {
	if !v.IsKnown() {
		return "(known at run time)"
	}
	if v.IsNull() {
		return "null"
	}
	switch {
	case v.Type() == cty.String:
		return fmt.Sprintf("%q", v.AsString())
	case v.Type() == cty.Number:
		return v.AsBigFloat().Text('f', -1)
	case v.Type() == cty.Bool:
		return fmt.Sprint(v.True())
	case v.CanIterateElements():
		var parts []string
		for it := v.ElementIterator(); it.Next(); {
			k, e := it.Element()
			if v.Type().IsObjectType() || v.Type().IsMapType() {
				parts = append(parts, k.AsString()+" = "+ShowValue(e))
			} else {
				parts = append(parts, ShowValue(e))
			}
		}
		if v.Type().IsObjectType() || v.Type().IsMapType() {
			return "{ " + strings.Join(parts, ", ") + " }"
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	return v.GoString()
}
