package dsl

import (
	"fmt"
	"github.com/agext/levenshtein"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/zclconf/go-cty/cty"
)

// Runbook is a validated runbook: every static value resolved, every live
// expression checked and kept for the interpreter.
type Runbook struct {
	// Files are the parsed sources by file name, for diagnostics snippets.
	Files map[string]*hcl.File
	// Dir is the directory of the first file; file() reads relative to it.
	Dir string

	Variables map[string]*Variable
	Locals    map[string]*Local
	Nodes     map[string]*Node
	Endpoints map[string]*Endpoint
	// Sentinels are the Sentinel deployments (sentinel blocks), by name;
	// their nodes are in Nodes.
	Sentinels map[string]*SentinelDeployment
	// Clusters are the Redis Cluster deployments (cluster blocks), by
	// name; their nodes are in Nodes.
	Clusters  map[string]*ClusterDeployment
	Rehearsal *RehearsalSettings

	// Steps in the order they run; the steps of a group are among them,
	// consecutive, with Group set.
	Steps []*Step
	// Rollback steps, in the order they run after a failure; nil when the
	// runbook has no rollback block.
	Rollback *Rollback

	// values holds the evaluated var.* and local.* values.
	vars   map[string]cty.Value
	locals map[string]cty.Value
	// sensitive names var.* values that must never be printed.
	sensitive map[string]bool
	// envMissing lists env() names that were unset at load time.
	envMissing map[string]bool
	// stepLabels are the names of the main steps, known before decoding.
	stepLabels map[string]bool
	// invalid are the steps that decoded with errors: their kind's Check
	// does not run.
	invalid map[*Step]bool
	mode    Mode
	kinds   KindSet
	// seedTypes are LoadOptions.SeedTypes.
	seedTypes []string
	// group is the group whose steps are being decoded.
	group *Group
}

// Mode says what a runbook is loaded for; it decides how strict env() is.
type Mode int

const (
	// ModeLive (plan, apply): env() of an unset variable without a default
	// is an error.
	ModeLive Mode = iota
	// ModeValidate (validate, fmt, plan without secrets): an unset variable
	// makes the value unknown and is reported as a warning.
	ModeValidate
	// ModeRehearsal: connection settings (address, username, password) are
	// replaced by the rehearsal's containers, so unset env() variables are
	// tolerated like in ModeValidate.
	ModeRehearsal
)

// LoadOptions are the inputs of a runbook besides its files.
type LoadOptions struct {
	// Vars are NAME=VALUE assignments from the command line; they win over
	// VarFiles and defaults.
	Vars []string
	// VarFiles are HCL files of NAME = value attributes.
	VarFiles []string
	Mode     Mode
	// Kinds are the step kinds the runbook may use (steps/kinds.Registry).
	Kinds KindSet
	// SeedTypes are the names a rehearsal block's types may list
	// (steps/dataset.SeedTypes); nil accepts any name.
	SeedTypes []string
}

// Load parses, decodes and validates the runbook files. The diagnostics may
// hold warnings even when the runbook is usable; check HasErrors. The
// runbook is never nil: after errors it holds at least the parsed files, for
// WriteDiagnostics, and must not be run.
func Load(filenames []string, opts LoadOptions) (*Runbook, hcl.Diagnostics) {
	parser := hclparse.NewParser()
	var diags hcl.Diagnostics
	var bodies []*hcl.File
	for _, fn := range filenames {
		src, err := os.ReadFile(fn)
		if err != nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Cannot read runbook",
				Detail:   fmt.Sprintf("Reading %s: %s.", fn, err),
			})
			continue
		}
		f, fDiags := parser.ParseHCL(src, fn)
		diags = append(diags, fDiags...)
		if f != nil {
			bodies = append(bodies, f)
		}
	}
	if diags.HasErrors() {
		// Keep the sources so that diagnostics can show snippets.
		return &Runbook{Files: parser.Files()}, diags
	}
	dir := "."
	if len(filenames) > 0 {
		dir = filepath.Dir(filenames[0])
	}
	r, dDiags := decode(parser.Files(), bodies, dir, opts)
	diags = append(diags, dDiags...)
	return r, diags
}

// LoadSource is Load for a runbook held in memory (tests, fuzzing).
func LoadSource(filename string, src []byte, opts LoadOptions) (*Runbook, hcl.Diagnostics) {
	parser := hclparse.NewParser()
	f, diags := parser.ParseHCL(src, filename)
	if diags.HasErrors() {
		return &Runbook{Files: parser.Files()}, diags
	}
	r, dDiags := decode(parser.Files(), []*hcl.File{f}, filepath.Dir(filename), opts)
	return r, append(diags, dDiags...)
}

