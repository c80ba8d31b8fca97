package dsl

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// checkOperandTypes reports operands whose type cannot work with their
// operator once their value is known: an arithmetic or ordering operator
// (+ - * / % < <= > >=, unary -) needs numbers, a logical one (&& || !) and
// the condition of a conditional (c ? a : b) need bools.
//
// At validate time live values are unknown but typed (node.x.role is an
// unknown string, node.x.keys an unknown number, node.x.info.FIELD an
// unknown string), and HCL accepts node.old.role + 1 then, because an
// unknown string converts to an unknown number; when the runbook runs the
// conversion fails. So an operand whose value is unknown and whose type is
// a primitive type other than the one its operator needs is an error here.
// Known values are left to HCL, which checks them itself, and so are
// operands of type cty.DynamicPseudoType (they can be anything) and
// operands that do not evaluate (HCL reports those). An expression that is
// not native HCL syntax is not checked.
func checkOperandTypes(expr hcl.Expression, ctx *hcl.EvalContext) hcl.Diagnostics {
	root, ok := expr.(hclsyntax.Expression)
	if !ok {
		return nil
	}
	var diags hcl.Diagnostics
	check := func(operand hclsyntax.Expression, need cty.Type, what string) {
		if d := checkOperandType(operand, need, what, ctx); d != nil {
			diags = append(diags, d)
		}
	}
	hclsyntax.VisitAll(root, func(n hclsyntax.Node) hcl.Diagnostics {
		switch e := n.(type) {
		case *hclsyntax.BinaryOpExpr:
			if need, sym, ok := binaryOperandType(e.Op); ok {
				what := fmt.Sprintf("the %q operator needs %s", sym, typeArticle(need))
				check(e.LHS, need, what)
				check(e.RHS, need, what)
			}
		case *hclsyntax.UnaryOpExpr:
			switch e.Op {
			case hclsyntax.OpNegate:
				check(e.Val, cty.Number, `the "-" operator needs a number`)
			case hclsyntax.OpLogicalNot:
				check(e.Val, cty.Bool, `the "!" operator needs a bool`)
			}
		case *hclsyntax.ConditionalExpr:
			check(e.Condition, cty.Bool, "the condition of a conditional expression (cond ? a : b) needs a bool")
		}
		return nil
	})
	return diags
}

// binaryOperandType is the type the operands of op must have, and the
// operator as written; ok is false for == and !=, which take anything.
func binaryOperandType(op *hclsyntax.Operation) (need cty.Type, sym string, ok bool) {
	switch op {
	case hclsyntax.OpAdd:
		return cty.Number, "+", true
	case hclsyntax.OpSubtract:
		return cty.Number, "-", true
	case hclsyntax.OpMultiply:
		return cty.Number, "*", true
	case hclsyntax.OpDivide:
		return cty.Number, "/", true
	case hclsyntax.OpModulo:
		return cty.Number, "%", true
	case hclsyntax.OpLessThan:
		return cty.Number, "<", true
	case hclsyntax.OpLessThanOrEqual:
		return cty.Number, "<=", true
	case hclsyntax.OpGreaterThan:
		return cty.Number, ">", true
	case hclsyntax.OpGreaterThanOrEqual:
		return cty.Number, ">=", true
	case hclsyntax.OpLogicalAnd:
		return cty.Bool, "&&", true
	case hclsyntax.OpLogicalOr:
		return cty.Bool, "||", true
	}
	return cty.NilType, "", false
}

// checkOperandType evaluates one operand and returns an error when its
// value is unknown and of a primitive type other than need; what says what
// the operator needs, as the end of a sentence.
func checkOperandType(operand hclsyntax.Expression, need cty.Type, what string, ctx *hcl.EvalContext) *hcl.Diagnostic {
	v, diags := operand.Value(ctx)
	if diags.HasErrors() || v == cty.NilVal {
		return nil
	}
	v, _ = v.UnmarkDeep()
	if v.IsWhollyKnown() {
		return nil
	}
	ty := v.Type()
	if ty.Equals(cty.DynamicPseudoType) || !ty.IsPrimitiveType() || ty.Equals(need) {
		return nil
	}
	src, ok := operandSource(operand)
	subject := "This operand"
	if ok {
		subject = src
	} else {
		src = "..."
	}
	var fate, hint string
	info := readsInfoField(operand)
	switch {
	case ty.Equals(cty.String) && need.Equals(cty.Number):
		fate = "the expression fails then unless the string holds a number"
		if info {
			hint = fmt.Sprintf("INFO fields are strings: convert with tonumber(%s).", src)
		} else {
			hint = fmt.Sprintf("To use it as a number, convert it with tonumber(%s).", src)
		}
	case ty.Equals(cty.String) && need.Equals(cty.Bool):
		fate = `the expression fails then unless the string is "true" or "false"`
		if info {
			hint = fmt.Sprintf(`INFO fields are strings, and their flags are "0" or "1": compare instead, e.g. %s == "1".`, src)
		} else {
			hint = fmt.Sprintf(`Compare it with a string instead, e.g. %s == "...".`, src)
		}
	case ty.Equals(cty.Number) && need.Equals(cty.Bool):
		fate = "a number never converts to a bool"
		hint = fmt.Sprintf("Compare it with a number instead, e.g. %s > 0.", src)
	case ty.Equals(cty.Bool) && need.Equals(cty.Number):
		fate = "a bool never converts to a number"
		hint = fmt.Sprintf("Choose a number with a conditional instead, e.g. %s ? 1 : 0.", src)
	default:
		fate = fmt.Sprintf("%s does not convert to %s", typeArticle(ty), typeArticle(need))
	}
	detail := fmt.Sprintf("%s is %s, known only when the runbook runs, but %s: %s.", subject, typeArticle(ty), what, fate)
	if hint != "" {
		detail += " " + hint
	}
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Incorrect value type",
		Detail:   detail,
		Subject:  operand.Range().Ptr(),
	}
}

