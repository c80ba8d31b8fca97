package dsl

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
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
	ProbeDB *int
	// DBs are the databases the seed spreads its keys over (databases =
	// [0, 1, 3]), each from 0 to 15, distinct; nil: the seed's default.
	DBs []int
	// Types are what the seed writes (types = ["string", "hash"]), names
	// from LoadOptions.SeedTypes, distinct; nil: everything it can.
	Types []string
	// BigKeys says whether the seed writes its big keys (big_keys); nil:
	// the default, true.
	BigKeys *bool
	// Workload is the application's own program, run through the
	// endpoint for the whole rehearsal; nil: none.
	Workload  *Workload
	DeclRange hcl.Range
}

// Workload is the rehearsal block's workload block: a program (no shell)
// that plays the application against the endpoint for the whole
// rehearsal. It starts once the nodes are seeded and the endpoints and the
// write probe run, before the first step, from the runbook's directory,
// with understudy's environment plus Env; it is stopped after the last
// step (SIGTERM to its process group, then SIGKILL after GracePeriod)
// unless it exited by itself. A workload that exits non-zero (or is ended
// by a signal) by itself fails the rehearsal, and so does one that, when
// stopped, exits with a status other than 0 or that of the SIGTERM: a
// program can judge what it saw when it is stopped.
type Workload struct {
	// Command is a live list of strings: the program and its arguments.
	Command hcl.Expression
	// Env is a live map of strings (EnvType); nil when not set.
	Env hcl.Expression
	// GracePeriod is how long the program gets to exit after SIGTERM
	// before it is killed.
	GracePeriod time.Duration
	Description string
	DeclRange   hcl.Range
}

// DefaultGracePeriod is a workload's grace period unless grace_period
// says otherwise.
const DefaultGracePeriod = 5 * time.Second

// MaxDB is the highest database number the rehearsal settings accept
// (a server's default of 16 databases).
const MaxDB = 15

func (r *Runbook) decodeRehearsalBlock(b *hcl.Block) (*RehearsalSettings, hcl.Diagnostics) {
	s := &RehearsalSettings{DeclRange: b.DefRange}
	content, diags := b.Body.Content(rehearsalSchema)
	for _, attr := range sortedAttributes(content.Attributes) {
		switch attr.Name {
		case "keys", "write_rate", "probe_db":
			diags = append(diags, r.decodeRehearsalNumber(s, attr)...)
		case "databases":
			dbs, dDiags := r.decodeDatabases(attr.Expr)
			diags = append(diags, dDiags...)
			s.DBs = dbs
		case "types":
			types, tDiags := r.decodeSeedTypes(attr.Expr)
			diags = append(diags, tDiags...)
			s.Types = types
		case "big_keys":
			v, vDiags := r.staticValue(attr.Expr, cty.Bool, "The rehearsal's big_keys")
			diags = append(diags, vDiags...)
			if !vDiags.HasErrors() && v.IsKnown() && !v.IsNull() {
				big := v.True()
				s.BigKeys = &big
			}
		}
	}
	for i, wb := range content.Blocks {
		if i > 0 {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Duplicate workload block",
				Detail:   fmt.Sprintf("A rehearsal runs one workload, declared at %s; to run several programs, start them from one script.", content.Blocks[0].DefRange),
				Subject:  wb.DefRange.Ptr(),
			})
			continue
		}
		w, wDiags := r.decodeWorkloadBlock(wb)
		diags = append(diags, wDiags...)
		s.Workload = w
	}
	return s, diags
}

