package dsl

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// Endpoint is where the application connects. In a rehearsal it is a proxy
// that understudy controls; live, the switch command repoints DNS or a load
// balancer.
type Endpoint struct {
	Name        string
	Description string
	// Target is the node the application uses before the first step.
	Target      string
	TargetRange hcl.Range
	// Switch is the live command that repoints the endpoint; the new
	// target's name and address are appended as arguments.
	Switch []string
	// Connections is what a rehearsal's proxy does with the application's
	// open connections when it is repointed: ConnectionsMove (default)
	// moves them to the new node by replaying their handshake, as a
	// Redis-aware proxy does; ConnectionsClose closes them, as a load
	// balancer removing a backend does, and clients reconnect.
	Connections string
	// Address is where the application connects live (a DNS name or a
	// load balancer, host:port): apply's canary writes through it. A
	// rehearsal uses its own proxy's address instead. Empty when not set
	// or when an env() it reads is unset.
	Address   string
	DeclRange hcl.Range
}

// What a rehearsal endpoint does with open connections when repointed.
const (
	ConnectionsMove  = "move"
	ConnectionsClose = "close"
)

func (r *Runbook) decodeEndpointBlock(b *hcl.Block) (*Endpoint, hcl.Diagnostics) {
	e := &Endpoint{Name: b.Labels[0], DeclRange: b.DefRange, Connections: ConnectionsMove}
	var diags hcl.Diagnostics
	if !hclsyntax.ValidIdentifier(e.Name) {
		return nil, append(diags, invalidName("endpoint", e.Name, b.LabelRanges[0]))
	}
	content, cDiags := b.Body.Content(endpointSchema)
	diags = append(diags, cDiags...)
	if attr, ok := content.Attributes["target"]; ok {
		t, tDiags := r.nodeRef(attr.Expr, "The target of an endpoint")
		diags = append(diags, tDiags...)
		e.Target, e.TargetRange = t, attr.Expr.Range()
	}
	if attr, ok := content.Attributes["description"]; ok {
		s, sDiags := r.staticString(attr.Expr, "The description of an endpoint")
		diags = append(diags, sDiags...)
		e.Description = s
	}
	if attr, ok := content.Attributes["address"]; ok {
		a, aDiags := r.staticString(attr.Expr, "The address of an endpoint")
		diags = append(diags, aDiags...)
		e.Address = a
	}
	if attr, ok := content.Attributes["connections"]; ok {
		c, cDiags := r.staticString(attr.Expr, "The connections setting of an endpoint")
		diags = append(diags, cDiags...)
		switch {
		case cDiags.HasErrors():
		case c == ConnectionsMove || c == ConnectionsClose:
			e.Connections = c
		default:
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid connections",
				Detail:   fmt.Sprintf("connections must be %q (move open connections to the new node) or %q (close them, as a load balancer does), not %q.", ConnectionsMove, ConnectionsClose, c),
				Subject:  attr.Expr.Range().Ptr(),
			})
		}
	}
	if attr, ok := content.Attributes["switch"]; ok {
		l, lDiags := r.staticStringList(attr.Expr, "The switch command of an endpoint")
		diags = append(diags, lDiags...)
		e.Switch = l
	}
	return e, diags
}

// staticStringList evaluates a static list of strings.
func (r *Runbook) staticStringList(expr hcl.Expression, what string) ([]string, hcl.Diagnostics) {
	v, diags := r.staticValue(expr, cty.List(cty.String), what)
	if diags.HasErrors() || !v.IsWhollyKnown() || v.IsNull() {
		return nil, diags
	}
	var out []string
	for it := v.ElementIterator(); it.Next(); {
		_, ev := it.Element()
		out = append(out, ev.AsString())
	}
	return out, diags
}
