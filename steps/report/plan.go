package report

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/understudy/understudy/dsl"
	"github.com/understudy/understudy/steps/redis"
)

// Plan is what a runbook will do, resolved as far as possible without a
// server: static values are shown resolved, live conditions as written.
// Renderers (text, markdown, json) are chosen from the format registry.
type Plan struct {
	Runbook   string         `json:"runbook"`
	Variables []PlanValue    `json:"variables,omitempty"`
	Nodes     []PlanNode     `json:"nodes"`
	Endpoints []PlanEndpoint `json:"endpoints,omitempty"`
	// Sentinels are the Sentinel deployments.
	Sentinels []PlanSentinel `json:"sentinels,omitempty"`
	// Clusters are the Redis Cluster deployments.
	Clusters []PlanCluster `json:"clusters,omitempty"`
	Steps    []PlanStep    `json:"steps"`
	Rollback []PlanStep    `json:"rollback,omitempty"`
	// Workload is the rehearsal's workload; nil without one.
	Workload *PlanWorkload `json:"workload,omitempty"`
	Warnings []string      `json:"warnings,omitempty"`
}

// PlanWorkload is the rehearsal's workload in a plan: the program a
// rehearsal runs through the endpoint from before the first step to after
// the last.
type PlanWorkload struct {
	Source      string `json:"source"` // file:line
	Description string `json:"description,omitempty"`
	Command     string `json:"command"`
	// Env is "NAME = value" per variable, secrets as (sensitive).
	Env         []string `json:"env,omitempty"`
	GracePeriod string   `json:"grace_period"`
}

// PlanValue is a name and its resolved value.
type PlanValue struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// PlanNode is a node in a plan. Secrets are never included.
type PlanNode struct {
	Name      string `json:"name"`
	Address   string `json:"address"`
	Auth      string `json:"auth"`
	Rehearsal string `json:"rehearsal,omitempty"`
}

// PlanEndpoint is an endpoint in a plan.
type PlanEndpoint struct {
	Name        string `json:"name"`
	Target      string `json:"target"`
	Switch      string `json:"switch,omitempty"`
	Connections string `json:"connections"`
}

// PlanSentinel is a Sentinel deployment in a plan: who clients ask for the
// master, and how a rehearsal's sentinels watch it.
type PlanSentinel struct {
	Name       string   `json:"name"`
	MasterName string   `json:"master_name"`
	DataNodes  []string `json:"data_nodes"`
	Sentinels  []string `json:"sentinels"`
	// Rehearsal says how a rehearsal starts it: the master, the replicas,
	// the sentinels' quorum and timeouts; "" without a rehearsal block.
	Rehearsal string `json:"rehearsal,omitempty"`
}

// PlanCluster is a Redis Cluster deployment in a plan: its nodes, whose
// roles are read when the groups start, and the shape a rehearsal builds.
type PlanCluster struct {
	Name  string   `json:"name"`
	Nodes []string `json:"nodes"`
	// Rehearsal is the rehearsal's shape; "" without a rehearsal block.
	Rehearsal string `json:"rehearsal,omitempty"`
	// Mixed is how long the main steps leave the cluster running more
	// than one version, as the walk sees it; nil when they never do, or
	// when the plan knows no versions (no rehearsal block).
	Mixed *PlanMixed `json:"mixed,omitempty"`
}

// PlanMixed is the window in which a cluster runs more than one version.
// Mixed-version clusters have known bugs (redis.CheckClusterPair refuses
// the known ones; the others are untested), so a plan states the window
// for a reviewer to keep short.
type PlanMixed struct {
	// Versions are the versions the cluster runs in the window, oldest
	// first.
	Versions []string `json:"versions"`
	// From is the step after which the cluster first runs two versions
	// (the first upgrade of one of its nodes); To is the step after which
	// it runs one again (the last upgrade), nil when the runbook ends
	// with the cluster mixed.
	From PlanStepRef  `json:"from"`
	To   *PlanStepRef `json:"to,omitempty"`
	// Steps and Failovers are how many steps, and how many of them
	// cluster_failover steps, the window spans, From and To included.
	Steps     int `json:"steps"`
	Failovers int `json:"failovers"`
	// NoReturn is the first cluster_failover that makes a newer node the
	// master of an older one: after it, a node on the old version follows
	// the new master only by partial resync (its point of no return says
	// why); nil when no failover does.
	NoReturn *PlanStepRef `json:"no_return,omitempty"`
	// NoReturnWhy is that step's point of no return.
	NoReturnWhy string `json:"no_return_why,omitempty"`
}

