package dsl

import (
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// typecheckContext is what validate sees of a node: live values unknown
// but typed. It is built here, not taken from the package, so that the test
// depends on checkOperandTypes alone.
func typecheckContext() *hcl.EvalContext {
	return &hcl.EvalContext{
		Variables: map[string]cty.Value{
			"node": cty.ObjectVal(map[string]cty.Value{
				"old": cty.ObjectVal(map[string]cty.Value{
					"name": cty.StringVal("old"),
					"role": cty.UnknownVal(cty.String),
					"keys": cty.UnknownVal(cty.Number),
					"info": cty.UnknownVal(cty.Map(cty.String)),
				}),
			}),
			"step": cty.ObjectVal(map[string]cty.Value{
				"probe": cty.ObjectVal(map[string]cty.Value{
					"output": cty.DynamicVal,
				}),
			}),
			"flag": cty.UnknownVal(cty.Bool),
		},
		Functions: map[string]function.Function{
			"tonumber": stdlib.MakeToFunc(cty.Number),
		},
	}
}

func TestCheckOperandTypes(t *testing.T) {
	for _, tc := range []struct {
		expr string
		// want are substrings of the detail of each error, in order; none
		// when the expression is fine.
		want []string
		// subject is the source text of the first error's subject.
		subject string
	}{
		{expr: `node.old.role + 1`, subject: "node.old.role", want: []string{
			`node.old.role is a string, known only when the runbook runs, but the "+" operator needs a number`,
			"convert it with tonumber(node.old.role)",
		}},
		// An operand that is itself an expression is named as written.
		{expr: `(node.old.keys > 0 ? node.old.role : "x-${node.old.name}") + 1`, subject: `(node.old.keys > 0 ? node.old.role : "x-${node.old.name}")`, want: []string{
			`(node.old.keys > 0 ? node.old.role : "x-${node.old.name}") is a string`,
		}},
		{expr: `node.old.keys + 1`},
		{expr: `node.old.keys > 0 && node.old.role == "master"`},
		{expr: `node.old.info.connected_slaves > 0`, subject: "node.old.info.connected_slaves", want: []string{
			`node.old.info.connected_slaves is a string`,
			`the ">" operator needs a number`,
			"INFO fields are strings: convert with tonumber(node.old.info.connected_slaves).",
		}},
		{expr: `node.old.info["connected_slaves"] >= 1`, subject: `node.old.info["connected_slaves"]`, want: []string{
			"INFO fields are strings: convert with tonumber(node.old.info[\"connected_slaves\"]).",
		}},
		{expr: `tonumber(node.old.info.connected_slaves) > 0`},
		{expr: `!node.old.role`, subject: "node.old.role", want: []string{
			`node.old.role is a string`, `the "!" operator needs a bool`, `node.old.role == "..."`,
		}},
		{expr: `node.old.role ? 1 : 2`, subject: "node.old.role", want: []string{
			"the condition of a conditional expression (cond ? a : b) needs a bool",
		}},
		{expr: `node.old.info.loading ? 1 : 2`, subject: "node.old.info.loading", want: []string{
			`node.old.info.loading == "1"`,
		}},
		{expr: `-node.old.keys`},
		{expr: `-node.old.role`, subject: "node.old.role", want: []string{`the "-" operator needs a number`}},
		{expr: `"a" + 1`},
		{expr: `1 + 2 > 2`},
		// Both operands wrong: one error each, left first.
		{expr: `node.old.role * node.old.info.used_memory`, subject: "node.old.role", want: []string{
			"node.old.role is a string", "node.old.info.used_memory is a string",
		}},
		// A number where a bool is needed.
		{expr: `node.old.keys || flag`, subject: "node.old.keys", want: []string{
			"node.old.keys is a number", `the "||" operator needs a bool`, "node.old.keys > 0",
		}},
		{expr: `flag && node.old.keys > 0`},
		// Nested: the inner + is wrong, the outer > gets a number from it.
		{expr: `(node.old.role + 1) > 0`, subject: "node.old.role", want: []string{`the "+" operator`}},
		// Inside a template and a function call.
		{expr: `"n=${node.old.info.keys_x - 1}"`, subject: "node.old.info.keys_x", want: []string{"tonumber(node.old.info.keys_x)"}},
		{expr: `tonumber(node.old.info.a + 1)`, subject: "node.old.info.a", want: []string{"tonumber(node.old.info.a)"}},
		// Dynamic values can be anything.
		{expr: `step.probe.output + 1`},
		{expr: `step.probe.output.x && true`},
		// Operands that do not evaluate are HCL's to report.
		{expr: `nosuch.var + 1`},
		{expr: `undefined_fn(1) > 0`},
		// == and != take anything.
		{expr: `node.old.role != 1`},
	} {
		t.Run(tc.expr, func(t *testing.T) {
			expr, diags := hclsyntax.ParseExpression([]byte(tc.expr), "test.hcl", hcl.Pos{Line: 1, Column: 1})
			if diags.HasErrors() {
				t.Fatalf("parse: %s", diags.Error())
			}
			got := checkOperandTypes(expr, typecheckContext())
			if len(tc.want) == 0 {
				if len(got) != 0 {
					t.Fatalf("want no diagnostics, got %s", got.Error())
				}
				return
			}
			if len(got) == 0 {
				t.Fatalf("want an error, got none")
			}
			var details []string
			for _, d := range got {
				if d.Severity != hcl.DiagError || d.Summary != "Incorrect value type" {
					t.Errorf("diagnostic %q (severity %v), want the error \"Incorrect value type\"", d.Summary, d.Severity)
				}
				if d.Subject == nil {
					t.Fatalf("diagnostic without a subject: %s", d.Detail)
				}
				if !strings.HasSuffix(d.Detail, ".") {
					t.Errorf("detail is not a sentence: %q", d.Detail)
				}
				details = append(details, d.Detail)
			}
			all := strings.Join(details, "\n")
			at := 0
			for _, w := range tc.want {
				i := strings.Index(all[at:], w)
				if i < 0 {
					t.Fatalf("detail lacks %q (in order):\n%s", w, all)
				}
				at += i
			}
			r := got[0].Subject
			if src := tc.expr[r.Start.Byte:r.End.Byte]; src != tc.subject {
				t.Errorf("subject %q, want %q", src, tc.subject)
			}
		})
	}
}

func TestCheckOperandTypesNotNative(t *testing.T) {
	if d := checkOperandTypes(hcl.StaticExpr(cty.StringVal("x"), hcl.Range{}), typecheckContext()); d != nil {
		t.Errorf("a non-hclsyntax expression: got %s", d.Error())
	}
}
