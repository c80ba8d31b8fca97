package dsl

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
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
	if a.Value != cty.NilVal && a.Value.IsWhollyKnown() && !r.readsOutside(a.Expr, nil) {
		return ShowValue(a.Value)
	}
	return r.ExprText(a.Expr)
}

// readsOutside reports whether expr calls env() or file(), directly or
// through a local: a plan shows such an expression as written, never the
// value it read (a token in the environment, a password file).
func (r *Runbook) readsOutside(expr hcl.Expression, seen map[string]bool) bool {
	found := false
	if se, ok := expr.(hclsyntax.Expression); ok {
		_ = hclsyntax.VisitAll(se, func(n hclsyntax.Node) hcl.Diagnostics {
			if c, ok := n.(*hclsyntax.FunctionCallExpr); ok && (c.Name == "env" || c.Name == "file") {
				found = true
			}
			return nil
		})
	}
	if found {
		return true
	}
	for _, tr := range expr.Variables() {
		if tr.RootName() != "local" || len(tr) < 2 {
			continue
		}
		name := traverserName(tr[1])
		l, ok := r.Locals[name]
		if !ok || seen[name] {
			continue
		}
		if seen == nil {
			seen = map[string]bool{}
		}
		seen[name] = true
		if r.readsOutside(l.Expr, seen) {
			return true
		}
	}
	return false
}

// readsSensitive reports whether expr reads a secret: a sensitive
// variable, a node's credentials (node.NAME.password, node.NAME.username)
// or an endpoint's url when the nodes have a password.
func (r *Runbook) readsSensitive(expr hcl.Expression) bool {
	for _, tr := range expr.Variables() {
		if len(tr) < 2 {
			continue
		}
		switch tr.RootName() {
		case "var":
			if a, ok := tr[1].(hcl.TraverseAttr); ok && r.sensitive[a.Name] {
				return true
			}
		case "node":
			if len(tr) < 3 {
				continue
			}
			if a := traverserName(tr[2]); a == "password" || a == "username" {
				return true
			}
		case "endpoint":
			if len(tr) < 3 {
				continue
			}
			if traverserName(tr[2]) == "url" && r.anyPassword() {
				return true
			}
		}
	}
	return false
}

// traverserName is the name a traversal step selects: .NAME or ["NAME"].
func traverserName(t hcl.Traverser) string {
	switch t := t.(type) {
	case hcl.TraverseAttr:
		return t.Name
	case hcl.TraverseIndex:
		if t.Key.Type() == cty.String && t.Key.IsKnown() && !t.Key.IsNull() {
			return t.Key.AsString()
		}
	}
	return ""
}

// anyPassword reports whether a node of the runbook sets a password: an
// endpoint's url then carries it.
func (r *Runbook) anyPassword() bool {
	for _, n := range r.Nodes {
		if n.HasPassword {
			return true
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