// text is the window in a sentence, each step named by ref: "the cluster
// runs 7.0 and 8.0 from step 2 (upgrade "replica[cache-4]") to step 18
// (...): 17 step(s), 3 failover(s); ...".
func (m *PlanMixed) text(ref func(PlanStepRef) string) string {
	vs := m.Versions
	list := strings.Join(vs, " and ")
	if len(vs) > 2 {
		list = strings.Join(vs[:len(vs)-1], ", ") + " and " + vs[len(vs)-1]
	}
	end := "the end of the runbook, which leaves it mixed"
	if m.To != nil {
		end = ref(*m.To)
	}
	return fmt.Sprintf("the cluster runs %s from %s to %s: %d step(s), %d failover(s); mixed-version clusters have known bugs, keep this window short",
		list, ref(m.From), end, m.Steps, m.Failovers)
}

// noReturnText is the cluster's point of no return in a sentence.
func (m *PlanMixed) noReturnText(ref func(PlanStepRef) string) string {
	return fmt.Sprintf("%s, the first failover to a newer node; %s", ref(*m.NoReturn), m.NoReturnWhy)
}

// PlanStepRef names a step of a plan: its number and `kind "name"`.
type PlanStepRef struct {
	Number int    `json:"number"`
	Ref    string `json:"ref"`
}

// PlanStep is one step in a plan; a report's step carries the same
// description.
type PlanStep struct {
	Number      int    `json:"number"`
	Kind        string `json:"kind"`
	Name        string `json:"name"`
	Source      string `json:"source"` // file:line
	Description string `json:"description,omitempty"`
	Timeout     string `json:"timeout"`
	// Sends is what the step will send or do, from its kind's Describe.
	Sends           []string `json:"sends"`
	Until           string   `json:"until,omitempty"`
	When            string   `json:"when,omitempty"`
	Asserts         []string `json:"asserts,omitempty"`
	OnFailure       string   `json:"on_failure"`
	PointOfNoReturn string   `json:"point_of_no_return,omitempty"`
	// Group says, for an iteration of a group's step, which group and
	// node it repeats for, as a static walk sees them.
	Group string `json:"group,omitempty"`
}

