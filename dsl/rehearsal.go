package dsl

import (
	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/gocty"
)

// RehearsalSettings is the optional top-level rehearsal block: how much data
// to seed and how fast the probe writes. Command-line flags win over it.
type RehearsalSettings struct {
	Keys      int // 0: the default
	WriteRate int // writes per second; 0: the default
	// ProbeDB is the database the write probe writes; nil: the default
	// (db0, where applications write).
	ProbeDB   *int
	DeclRange hcl.Range
}

func (r *Runbook) decodeRehearsalBlock(b *hcl.Block) (*RehearsalSettings, hcl.Diagnostics) {
	s := &RehearsalSettings{DeclRange: b.DefRange}
	content, diags := b.Body.Content(rehearsalSchema)
	for _, attr := range sortedAttributes(content.Attributes) {
		var probeDB int
		name, dst := attr.Name, map[string]*int{"keys": &s.Keys, "write_rate": &s.WriteRate, "probe_db": &probeDB}[attr.Name]
		v, vDiags := r.staticValue(attr.Expr, cty.Number, "The rehearsal's "+name)
		diags = append(diags, vDiags...)
		if vDiags.HasErrors() || !v.IsKnown() || v.IsNull() {
			continue
		}
		if err := gocty.FromCtyValue(v, dst); err != nil || *dst < 0 || name == "probe_db" && *dst > 15 {
			detail := "The rehearsal's " + name + " must be a whole number, zero or more."
			if name == "probe_db" {
				detail = "The rehearsal's probe_db must be a database number from 0 to 15."
			}
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid rehearsal setting",
				Detail:   detail,
				Subject:  attr.Expr.Range().Ptr(),
			})
			continue
		}
		if name == "probe_db" {
			s.ProbeDB = &probeDB
		}
	}
	return s, diags
}