// decodeRehearsalNumber decodes keys, write_rate and probe_db.
func (r *Runbook) decodeRehearsalNumber(s *RehearsalSettings, attr *hcl.Attribute) hcl.Diagnostics {
	var probeDB int
	name, dst := attr.Name, map[string]*int{"keys": &s.Keys, "write_rate": &s.WriteRate, "probe_db": &probeDB}[attr.Name]
	v, diags := r.staticValue(attr.Expr, cty.Number, "The rehearsal's "+name)
	if diags.HasErrors() || !v.IsKnown() || v.IsNull() {
		return diags
	}
	if err := gocty.FromCtyValue(v, dst); err != nil || *dst < 0 || name == "probe_db" && *dst > MaxDB {
		detail := "The rehearsal's " + name + " must be a whole number, zero or more."
		if name == "probe_db" {
			detail = "The rehearsal's probe_db must be a database number from 0 to 15."
		}
		return append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid rehearsal setting",
			Detail:   detail,
			Subject:  attr.Expr.Range().Ptr(),
		})
	}
	if name == "probe_db" {
		s.ProbeDB = &probeDB
	}
	return diags
}

// decodeDatabases reads databases = [0, 1, 3]: distinct database numbers
// from 0 to MaxDB, at least one.
func (r *Runbook) decodeDatabases(expr hcl.Expression) ([]int, hcl.Diagnostics) {
	v, diags := r.staticValue(expr, cty.List(cty.Number), "The rehearsal's databases")
	if diags.HasErrors() || !v.IsWhollyKnown() || v.IsNull() {
		return nil, diags
	}
	if v.LengthInt() == 0 {
		return nil, append(diags, emptyList(expr, "databases", "a database number from 0 to 15, e.g. databases = [0, 1, 3]"))
	}
	var out []int
	for i, e := range v.AsValueSlice() {
		var db int
		if e.IsNull() || gocty.FromCtyValue(e, &db) != nil || db < 0 || db > MaxDB {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid database number",
				Detail:   fmt.Sprintf("The rehearsal's databases must be database numbers from 0 to %d, not %s.", MaxDB, ShowValue(e)),
				Subject:  elemRange(expr, i, v.LengthInt()).Ptr(),
			})
			continue
		}
		if slices.Contains(out, db) {
			diags = append(diags, listedTwice(expr, i, v.LengthInt(), "database", fmt.Sprint(db)))
			continue
		}
		out = append(out, db)
	}
	if diags.HasErrors() {
		return nil, diags
	}
	return out, diags
}

// decodeSeedTypes reads types = ["string", "hash"]: distinct names from the
// seed's list (LoadOptions.SeedTypes), at least one.
func (r *Runbook) decodeSeedTypes(expr hcl.Expression) ([]string, hcl.Diagnostics) {
	v, diags := r.staticValue(expr, cty.List(cty.String), "The rehearsal's types")
	if diags.HasErrors() || !v.IsWhollyKnown() || v.IsNull() {
		return nil, diags
	}
	if v.LengthInt() == 0 {
		hint := "a type"
		if len(r.seedTypes) > 0 {
			hint = "one of " + strings.Join(r.seedTypes, ", ")
		}
		return nil, append(diags, emptyList(expr, "types", hint))
	}
	var out []string
	for i, e := range v.AsValueSlice() {
		name := ""
		if !e.IsNull() {
			name = e.AsString()
		}
		if r.seedTypes != nil && !slices.Contains(r.seedTypes, name) {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Unknown seed type",
				Detail:   fmt.Sprintf("The seed cannot write %q; it writes %s.%s", name, strings.Join(r.seedTypes, ", "), suggest(name, r.seedTypes)),
				Subject:  elemRange(expr, i, v.LengthInt()).Ptr(),
			})
			continue
		}
		if slices.Contains(out, name) {
			diags = append(diags, listedTwice(expr, i, v.LengthInt(), "type", fmt.Sprintf("%q", name)))
			continue
		}
		out = append(out, name)
	}
	if diags.HasErrors() {
		return nil, diags
	}
	return out, diags
}

func emptyList(expr hcl.Expression, name, want string) *hcl.Diagnostic {
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Empty " + name,
		Detail:   fmt.Sprintf("The rehearsal's %s list is empty: give at least %s, or leave the setting out for the default.", name, want),
		Subject:  expr.Range().Ptr(),
	}
}