// BuildPlan resolves the runbook into a plan. Each step is described by its
// kind with the versions as the steps before it leave them.
func BuildPlan(rb *dsl.Runbook, name string) *Plan {
	p := &Plan{Runbook: name}
	for _, n := range slices.Sorted(maps.Keys(rb.Variables)) {
		val := "(unknown)"
		if rb.SensitiveVar(n) {
			val = "(sensitive)"
		} else if v, ok := rb.Var(n); ok {
			val = dsl.ShowValue(v)
		}
		p.Variables = append(p.Variables, PlanValue{Name: n, Value: val})
	}
	for _, n := range rb.NodeNames() {
		node := rb.Nodes[n]
		pn := PlanNode{Name: n, Address: node.Address, Auth: "none"}
		if pn.Address == "" {
			pn.Address = "(not resolved: an env() it reads is unset)"
		}
		if node.HasPassword {
			pn.Auth = "password (sensitive)"
			if node.Username != "" {
				pn.Auth = "ACL user (sensitive)"
			}
		}
		if node.Rehearsal != nil {
			pn.Rehearsal = node.Rehearsal.Version.String()
		}
		p.Nodes = append(p.Nodes, pn)
	}
	for _, n := range slices.Sorted(maps.Keys(rb.Endpoints)) {
		e := rb.Endpoints[n]
		pe := PlanEndpoint{Name: n, Target: "node." + e.Target, Connections: e.Connections}
		if len(e.Switch) > 0 {
			pe.Switch = strings.Join(e.Switch, " ")
		}
		p.Endpoints = append(p.Endpoints, pe)
	}
	for _, name := range slices.Sorted(maps.Keys(rb.Sentinels)) {
		p.Sentinels = append(p.Sentinels, planSentinel(rb.Sentinels[name]))
	}
	for _, name := range slices.Sorted(maps.Keys(rb.Clusters)) {
		d := rb.Clusters[name]
		pc := PlanCluster{Name: d.Name, Nodes: d.Nodes}
		if r := d.Rehearsal; r != nil {
			pc.Rehearsal = fmt.Sprintf("%s: %d master(s) × %d replica(s), every slot assigned", r.Version, r.Masters, r.Replicas)
		}
		p.Clusters = append(p.Clusters, pc)
	}
	sim := rb.Sim()
	// versions[i][c] is what the nodes of p.Clusters[c] run after main
	// step i.
	var versions [][][]redis.Version
	walk := func(list []*dsl.Step, out *[]PlanStep, main bool) {
		rb.Walk(list, sim, func(s *dsl.Step) {
			sends := s.Impl.Describe(s, sim)
			s.Impl.Check(s, sim) // advance the walk (and mark an iteration's point of no return); the runbook was checked when loaded
			*out = append(*out, planStep(len(*out)+1, s, sends))
			if main {
				var after [][]redis.Version
				for _, pc := range p.Clusters {
					after = append(after, clusterVersions(sim, rb.Clusters[pc.Name]))
				}
				versions = append(versions, after)
			}
		})
	}
	walk(rb.Steps, &p.Steps, true)
	if rb.Rollback != nil {
		walk(rb.Rollback.Steps, &p.Rollback, false)
	}
	for c := range p.Clusters {
		var after [][]redis.Version
		for _, v := range versions {
			after = append(after, v[c])
		}
		p.Clusters[c].Mixed = mixedWindow(p.Steps, after)
	}
	if w := rehearsalWorkload(rb); w != nil {
		cmd, env := rb.WorkloadText()
		p.Workload = &PlanWorkload{
			Source:  fmt.Sprintf("%s:%d", w.DeclRange.Filename, w.DeclRange.Start.Line),
			Command: cmd, Env: env, Description: w.Description, GracePeriod: w.GracePeriod.String(),
		}
	}
	for _, e := range rb.MissingEnv() {
		p.Warnings = append(p.Warnings, fmt.Sprintf("environment variable %s is not set: apply will need it", e))
	}
	// A rehearsal ignores tls blocks: its containers speak plain TCP.
	p.Warnings = append(p.Warnings, rb.TLSNotes()...)
	p.Warnings = append(p.Warnings, MissingLifecycles(rb)...)
	return p
}

// clusterVersions are the distinct versions (series) the nodes of d run
// in the walk, oldest first; nodes whose version the walk does not know
// are left out.
func clusterVersions(sim *redis.Sim, d *dsl.ClusterDeployment) []redis.Version {
	var out []redis.Version
	for _, n := range d.Nodes {
		if v, ok := sim.Version(n); ok && !slices.Contains(out, v.Series()) {
			out = append(out, v.Series())
		}
	}
	slices.SortFunc(out, olderFirst)
	return out
}

// olderFirst orders versions by number, Redis before Valkey.
func olderFirst(a, b redis.Version) int {
	if a.Engine != b.Engine {
		return strings.Compare(string(a.Engine), string(b.Engine))
	}
	return a.Compare(b)
}