func decode(files map[string]*hcl.File, bodies []*hcl.File, dir string, opts LoadOptions) (*Runbook, hcl.Diagnostics) {
	r := &Runbook{
		Files:      files,
		Dir:        dir,
		Variables:  map[string]*Variable{},
		Locals:     map[string]*Local{},
		Nodes:      map[string]*Node{},
		Endpoints:  map[string]*Endpoint{},
		Sentinels:  map[string]*SentinelDeployment{},
		Clusters:   map[string]*ClusterDeployment{},
		vars:       map[string]cty.Value{},
		locals:     map[string]cty.Value{},
		sensitive:  map[string]bool{},
		envMissing: map[string]bool{},
		invalid:    map[*Step]bool{},
		mode:       opts.Mode,
		kinds:      opts.Kinds,
		seedTypes:  opts.SeedTypes,
	}
	if r.kinds == nil {
		r.kinds = noKinds{}
	}
	var diags hcl.Diagnostics

	// Pass 1: structure. Collect the blocks of every file by type.
	var nodeBlocks, endpointBlocks, stepBlocks, localsBlocks []*hcl.Block
	var rollbackBlocks, rehearsalBlocks, sentinelBlocks, clusterBlocks []*hcl.Block
	for _, f := range bodies {
		content, cDiags := f.Body.Content(fileSchema)
		diags = append(diags, cDiags...)
		for _, b := range content.Blocks {
			switch b.Type {
			case blockVariable:
				v, vDiags := decodeVariableBlock(b)
				diags = append(diags, vDiags...)
				if v == nil {
					continue
				}
				if prev, ok := r.Variables[v.Name]; ok {
					diags = append(diags, duplicate("variable", v.Name, b.LabelRanges[0], prev.DeclRange))
					continue
				}
				r.Variables[v.Name] = v
			case blockLocals:
				localsBlocks = append(localsBlocks, b)
			case blockNode:
				nodeBlocks = append(nodeBlocks, b)
			case blockEndpoint:
				endpointBlocks = append(endpointBlocks, b)
			case blockStep, blockGroup:
				stepBlocks = append(stepBlocks, b)
			case blockSentinel:
				sentinelBlocks = append(sentinelBlocks, b)
			case blockCluster:
				clusterBlocks = append(clusterBlocks, b)
			case blockRollback:
				rollbackBlocks = append(rollbackBlocks, b)
			case blockRehearsal:
				rehearsalBlocks = append(rehearsalBlocks, b)
			}
		}
	}

	// Pass 2: values known without a server, in dependency order:
	// variables, then locals, then node and endpoint settings.
	diags = append(diags, r.assignVariables(opts)...)
	for _, b := range localsBlocks {
		diags = append(diags, r.decodeLocalsBlock(b)...)
	}
	diags = append(diags, r.evaluateLocals()...)

	for _, b := range nodeBlocks {
		n, nDiags := r.decodeNodeBlock(b)
		diags = append(diags, nDiags...)
		if n != nil {
			diags = append(diags, addUnique(r.Nodes, "node", n.Name, n, b)...)
		}
	}
	diags = append(diags, r.decodeDeploymentBlocks(sentinelBlocks, clusterBlocks, nodeBlocks, endpointBlocks)...)
	for _, b := range endpointBlocks {
		e, eDiags := r.decodeEndpointBlock(b)
		diags = append(diags, eDiags...)
		if e != nil {
			diags = append(diags, addUnique(r.Endpoints, "endpoint", e.Name, e, b)...)
		}
	}
	switch len(rehearsalBlocks) {
	case 0:
		r.Rehearsal = &RehearsalSettings{}
	default:
		for _, extra := range rehearsalBlocks[1:] {
			diags = append(diags, duplicate("rehearsal", "settings", extra.DefRange, rehearsalBlocks[0].DefRange))
		}
		s, sDiags := r.decodeRehearsalBlock(rehearsalBlocks[0])
		diags = append(diags, sDiags...)
		r.Rehearsal = s
	}

	// Pass 3: steps, whose live expressions are checked against the nodes
	// and the steps before them.
	r.stepLabels = map[string]bool{}
	for _, b := range stepBlocks {
		if b.Type == blockStep {
			r.stepLabels[b.Labels[1]] = true
			continue
		}
		if content, _, _ := b.Body.PartialContent(groupSchema); content != nil {
			for _, sb := range content.Blocks {
				r.stepLabels[sb.Labels[1]] = true
			}
		}
	}
	seen := map[string]*Step{}
	groups := map[string]*Group{}
	for _, b := range stepBlocks {
		if b.Type == blockGroup {
			g, gDiags := r.decodeGroupBlock(b, seen)
			diags = append(diags, gDiags...)
			if g == nil {
				continue
			}
			if prev, ok := groups[g.Name]; ok {
				diags = append(diags, duplicate("group", g.Name, g.NameRange, prev.NameRange))
			}
			groups[g.Name] = g
			r.Steps = append(r.Steps, g.Steps...)
			continue
		}
		s, sDiags := r.decodeStepBlock(b, seen, false)
		diags = append(diags, sDiags...)
		if s == nil {
			continue
		}
		if sDiags.HasErrors() {
			r.invalid[s] = true
		}
		seen[s.Name] = s
		r.Steps = append(r.Steps, s)
	}
	switch len(rollbackBlocks) {
	case 0:
	default:
		for _, extra := range rollbackBlocks[1:] {
			diags = append(diags, duplicate("rollback", "block", extra.DefRange, rollbackBlocks[0].DefRange))
		}
		rb, rDiags := r.decodeRollbackBlock(rollbackBlocks[0], seen)
		diags = append(diags, rDiags...)
		r.Rollback = rb
	}
	diags = append(diags, r.checkSteps()...)
	if len(r.Steps) == 0 && !diags.HasErrors() {
		var rng *hcl.Range
		for _, f := range bodies {
			rr := f.Body.MissingItemRange()
			rng = &rr
			break
		}
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Runbook has no steps",
			Detail:   `A runbook needs at least one step block, for example step "wait" "in_sync" { ... }.`,
			Subject:  rng,
		})
	}
	return r, diags
}

