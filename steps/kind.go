package steps

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/understudy/understudy/dsl"
	"github.com/zclconf/go-cty/cty"
)

// Kind is everything about one step kind: what the language needs (its
// arguments, static checks and plan description, dsl.Kind) and what it does
// when the step runs. Each kind is one file in package steps/kinds.
type Kind interface {
	dsl.Kind
	// Run does the step's work once (one attempt). Its value is the step's
	// output (step.NAME.output); cty.NilVal means none.
	Run(ctx context.Context, x *Exec) (cty.Value, error)
}

// Registry is a checked set of step kinds. It implements dsl.KindSet, so
// the same kinds are decoded, checked, planned and run.
type Registry struct {
	kinds []Kind
}

// commonSettings are decoded for every kind; no kind may declare an argument
// of the same name.
var commonSettings = []string{"description", "timeout", "until", "when", "on_failure", "retry", "assert"}

// NewRegistry checks every kind and returns their registry. A kind missing a
// part cannot be registered: no spec, no name or documentation, an argument
// without a type or documentation, an enum on a non-string argument, a
// name used twice, an argument that shadows a common setting.
func NewRegistry(kinds ...Kind) (*Registry, error) {
	var errs []error
	seen := map[string]bool{}
	for i, k := range kinds {
		if k == nil {
			errs = append(errs, fmt.Errorf("kind #%d is nil", i+1))
			continue
		}
		spec := k.Spec()
		switch {
		case spec == nil:
			errs = append(errs, fmt.Errorf("kind #%d (%T) has no spec", i+1, k))
			continue
		case !hclsyntax.ValidIdentifier(spec.Name):
			errs = append(errs, fmt.Errorf("kind #%d (%T) has an invalid name %q", i+1, k, spec.Name))
			continue
		case seen[spec.Name]:
			errs = append(errs, fmt.Errorf("kind %q is registered twice", spec.Name))
		case spec.Doc == "":
			errs = append(errs, fmt.Errorf("kind %q has no documentation", spec.Name))
		}
		seen[spec.Name] = true
		args := map[string]bool{}
		for _, a := range spec.Args {
			switch {
			case !hclsyntax.ValidIdentifier(a.Name):
				errs = append(errs, fmt.Errorf("kind %q: argument %q has an invalid name", spec.Name, a.Name))
			case args[a.Name]:
				errs = append(errs, fmt.Errorf("kind %q: argument %q is declared twice", spec.Name, a.Name))
			case slices.Contains(commonSettings, a.Name):
				errs = append(errs, fmt.Errorf("kind %q: argument %q shadows the common setting of that name", spec.Name, a.Name))
			case a.Type == 0:
				errs = append(errs, fmt.Errorf("kind %q: argument %q has no type", spec.Name, a.Name))
			case a.Doc == "":
				errs = append(errs, fmt.Errorf("kind %q: argument %q has no documentation", spec.Name, a.Name))
			case len(a.Enum) > 0 && a.Type != dsl.ArgString:
				errs = append(errs, fmt.Errorf("kind %q: argument %q has an enum but is not a string", spec.Name, a.Name))
			}
			args[a.Name] = true
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("step kinds: %w", err)
	}
	return &Registry{kinds: slices.Clone(kinds)}, nil
}

// MustRegistry is NewRegistry for the package-level registry: a kind
// missing a part is a programming error.
func MustRegistry(kinds ...Kind) *Registry {
	r, err := NewRegistry(kinds...)
	if err != nil {
		panic(err)
	}
	return r
}

// Lookup returns the kind called name, or nil (dsl.KindSet).
func (r *Registry) Lookup(name string) dsl.Kind {
	if k := r.Kind(name); k != nil {
		return k
	}
	return nil
}

// Kind returns the kind called name, or nil.
func (r *Registry) Kind(name string) Kind {
	for _, k := range r.kinds {
		if k.Spec().Name == name {
			return k
		}
	}
	return nil
}

// Names lists the kinds' names, sorted (dsl.KindSet).
func (r *Registry) Names() []string {
	out := make([]string, len(r.kinds))
	for i, k := range r.kinds {
		out[i] = k.Spec().Name
	}
	slices.Sort(out)
	return out
}

// Kinds returns the kinds in registration order (for documentation).
func (r *Registry) Kinds() []Kind { return slices.Clone(r.kinds) }

// ResumeDecision is a kind's answer, when a run that stopped without ending
// (a crash, kill -9) is resumed, to "did the step that was in flight when it
// stopped already take effect?".
type ResumeDecision int

const (
	// ResumeRun runs the step again as if it had not started: running it
	// again is safe in the state found.
	ResumeRun ResumeDecision = iota + 1
	// ResumeDone counts the step's action as done: it took effect before
	// the run stopped, or Resume finished it. The action does not run
	// again; the step's until and asserts are checked as after any run.
	ResumeDone
	// ResumeRefuse stops the run: the state found is not one the step can
	// go on from. The error says what was found.
	ResumeRefuse
)

// String is the decision's name: "run", "done" or "refuse".
func (d ResumeDecision) String() string {
	switch d {
	case ResumeRun:
		return "run"
	case ResumeDone:
		return "done"
	case ResumeRefuse:
		return "refuse"
	}
	return fmt.Sprintf("ResumeDecision(%d)", int(d))
}

// Resumer is the optional part of a Kind that judges, when a run is
// resumed, the step that was in flight when the earlier run stopped: it
// reads the nodes and returns ResumeDone (with the step's output, or
// cty.NilVal), ResumeRun, or ResumeRefuse with an error that says what it
// found. Any error is a refusal. Resume may itself finish what the action
// had begun (a switchover stopped between promoting the new master and
// demoting the old one) before it answers ResumeDone. x.ResumeLog holds
// what the step said in the earlier run before it stopped.
//
// Every kind that changes something implements it: replicate, promote,
// switchover, repoint, upgrade and copy_users judge from the nodes (or run
// again where that is idempotent); command and exec refuse, since
// understudy cannot tell what an arbitrary command or program did. The
// kinds without it are run again: assert, wait and verify only read the
// nodes, so running them again reads the state once more and changes
// nothing.
type Resumer interface {
	Resume(ctx context.Context, x *Exec) (ResumeDecision, cty.Value, error)
}