// mixedWindow is the window of steps in which a cluster runs more than
// one version, after[i] being the versions it runs after steps[i]: from
// the first step after which it runs two to the step after which it runs
// one again for good (or the end of the steps); nil when it never runs
// two.
func mixedWindow(steps []PlanStep, after [][]redis.Version) *PlanMixed {
	from, last := -1, -1
	var seen []redis.Version
	for i, vs := range after {
		if len(vs) < 2 {
			continue
		}
		if from < 0 {
			from = i
		}
		last = i
		for _, v := range vs {
			if !slices.Contains(seen, v) {
				seen = append(seen, v)
			}
		}
	}
	if from < 0 {
		return nil
	}
	ref := func(i int) PlanStepRef {
		return PlanStepRef{Number: steps[i].Number, Ref: fmt.Sprintf("%s %q", steps[i].Kind, steps[i].Name)}
	}
	m := &PlanMixed{From: ref(from)}
	if last+1 < len(steps) {
		r := ref(last + 1)
		m.To, last = &r, last+1
	} else {
		last = len(steps) - 1
	}
	for i, s := range steps[from : last+1] {
		m.Steps++
		if s.Kind != clusterFailoverKind {
			continue
		}
		m.Failovers++
		if m.NoReturn == nil && s.PointOfNoReturn != "" {
			r := ref(from + i)
			m.NoReturn, m.NoReturnWhy = &r, s.PointOfNoReturn
		}
	}
	slices.SortFunc(seen, olderFirst)
	for _, v := range seen {
		m.Versions = append(m.Versions, v.String())
	}
	return m
}

// clusterFailoverKind is the step kind that moves a cluster shard's
// master role (steps/kinds/cluster_failover.go).
const clusterFailoverKind = "cluster_failover"

// upgradeKind is the step kind that runs, live, the lifecycle upgrade
// command of its node (steps/kinds/upgrade.go).
const upgradeKind = "upgrade"

// MissingLifecycles lists, one sentence each, the upgrade steps (main and
// rollback) whose node has no lifecycle block: apply cannot run them, so a
// plan warns and apply refuses before its first write. A rehearsal does not
// need the block, so validate accepts such a runbook.
func MissingLifecycles(rb *dsl.Runbook) []string {
	var out []string
	for _, s := range rb.AllSteps() {
		if s.Kind != upgradeKind {
			continue
		}
		name := s.NodeArg("node")
		if n, ok := rb.Nodes[name]; !ok || n.Lifecycle != nil {
			continue
		}
		out = append(out, fmt.Sprintf("step %s (%s:%d) upgrades node %q, which has no lifecycle block: apply will refuse it; give the node lifecycle { upgrade = [...] } (a rehearsal does not need it)",
			s.Ref(), s.DeclRange.Filename, s.DeclRange.Start.Line, name))
	}
	return out
}

func planStep(num int, s *dsl.Step, sends []string) PlanStep {
	rb := s.Runbook()
	ps := PlanStep{
		Number: num, Kind: s.Kind, Name: s.Name, Description: s.Description,
		Source:    fmt.Sprintf("%s:%d", s.DeclRange.Filename, s.DeclRange.Start.Line),
		Timeout:   s.Timeout.String(),
		Sends:     sends,
		OnFailure: s.OnFailure, PointOfNoReturn: s.PointOfNoReturn,
	}
	if it := s.Each; it != nil {
		ps.Group = fmt.Sprintf("group %q, for each of %s: %s (the set is read when the group starts; here as a rehearsal starts)", it.Group.Name, rb.ExprText(it.Group.ForEach), it.Key)
	}
	if s.Until != nil {
		ps.Until = rb.ExprText(s.Until)
	}
	if s.When != nil {
		ps.When = rb.ExprText(s.When)
	}
	for _, a := range s.Asserts {
		text := rb.ExprText(a.Condition)
		if a.Severity == dsl.SeverityWarning {
			text += " (warning only)"
		}
		ps.Asserts = append(ps.Asserts, text)
	}
	return ps
}

func rehearsalWorkload(rb *dsl.Runbook) *dsl.Workload {
	if rb.Rehearsal == nil {
		return nil
	}
	return rb.Rehearsal.Workload
}

func planSentinel(d *dsl.SentinelDeployment) PlanSentinel {
	ps := PlanSentinel{Name: d.Name, MasterName: d.MasterName, DataNodes: d.DataNodes, Sentinels: d.Sentinels}
	if r := d.Rehearsal; r != nil {
		ps.Rehearsal = fmt.Sprintf("%s: master %s, %d replica(s), %d sentinel(s), quorum %d, down-after %s, failover-timeout %s, parallel-syncs %d",
			r.Version, d.DataNodes[0], len(d.DataNodes)-1, len(d.Sentinels), r.Quorum, r.DownAfter, r.FailoverTimeout, r.ParallelSyncs)
	}
	return ps
}