// declared is a block with a declaration range.
type declared interface{ declRange() hcl.Range }

func (n *Node) declRange() hcl.Range     { return n.DeclRange }
func (e *Endpoint) declRange() hcl.Range { return e.DeclRange }

// addUnique adds v under name unless the name is taken, which it reports
// at the block's label.
func addUnique[V declared](m map[string]V, what, name string, v V, b *hcl.Block) hcl.Diagnostics {
	if prev, ok := m[name]; ok {
		return hcl.Diagnostics{duplicate(what, name, b.LabelRanges[0], prev.declRange())}
	}
	m[name] = v
	return nil
}

// duplicate reports a second declaration of the same name at its label.
func duplicate(what, name string, at, prev hcl.Range) *hcl.Diagnostic {
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  fmt.Sprintf("Duplicate %s %q", what, name),
		Detail:   fmt.Sprintf("A %s named %q was already declared at %s. Names must be unique within a runbook.", what, name, prev),
		Subject:  at.Ptr(),
	}
}

// NodeNames returns the node names in sorted order.
func (r *Runbook) NodeNames() []string {
	names := make([]string, 0, len(r.Nodes))
	for n := range r.Nodes {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// DataNodeNames returns the names of the nodes that hold data, sorted:
// every node but the sentinels of a Sentinel deployment.
func (r *Runbook) DataNodeNames() []string {
	var names []string
	for _, n := range r.NodeNames() {
		if !r.Nodes[n].Sentinel {
			names = append(names, n)
		}
	}
	return names
}

// Var returns the value of var.NAME.
func (r *Runbook) Var(name string) (cty.Value, bool) {
	v, ok := r.vars[name]
	return v, ok
}

// SensitiveVar reports whether var.NAME is marked sensitive.
func (r *Runbook) SensitiveVar(name string) bool { return r.sensitive[name] }

// MissingEnv lists the env() variables that were unset at load time.
func (r *Runbook) MissingEnv() []string {
	var out []string
	for k := range r.envMissing {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// AllSteps returns the main steps followed by the rollback steps.
func (r *Runbook) AllSteps() []*Step {
	all := append([]*Step(nil), r.Steps...)
	if r.Rollback != nil {
		all = append(all, r.Rollback.Steps...)
	}
	return all
}

// suggest returns ` Did you mean "x"?` when one of the candidates is close to
// the given name.
func suggest(name string, candidates []string) string {
	best, bestD := "", 3
	for _, c := range candidates {
		if d := levenshtein.Distance(strings.ToLower(name), strings.ToLower(c), nil); d < bestD {
			best, bestD = c, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" Did you mean %q?", best)
}

// noKinds is the KindSet of a Load without kinds: every step is unknown.
type noKinds struct{}

func (noKinds) Lookup(string) Kind { return nil }
func (noKinds) Names() []string    { return nil }
