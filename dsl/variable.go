package dsl

import (
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// Variable is an input of the runbook: `variable "from" { default = "7.0" }`.
type Variable struct {
	Name        string
	Description string
	Type        cty.Type
	Default     cty.Value // cty.NilVal when the variable is required
	Sensitive   bool
	DeclRange   hcl.Range
}

func decodeVariableBlock(b *hcl.Block) (*Variable, hcl.Diagnostics) {
	v := &Variable{Name: b.Labels[0], Type: cty.DynamicPseudoType, DeclRange: b.DefRange}
	var diags hcl.Diagnostics
	if !hclsyntax.ValidIdentifier(v.Name) {
		diags = append(diags, invalidName("variable", v.Name, b.LabelRanges[0]))
		return nil, diags
	}
	content, cDiags := b.Body.Content(variableSchema)
	diags = append(diags, cDiags...)
	if attr, ok := content.Attributes["type"]; ok {
		ty, tDiags := typeexpr.TypeConstraint(attr.Expr)
		diags = append(diags, tDiags...)
		if !tDiags.HasErrors() {
			v.Type = ty
		}
	}
	if attr, ok := content.Attributes["description"]; ok {
		diags = append(diags, gohcl.DecodeExpression(attr.Expr, nil, &v.Description)...)
	}
	if attr, ok := content.Attributes["sensitive"]; ok {
		diags = append(diags, gohcl.DecodeExpression(attr.Expr, nil, &v.Sensitive)...)
	}
	if attr, ok := content.Attributes["default"]; ok {
		val, vDiags := attr.Expr.Value(nil)
		diags = append(diags, vDiags...)
		if !vDiags.HasErrors() {
			conv, err := convert.Convert(val, v.Type)
			if err != nil {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Invalid default value for variable",
					Detail:   fmt.Sprintf("The default of variable %q does not match its type: %s.", v.Name, err),
					Subject:  attr.Expr.Range().Ptr(),
				})
			} else {
				v.Default = conv
			}
		}
	}
	return v, diags
}

// assignVariables resolves every variable from (in order of precedence)
// --var, --var-file and the default.
func (r *Runbook) assignVariables(opts LoadOptions) hcl.Diagnostics {
	var diags hcl.Diagnostics
	given := map[string]cty.Value{}
	givenRange := map[string]*hcl.Range{}

	for _, fn := range opts.VarFiles {
		src, err := os.ReadFile(fn)
		if err != nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Cannot read variables file",
				Detail:   fmt.Sprintf("Reading %s: %s.", fn, err),
			})
			continue
		}
		f, pDiags := hclsyntax.ParseConfig(src, fn, hcl.InitialPos)
		diags = append(diags, pDiags...)
		if pDiags.HasErrors() {
			continue
		}
		r.Files[fn] = f
		attrs, aDiags := f.Body.JustAttributes()
		diags = append(diags, aDiags...)
		for name, attr := range attrs {
			val, vDiags := attr.Expr.Value(nil)
			diags = append(diags, vDiags...)
			if vDiags.HasErrors() {
				continue
			}
			given[name] = val
			givenRange[name] = attr.NameRange.Ptr()
		}
	}
	for _, kv := range opts.Vars {
		name, raw, ok := strings.Cut(kv, "=")
		if !ok || name == "" {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid --var option",
				Detail:   fmt.Sprintf("The option %q must be written NAME=VALUE, for example --var to=8.0.", kv),
			})
			continue
		}
		given[name] = cty.StringVal(raw)
		givenRange[name] = nil
	}

	for name, val := range given {
		v, ok := r.Variables[name]
		if !ok {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Value for undeclared variable",
				Detail:   fmt.Sprintf("A value was given for variable %q, which the runbook does not declare.%s", name, suggest(name, mapKeys(r.Variables))),
				Subject:  givenRange[name],
			})
			continue
		}
		conv, err := convert.Convert(val, v.Type)
		if err != nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid value for variable",
				Detail:   fmt.Sprintf("The value given for variable %q does not match its type: %s.", name, err),
				Subject:  givenRange[name],
			})
			continue
		}
		r.vars[name] = conv
	}
	for name, v := range r.Variables {
		if v.Sensitive {
			r.sensitive[name] = true
		}
		if _, ok := r.vars[name]; ok {
			continue
		}
		if v.Default == cty.NilVal {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "No value for required variable",
				Detail:   fmt.Sprintf("Variable %q has no default: give it with --var %s=VALUE or in a --var-file.", name, name),
				Subject:  v.DeclRange.Ptr(),
			})
			r.vars[name] = cty.UnknownVal(v.Type)
			continue
		}
		r.vars[name] = v.Default
	}
	return diags
}

func invalidName(what, name string, rng hcl.Range) *hcl.Diagnostic {
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  fmt.Sprintf("Invalid %s name", what),
		Detail:   fmt.Sprintf("%q is not a valid name: a name starts with a letter or underscore and holds only letters, digits, underscores and dashes.", name),
		Subject:  rng.Ptr(),
	}
}

func mapKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}

// Secrets lists the secret values of the runbook: node passwords and the
// strings held by sensitive variables, for redaction (package redact).
func (r *Runbook) Secrets() []string {
	var out []string
	for _, name := range r.NodeNames() {
		if p := r.Nodes[name].Password; p != "" {
			out = append(out, p)
		}
	}
	for name := range r.sensitive {
		v, ok := r.vars[name]
		if !ok {
			continue
		}
		_ = cty.Walk(v, func(_ cty.Path, e cty.Value) (bool, error) {
			if e.IsKnown() && !e.IsNull() && e.Type() == cty.String {
				out = append(out, e.AsString())
			}
			return true, nil
		})
	}
	return out
}