// typeArticle is "a string", "a number", "a bool".
func typeArticle(ty cty.Type) string {
	return "a " + ty.FriendlyName()
}

// readsInfoField reports whether e is node.NAME.info.FIELD (or
// node.NAME.info["FIELD"]).
func readsInfoField(e hclsyntax.Expression) bool {
	for {
		p, ok := e.(*hclsyntax.ParenthesesExpr)
		if !ok {
			break
		}
		e = p.Expression
	}
	st, ok := e.(*hclsyntax.ScopeTraversalExpr)
	if !ok || len(st.Traversal) < 4 || st.Traversal.RootName() != "node" {
		return false
	}
	attr, ok := st.Traversal[2].(hcl.TraverseAttr)
	return ok && attr.Name == "info"
}

// operandSource writes an operand back as HCL source, for messages: the
// checker is given an expression, not the file it came from. ok is false
// for forms it does not write (templates, for and splat expressions).
func operandSource(e hclsyntax.Expression) (string, bool) {
	switch e := e.(type) {
	case *hclsyntax.ScopeTraversalExpr:
		return traversalSource(e.Traversal)
	case *hclsyntax.RelativeTraversalExpr:
		src, ok := operandSource(e.Source)
		if !ok {
			return "", false
		}
		rest, ok := traversalSource(e.Traversal)
		return src + rest, ok
	case *hclsyntax.LiteralValueExpr:
		return literalSource(e.Val)
	case *hclsyntax.TemplateExpr:
		var b strings.Builder
		b.WriteByte('"')
		for _, part := range e.Parts {
			if lit, ok := part.(*hclsyntax.LiteralValueExpr); ok && lit.Val.Type().Equals(cty.String) && lit.Val.IsKnown() && !lit.Val.IsNull() {
				q := strconv.Quote(lit.Val.AsString())
				b.WriteString(strings.ReplaceAll(q[1:len(q)-1], "${", "$${"))
				continue
			}
			src, ok := operandSource(part)
			if !ok {
				return "", false
			}
			b.WriteString("${" + src + "}")
		}
		b.WriteByte('"')
		return b.String(), true
	case *hclsyntax.TemplateWrapExpr:
		src, ok := operandSource(e.Wrapped)
		return `"${` + src + `}"`, ok
	case *hclsyntax.ParenthesesExpr:
		src, ok := operandSource(e.Expression)
		return "(" + src + ")", ok
	case *hclsyntax.IndexExpr:
		coll, ok1 := operandSource(e.Collection)
		key, ok2 := operandSource(e.Key)
		return coll + "[" + key + "]", ok1 && ok2
	case *hclsyntax.FunctionCallExpr:
		args := make([]string, len(e.Args))
		for i, a := range e.Args {
			src, ok := operandSource(a)
			if !ok {
				return "", false
			}
			args[i] = src
		}
		s := e.Name + "(" + strings.Join(args, ", ")
		if e.ExpandFinal {
			s += "..."
		}
		return s + ")", true
	case *hclsyntax.UnaryOpExpr:
		src, ok := operandSource(e.Val)
		switch e.Op {
		case hclsyntax.OpNegate:
			return "-" + src, ok
		case hclsyntax.OpLogicalNot:
			return "!" + src, ok
		}
	case *hclsyntax.BinaryOpExpr:
		sym := ""
		switch e.Op {
		case hclsyntax.OpEqual:
			sym = "=="
		case hclsyntax.OpNotEqual:
			sym = "!="
		default:
			_, sym, _ = binaryOperandType(e.Op)
		}
		lhs, ok1 := operandSource(e.LHS)
		rhs, ok2 := operandSource(e.RHS)
		return lhs + " " + sym + " " + rhs, ok1 && ok2 && sym != ""
	case *hclsyntax.ConditionalExpr:
		c, ok1 := operandSource(e.Condition)
		t, ok2 := operandSource(e.TrueResult)
		f, ok3 := operandSource(e.FalseResult)
		return c + " ? " + t + " : " + f, ok1 && ok2 && ok3
	}
	return "", false
}

func traversalSource(tr hcl.Traversal) (string, bool) {
	var b strings.Builder
	for _, step := range tr {
		switch s := step.(type) {
		case hcl.TraverseRoot:
			b.WriteString(s.Name)
		case hcl.TraverseAttr:
			b.WriteString("." + s.Name)
		case hcl.TraverseIndex:
			key, ok := literalSource(s.Key)
			if !ok {
				return "", false
			}
			b.WriteString("[" + key + "]")
		case hcl.TraverseSplat:
			b.WriteString("[*]")
		default:
			return "", false
		}
	}
	return b.String(), true
}

func literalSource(v cty.Value) (string, bool) {
	v, _ = v.Unmark()
	switch {
	case !v.IsKnown():
		return "", false
	case v.IsNull():
		return "null", true
	case v.Type().Equals(cty.String):
		return strconv.Quote(v.AsString()), true
	case v.Type().Equals(cty.Number):
		return v.AsBigFloat().Text('f', -1), true
	case v.Type().Equals(cty.Bool):
		return strconv.FormatBool(v.True()), true
	}
	return "", false
}
