package dsl

import (
	"slices"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/understudy/understudy/steps/redis"
	"github.com/zclconf/go-cty/cty"
)

// Kind is what the language needs from a step kind: its arguments, its
// static checks and what a plan says it will do. The kinds themselves live
// in package steps/kinds, one file each, with what they do at run time; the
// caller of Load passes them in (LoadOptions.Kinds), so this package owns no
// list of kinds.
type Kind interface {
	// Spec declares the kind's name, documentation and arguments.
	Spec() *KindSpec
	// Check runs after the step decoded without errors, in the order the
	// steps run, with sim holding the versions and replication as the
	// steps before would leave them; it advances sim to the state after
	// the step and may set s.PointOfNoReturn.
	Check(s *Step, sim *redis.Sim) hcl.Diagnostics
	// Describe says, for a plan and a report, what the step will send or
	// do, given the state before it. It must not change sim.
	Describe(s *Step, sim *redis.Sim) []string
}

// KindSet is the set of step kinds a runbook may use.
type KindSet interface {
	// Lookup returns the kind called name, or nil.
	Lookup(name string) Kind
	// Names lists the kinds' names, sorted.
	Names() []string
}

// ArgType says how a step argument is resolved.
type ArgType int

const (
	// ArgNode is a reference to a node: replica = node.new.
	ArgNode ArgType = iota + 1
	// ArgEndpoint is a reference to an endpoint: endpoint = endpoint.app.
	ArgEndpoint
	// ArgString, ArgNumber, ArgBool and ArgStringList are static values.
	ArgString
	ArgNumber
	ArgBool
	ArgStringList
	// ArgDuration is a static duration string: "30s".
	ArgDuration
	// ArgVersion is a static version: "8.0", "valkey:8.1".
	ArgVersion
	// ArgLive is an expression evaluated each time the step runs.
	ArgLive
	// ArgNodeList is a list of node references: sentinels = [node.s1,
	// node.s2], or sentinel.NAME.sentinels.
	ArgNodeList
	// ArgDeployment is a reference to a Sentinel deployment:
	// deployment = sentinel.cache.
	ArgDeployment
)

// ArgSpec declares one argument of a step kind.
type ArgSpec struct {
	Name     string
	Type     ArgType
	Required bool
	// LiveType is the type an ArgLive expression must convert to.
	LiveType cty.Type
	// Enum lists the allowed values of an ArgString.
	Enum []string
	Doc  string
}

// KindSpec declares a step kind's name and arguments.
type KindSpec struct {
	Name string
	Doc  string
	Args []ArgSpec
	// DefaultTimeout replaces DefaultTimeout for this kind.
	DefaultTimeout time.Duration
	// NeedsUntil: the kind is pointless without an until condition.
	NeedsUntil bool
}

func (k *KindSpec) schema() *hcl.BodySchema {
	s := &hcl.BodySchema{}
	for _, a := range k.Args {
		s.Attributes = append(s.Attributes, hcl.AttributeSchema{Name: a.Name, Required: a.Required})
	}
	return s
}

// Switchover methods (the switchover kind's method argument).
const (
	SwitchAuto     = "auto"
	SwitchPause    = "pause"
	SwitchFailover = "failover"
)

// Verify methods (the verify kind's method argument).
const (
	VerifyAuto   = "auto"
	VerifyDigest = "digest"
	VerifyScan   = "scan"
)

// CheckTwoNodes reports a step whose arguments a and b name the same node.
func CheckTwoNodes(s *Step, a, b string) hcl.Diagnostics {
	if s.NodeArg(a) != "" && s.NodeArg(a) == s.NodeArg(b) {
		return hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Same node twice",
			Detail:   "The arguments " + a + " and " + b + " of a " + s.Kind + " step must name two different nodes.",
			Subject:  s.Args[b].Range.Ptr(),
		}}
	}
	return nil
}

// Sim starts the static walk of the runbook's nodes: their rehearsal
// versions, no replication.
func (r *Runbook) Sim() *redis.Sim {
	ver := map[string]redis.Version{}
	for name, n := range r.Nodes {
		if n.Rehearsal != nil {
			ver[name] = n.Rehearsal.Version
		}
	}
	sim := redis.NewSim(ver)
	// A cluster starts with its first nodes as the masters and the next
	// ones replicating them in turn.
	for _, d := range r.Clusters {
		m := len(d.Nodes)
		if d.Rehearsal != nil {
			m = min(d.Rehearsal.Masters, len(d.Nodes))
		}
		for i, n := range d.Nodes {
			if i >= m && m > 0 {
				sim.Follow(n, d.Nodes[(i-m)%m])
			}
		}
	}
	// A Sentinel deployment starts with its first data node as the master
	// and the others replicating it.
	for _, d := range r.Sentinels {
		for _, n := range d.DataNodes[min(1, len(d.DataNodes)):] {
			sim.Follow(n, d.DataNodes[0])
		}
	}
	return sim
}

// checkSteps walks the main steps in order with each kind's Check, then the
// rollback steps from where the main steps leave the deployment.
func (r *Runbook) checkSteps() hcl.Diagnostics {
	var diags hcl.Diagnostics
	sim := r.Sim()
	seen := map[*Step]bool{}
	check := func(s *Step) {
		if r.invalid[s.Decl()] {
			return
		}
		seen[s.Decl()] = true
		for _, d := range s.Impl.Check(s, sim) {
			if !slices.ContainsFunc(diags, func(e *hcl.Diagnostic) bool { return sameDiag(d, e) }) {
				diags = append(diags, d)
			}
		}
	}
	r.Walk(r.Steps, sim, check)
	if r.Rollback != nil {
		r.Walk(r.Rollback.Steps, sim, check)
	}
	// A group the static walk does not enter (no member in a rehearsal)
	// still has its steps checked once, unbound.
	for _, s := range r.AllSteps() {
		if !seen[s] && !r.invalid[s] {
			for _, d := range s.Impl.Check(s, redis.NewSim(nil)) {
				if !slices.ContainsFunc(diags, func(e *hcl.Diagnostic) bool { return sameDiag(d, e) }) {
					diags = append(diags, d)
				}
			}
		}
	}
	return diags
}

// sameDiag reports a diagnostic repeated by several iterations of a group.
func sameDiag(a, b *hcl.Diagnostic) bool {
	return a.Severity == b.Severity && a.Summary == b.Summary && a.Detail == b.Detail && a.Subject != nil && b.Subject != nil && *a.Subject == *b.Subject
}
