package dsl

import "github.com/hashicorp/hcl/v2"

// Rollback is the rollback block: steps run in order after a failure of a
// main step whose on_failure is "rollback".
type Rollback struct {
	Steps     []*Step
	DeclRange hcl.Range
}

func (r *Runbook) decodeRollbackBlock(b *hcl.Block, mainSteps map[string]*Step) (*Rollback, hcl.Diagnostics) {
	rb := &Rollback{DeclRange: b.DefRange}
	content, diags := b.Body.Content(rollbackSchema)
	// A rollback step may read the outputs of every main step (those that
	// did not run are unknown) and of the rollback steps before it.
	before := map[string]*Step{}
	for k, v := range mainSteps {
		before[k] = v
	}
	r.Rollback = rb
	for _, sb := range content.Blocks {
		s, sDiags := r.decodeStepBlock(sb, before, true)
		diags = append(diags, sDiags...)
		if s == nil {
			continue
		}
		if sDiags.HasErrors() {
			r.invalid[s] = true
		}
		if s.OnFailure == "rollback" {
			s.OnFailure = "abort"
		}
		before[s.Name] = s
		rb.Steps = append(rb.Steps, s)
	}
	if len(rb.Steps) == 0 {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagWarning,
			Summary:  "Empty rollback block",
			Detail:   "The rollback block has no steps, so a failure ends the run without undoing anything.",
			Subject:  b.DefRange.Ptr(),
		})
	}
	return rb, diags
}
