package apply

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/understudy/understudy/dsl"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// planFormat is the version of the plan file's layout.
const planFormat = 1

// planMagic marks a file as an understudy plan, so that apply can tell a
// saved plan from a runbook.
const planMagic = "understudy-plan"

// Plan is a saved plan: what was reviewed and approved, bound to the runbook
// text and to the live state it was planned against, in the manner of
// Terraform's saved plan files. It holds no secret: sensitive variables are
// named, not stored, and must be given again at apply time.
type Plan struct {
	Magic   string    `json:"magic"`
	Format  int       `json:"format"`
	Version string    `json:"understudy_version"`
	Created time.Time `json:"created"`
	// Runbook is the runbook file, an absolute path.
	Runbook string `json:"runbook"`
	// Files are the SHA-256 of every file the plan read: the runbook and
	// the variable files.
	Files map[string]string `json:"sha256"`
	// VarFiles are the variable files given to plan, in order, absolute.
	VarFiles []string `json:"var_files,omitempty"`
	// Variables are the values of the runbook's variables that are not
	// sensitive; Sensitive names the others.
	Variables map[string]string `json:"variables"`
	Sensitive []string          `json:"sensitive_variables,omitempty"`
	// Nodes are the nodes as they were when the plan was made.
	Nodes []NodeState `json:"nodes"`
	// Steps are the steps the plan showed, in order (kind.name).
	Steps []string `json:"steps"`
}

// NewPlan binds a loaded runbook and the nodes' live state into a plan.
// files are the runbook file and the variable files it was loaded with.
func NewPlan(rb *dsl.Runbook, runbook string, varFiles []string, nodes []NodeState, version string) (*Plan, error) {
	runbook, err := filepath.Abs(runbook)
	if err != nil {
		return nil, fmt.Errorf("plan: %w", err)
	}
	for i, f := range varFiles {
		if varFiles[i], err = filepath.Abs(f); err != nil {
			return nil, fmt.Errorf("plan: %w", err)
		}
	}
	p := &Plan{
		Magic: planMagic, Format: planFormat, Version: version, Created: time.Now().UTC(),
		Runbook: runbook, VarFiles: varFiles, Files: map[string]string{}, Variables: map[string]string{}, Nodes: nodes,
	}
	for _, f := range append([]string{runbook}, varFiles...) {
		sum, err := fileSum(f)
		if err != nil {
			return nil, err
		}
		p.Files[f] = sum
	}
	for _, name := range slices.Sorted(maps.Keys(rb.Variables)) {
		if rb.SensitiveVar(name) {
			p.Sensitive = append(p.Sensitive, name)
			continue
		}
		v, ok := rb.Var(name)
		if !ok || !v.IsWhollyKnown() || v.IsNull() {
			continue
		}
		text, err := convert.Convert(v, cty.String)
		if err != nil {
			return nil, fmt.Errorf("plan: variable %q is %s: a saved plan holds strings, numbers and bools", name, v.Type().FriendlyName())
		}
		p.Variables[name] = text.AsString()
	}
	for _, s := range rb.Steps {
		p.Steps = append(p.Steps, s.Ref())
	}
	return p, nil
}

// FileSums returns the SHA-256 (hex) of each file, by path.
func FileSums(paths ...string) (map[string]string, error) {
	out := map[string]string{}
	for _, p := range paths {
		sum, err := fileSum(p)
		if err != nil {
			return nil, err
		}
		out[p] = sum
	}
	return out, nil
}

func fileSum(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("plan: %w", err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// VarArgs are the plan's variables as NAME=VALUE, for loading the runbook
// again.
func (p *Plan) VarArgs() []string {
	var out []string
	for _, name := range slices.Sorted(maps.Keys(p.Variables)) {
		out = append(out, name+"="+p.Variables[name])
	}
	return out
}

// Save writes the plan to path, readable only by its owner.
func (p *Plan) Save(path string) error {
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return fmt.Errorf("save plan: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("save plan: %w", err)
	}
	return nil
}

// ErrNotPlan is returned by ReadPlan for a file that is not a saved plan
// (a runbook, say).
var ErrNotPlan = errors.New("not an understudy plan file")

// ReadPlan reads a saved plan.
func ReadPlan(path string) (*Plan, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read plan: %w", err)
	}
	var p Plan
	if err := json.Unmarshal(b, &p); err != nil || p.Magic != planMagic {
		return nil, fmt.Errorf("%s: %w", path, ErrNotPlan)
	}
	if p.Format != planFormat {
		return nil, fmt.Errorf("%s: plan format %d, this understudy reads format %d: plan again", path, p.Format, planFormat)
	}
	return &p, nil
}

// IsPlanFile reports whether path holds a saved plan.
func IsPlanFile(path string) bool {
	_, err := ReadPlan(path)
	return err == nil
}

// CheckFiles lists the files that changed since the plan was made.
func (p *Plan) CheckFiles() []string {
	var out []string
	for _, f := range slices.Sorted(maps.Keys(p.Files)) {
		sum, err := fileSum(f)
		switch {
		case err != nil:
			out = append(out, fmt.Sprintf("%s cannot be read: %v", f, errors.Unwrap(err)))
		case sum != p.Files[f]:
			out = append(out, fmt.Sprintf("%s changed since the plan (sha256 %s…, planned %s…)", f, sum[:12], p.Files[f][:12]))
		}
	}
	return out
}
