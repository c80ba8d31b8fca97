package dsl

import (
	"fmt"
	"slices"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// Local is one named value of a locals block, known without a server.
type Local struct {
	Name      string
	Expr      hcl.Expression
	DeclRange hcl.Range
}

func (r *Runbook) decodeLocalsBlock(b *hcl.Block) hcl.Diagnostics {
	attrs, diags := b.Body.JustAttributes()
	for name, attr := range attrs {
		if prev, ok := r.Locals[name]; ok {
			diags = append(diags, duplicate("local value", name, attr.NameRange, prev.DeclRange))
			continue
		}
		r.Locals[name] = &Local{Name: name, Expr: attr.Expr, DeclRange: attr.NameRange}
	}
	return diags
}

// evaluateLocals evaluates locals in dependency order; a local may refer to
// variables and other locals, never to live state.
func (r *Runbook) evaluateLocals() hcl.Diagnostics {
	var diags hcl.Diagnostics
	names := mapKeys(r.Locals)
	slices.Sort(names)
	state := map[string]int{} // 0 new, 1 visiting, 2 done
	var visit func(name string, from *hcl.Range)
	visit = func(name string, from *hcl.Range) {
		l, ok := r.Locals[name]
		if !ok {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Reference to undeclared local value",
				Detail:   fmt.Sprintf("No local value named %q is declared.%s", name, suggest(name, names)),
				Subject:  from,
			})
			return
		}
		switch state[name] {
		case 1:
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Cycle in local values",
				Detail:   fmt.Sprintf("Local value %q refers to itself, directly or through other locals.", name),
				Subject:  l.DeclRange.Ptr(),
			})
			return
		case 2:
			return
		}
		state[name] = 1
		for _, tr := range l.Expr.Variables() {
			if tr.RootName() != "local" || len(tr) < 2 {
				continue
			}
			if a, ok := tr[1].(hcl.TraverseAttr); ok {
				visit(a.Name, tr.SourceRange().Ptr())
			}
		}
		diags = append(diags, r.checkStaticRefs(l.Expr, "A local value")...)
		val, vDiags := l.Expr.Value(r.staticContext())
		diags = append(diags, vDiags...)
		if vDiags.HasErrors() {
			val = cty.DynamicVal
		}
		r.locals[name] = val
		state[name] = 2
	}
	for _, n := range names {
		visit(n, nil)
	}
	return diags
}