func listedTwice(expr hcl.Expression, i, n int, what, value string) *hcl.Diagnostic {
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Duplicate " + what,
		Detail:   fmt.Sprintf("The %s %s is listed twice.", what, value),
		Subject:  elemRange(expr, i, n).Ptr(),
	}
}

// elemRange is the range of element i of a list written as a literal of n
// elements ([0, 1, 3]), else the whole expression's.
func elemRange(expr hcl.Expression, i, n int) hcl.Range {
	if t, ok := expr.(*hclsyntax.TupleConsExpr); ok && len(t.Exprs) == n && i < n {
		return t.Exprs[i].Range()
	}
	return expr.Range()
}

// decodeWorkloadBlock decodes rehearsal { workload { ... } }. Its command
// and env are live: checked now with unknown live values, evaluated when
// the workload starts, before the first step, so they cannot read step.*.
func (r *Runbook) decodeWorkloadBlock(b *hcl.Block) (*Workload, hcl.Diagnostics) {
	w := &Workload{DeclRange: b.DefRange, GracePeriod: DefaultGracePeriod}
	content, diags := b.Body.Content(workloadSchema)
	noSteps := map[string]*Step{}
	for _, attr := range sortedAttributes(content.Attributes) {
		switch attr.Name {
		case "command":
			w.Command = attr.Expr
			d := workloadStepRefs(attr.Expr)
			if !d.HasErrors() {
				d = r.checkLive(attr.Expr, cty.List(cty.String), noSteps, "The workload's command")
			}
			diags = append(diags, d...)
			if !d.HasErrors() {
				diags = append(diags, r.checkCommandNotEmpty(attr.Expr)...)
			}
		case "env":
			w.Env = attr.Expr
			diags = append(diags, checkEnvNames(attr.Expr)...)
			d := workloadStepRefs(attr.Expr)
			if !d.HasErrors() {
				d = r.checkLive(attr.Expr, EnvType, noSteps, "The workload's env")
			}
			diags = append(diags, d...)
		case "grace_period":
			d, dDiags := r.staticDuration(attr.Expr, "The workload's grace_period")
			diags = append(diags, dDiags...)
			if d > 0 {
				w.GracePeriod = d
			}
		case "description":
			s, sDiags := r.staticString(attr.Expr, "The description of a workload")
			diags = append(diags, sDiags...)
			w.Description = s
		}
	}
	if w.Command == nil {
		return nil, diags
	}
	return w, diags
}

// workloadStepRefs reports references to steps: the workload starts before
// the first step.
func workloadStepRefs(expr hcl.Expression) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, tr := range expr.Variables() {
		if tr.RootName() == "step" {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Reference to a step in the workload",
				Detail:   "The workload starts before the first step, so it cannot read step.* values; it can read var.*, local.*, node.* and endpoint.*.",
				Subject:  tr.SourceRange().Ptr(),
			})
		}
	}
	return diags
}

// checkCommandNotEmpty reports a command list known to be empty.
func (r *Runbook) checkCommandNotEmpty(expr hcl.Expression) hcl.Diagnostics {
	v, diags := expr.Value(r.EvalContext(EvalState{}))
	if diags.HasErrors() || !v.IsKnown() || v.IsNull() || !v.CanIterateElements() || v.LengthInt() > 0 {
		return nil
	}
	return hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  "Empty command",
		Detail:   `The workload's command list is empty: give the program and its arguments, e.g. ["/usr/bin/python3", "workload.py"].`,
		Subject:  expr.Range().Ptr(),
	}}
}

// WorkloadText describes the workload for validate and plan: its command
// (as ArgText shows a step's) and its env, one "NAME = value" per entry,
// sensitive values as (sensitive).
func (r *Runbook) WorkloadText() (command string, env []string) {
	if r.Rehearsal == nil || r.Rehearsal.Workload == nil {
		return "", nil
	}
	w := r.Rehearsal.Workload
	return r.valueText(w.Command), r.EnvText(w.Env)
}
