package kinds

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	goredis "github.com/redis/go-redis/v9"
	"github.com/understudy/understudy/dsl"
	"github.com/understudy/understudy/steps"
	"github.com/understudy/understudy/steps/redis"
	"github.com/understudy/understudy/steps/topology"
	"github.com/zclconf/go-cty/cty"
)

// Upgrade replaces a node's server with another version through the
// topology, keeping its data and address, and checks the version it then
// reports.
type Upgrade struct{}

var upgradeSpec = &dsl.KindSpec{
	Name:           "upgrade",
	Doc:            "Replaces a node's server with another version, keeping its data and address (rehearsal: a new container; live: the node's lifecycle command).",
	DefaultTimeout: 5 * time.Minute,
	Args: []dsl.ArgSpec{
		{Name: "node", Type: dsl.ArgNode, Required: true, Doc: "The node to upgrade."},
		{Name: "version", Type: dsl.ArgVersion, Required: true, Doc: `The version to run: "8.0", "valkey:8.1".`},
	},
}

func (Upgrade) Spec() *dsl.KindSpec { return upgradeSpec }

// Check refuses a version that cannot load the node's data, and, for a
// node of a cluster deployment, a version that would make the cluster run
// a known-bad pair (clusterUpgradeDiags); it marks the point after which
// the old version cannot load the data back.
func (Upgrade) Check(s *dsl.Step, sim *redis.Sim) hcl.Diagnostics {
	var diags hcl.Diagnostics
	node := s.NodeArg("node")
	to := s.Args["version"].Version
	if n := s.Runbook().Nodes[node]; n != nil && n.Sentinel {
		// A sentinel holds no data: only its configuration file.
		sim.SetVersion(node, to)
		return nil
	}
	if d := s.Runbook().ClusterOf(node); d != nil {
		diags = append(diags, clusterUpgradeDiags(s, sim, d, node, to)...)
	}
	if from, ok := sim.Version(node); ok {
		if err := redis.CheckUpgrade(from, to); err != nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Upgrade cannot keep the data",
				Detail:   fmt.Sprintf("Step %s replaces node %q (%s) with %s: %s.", s.Ref(), node, from, to, err),
				Subject:  s.Args["version"].Range.Ptr(),
			})
		} else if redis.CheckUpgrade(to, from) != nil {
			s.PointOfNoReturn = fmt.Sprintf("once %q runs %s it writes RDB version %d, which %s cannot load: going back means restoring a backup", node, to, to.RDBVersion(), from)
		}
	}
	sim.SetVersion(node, to)
	return diags
}

// Describe says what replaces the server: a new container in a rehearsal,
// live the node's lifecycle upgrade command, resolved, and the wait for
// the new version; or that apply refuses the step, the node having no
// lifecycle block. For a node of a cluster, it says first that the other
// nodes' versions are read and checked.
func (Upgrade) Describe(s *dsl.Step, sim *redis.Sim) []string {
	to := s.Args["version"].Version
	rb, name := s.Runbook(), s.NodeArg("node")
	n := rb.Nodes[name]
	keeps := "its data and address"
	if n != nil && n.Sentinel {
		keeps = "its configuration file (its id, the epochs, the replicas and sentinels it knows) and address"
	}
	out := []string{fmt.Sprintf("replaces the server of %s with %s, keeping %s (rehearsal: a new container)", nodeText(s, "node", sim), to, keeps)}
	if d := rb.ClusterOf(name); d != nil {
		out = slices.Insert(out, 0, fmt.Sprintf("first reads the version of every other node of cluster %q (INFO server) and node.%s's master and replicas (CLUSTER NODES): refused, nothing sent, if %s beside them would be a known-bad pair", d.Name, name, to))
	}
	if n == nil || n.Lifecycle == nil {
		return append(out, fmt.Sprintf("live: refused, node.%s has no lifecycle block to upgrade it with (a rehearsal does not need one)", name))
	}
	l := n.Lifecycle
	return append(out, fmt.Sprintf("live: runs the lifecycle upgrade command %s (from the runbook's directory), then waits until node.%s answers PING and reports %s; %s at most for both",
		l.Upgrade.Text(rb, n, to.String()), name, to.Series(), l.Timeout))
}

func (Upgrade) Run(ctx context.Context, x *steps.Exec) (cty.Value, error) {
	n, c, err := x.NodeArg("node")
	if err != nil {
		return cty.NilVal, err
	}
	to := x.Step.Args["version"].Version
	from, err := serverVersion(ctx, c, n.Name())
	if err != nil {
		return cty.NilVal, fmt.Errorf("before the upgrade: %w", err)
	}
	if d := x.Runbook().ClusterOf(n.Name()); d != nil {
		if err := checkLiveCluster(ctx, x, d, n, c, from, to); err != nil {
			return cty.NilVal, err
		}
	}
	if err := n.Upgrade(ctx, to); err != nil {
		return cty.NilVal, fmt.Errorf("upgrade %q %s→%s: %w", n.Name(), from, to, err)
	}
	now, err := serverVersion(ctx, c, n.Name())
	if err != nil {
		return cty.NilVal, fmt.Errorf("after the upgrade: %w", err)
	}
	if now.Engine != to.Engine || now.Series().Compare(to.Series()) != 0 {
		return cty.NilVal, steps.Permanent(steps.ErrorAt(x.Step.Args["version"].Range, "Wrong version after upgrade", "Node %q reports %s after the upgrade, the step asked for %s.", n.Name(), now, to))
	}
	x.Log("%s upgraded %s → %s", n.Name(), from, now)
	return cty.ObjectVal(map[string]cty.Value{
		"from": cty.StringVal(from.String()),
		"to":   cty.StringVal(now.String()),
	}), nil
}

// Resume: done when the node already runs the target version (same engine
// and series); else run again. A node that does not answer (the upgrade
// stopped it) is refused: start it by hand, then resume.
func (Upgrade) Resume(ctx context.Context, x *steps.Exec) (steps.ResumeDecision, cty.Value, error) {
	n, c, err := x.NodeArg("node")
	if err != nil {
		return steps.ResumeRefuse, cty.NilVal, err
	}
	to := x.Step.Args["version"].Version
	now, err := serverVersion(ctx, c, n.Name())
	if err != nil {
		return steps.ResumeRefuse, cty.NilVal, fmt.Errorf("%w (the upgrade may have stopped it: start it by hand, then resume)", err)
	}
	if now.Engine != to.Engine || now.Series().Compare(to.Series()) != 0 {
		return steps.ResumeRun, cty.NilVal, nil
	}
	x.Log("%s already runs %s", n.Name(), now)
	return steps.ResumeDone, cty.ObjectVal(map[string]cty.Value{
		"from": cty.NullVal(cty.String),
		"to":   cty.StringVal(now.String()),
	}), nil
}

// clusterUpgradeDiags is the static walk's check of an upgrade of node, a
// node of cluster d, to version to: an error at the version argument for
// every known-bad pair the node would then form with the other nodes as
// the walk leaves them (redis.CheckClusterPeers: a mixed-version pair with
// a known bug, or a master and replica that cannot replicate). A
// mixed-version pair the cluster already runs before the step was
// reported at the upgrade that brought it in and is not repeated.
func clusterUpgradeDiags(s *dsl.Step, sim *redis.Sim, d *dsl.ClusterDeployment, node string, to redis.Version) hcl.Diagnostics {
	var peers []redis.ClusterPeer
	for _, n := range d.Nodes {
		v, ok := sim.Version(n)
		if n == node || !ok {
			continue
		}
		peers = append(peers, redis.ClusterPeer{Name: n, Version: v, Master: sim.MasterOf(node) == n, Replica: sim.MasterOf(n) == node})
	}
	running := runningBadPairs(sim, d)
	var diags hcl.Diagnostics
	for _, p := range redis.CheckClusterPeers(to, peers) {
		if !p.Replication && running[p.Err.Error()] {
			continue
		}
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  clusterProblemSummary(p),
			Detail:   fmt.Sprintf("Step %s upgrades node %q of cluster %q to %s while %s: %s.", s.Ref(), node, d.Name, to, peersText(p, peers), p.Err),
			Subject:  s.Args["version"].Range.Ptr(),
		})
	}
	return diags
}

// runningBadPairs are the known-bad mixed-version pairs (their refusals)
// that the nodes of d already form in the walk.
func runningBadPairs(sim *redis.Sim, d *dsl.ClusterDeployment) map[string]bool {
	out := map[string]bool{}
	for i, a := range d.Nodes {
		va, ok := sim.Version(a)
		if !ok {
			continue
		}
		for _, b := range d.Nodes[i+1:] {
			if vb, ok := sim.Version(b); ok {
				if err := redis.CheckClusterPair(va, vb); err != nil {
					out[err.Error()] = true
				}
			}
		}
	}
	return out
}

// checkLiveCluster refuses, before anything is sent, the upgrade of node n
// (on from) of cluster d to version to when the node would then form a
// known-bad pair with the other nodes as they run now: each one's version
// from INFO server, and which of them is n's master or replica from n's
// CLUSTER NODES. A node that does not answer is an error too: the
// versions it might run are not known. A master serving slots with a
// replica to fail over to is refused as well (checkServingMaster).
func checkLiveCluster(ctx context.Context, x *steps.Exec, d *dsl.ClusterDeployment, n topology.Node, c *goredis.Client, from, to redis.Version) error {
	self, peers, err := liveClusterPeers(ctx, x, d, n, c)
	if err != nil {
		return fmt.Errorf("before the upgrade, checking the versions of cluster %q: %w", d.Name, err)
	}
	problems := redis.CheckClusterPeers(to, peers)
	if len(problems) == 0 {
		x.Log("cluster %q: the other nodes run %s; %s beside them is no known-bad pair", d.Name, versionsText(peers), to)
		return checkServingMaster(x, d, n, self, peers)
	}
	var why []string
	for _, p := range problems {
		why = append(why, fmt.Sprintf("%s: %s", peersText(p, peers), p.Err))
	}
	return steps.Permanent(steps.ErrorAt(x.Step.Args["version"].Range, clusterProblemSummary(problems[0]),
		"Node %q of cluster %q runs %s; upgrading it to %s now is refused, nothing was changed: %s.", n.Name(), d.Name, from, to, strings.Join(why, "; and ")))
}

// checkServingMaster refuses the upgrade of node n while it is a master
// serving slots and has a replica to fail over to: restarting it would
// take its slots down until it is back (writes to them fail, and a go-redis
// cluster client keeps dialing it until its slot map reloads, up to a
// minute), where a manual failover first moves them without an error. A
// master with no replica can only be upgraded in place: that is logged.
func checkServingMaster(x *steps.Exec, d *dsl.ClusterDeployment, n topology.Node, self redis.ClusterNode, peers []redis.ClusterPeer) error {
	if !self.IsMaster() || self.SlotCount() == 0 {
		return nil
	}
	var replicas []string
	for _, p := range peers {
		if p.Replica {
			replicas = append(replicas, strconv.Quote(p.Name))
		}
	}
	if len(replicas) == 0 {
		x.Log("%s is a master serving %d slot(s) of cluster %q with no replica: its slots are down until it is back", n.Name(), self.SlotCount(), d.Name)
		return nil
	}
	return steps.Permanent(steps.ErrorAt(x.Step.Args["node"].Range, "Master serves slots",
		"Node %q is a master of cluster %q serving %d slot(s), with replica(s) %s: upgrading it now would take those slots down until it is back (writes to them fail, and cluster clients keep dialing it until they reload their slot map), nothing was changed. Fail it over first: cluster_failover { master = node.%s } (or master = each.node in a group), then upgrade it as a replica.",
		n.Name(), d.Name, self.SlotCount(), strings.Join(replicas, ", "), n.Name()))
}

// liveClusterPeers reads the other nodes of cluster d as node n (client c)
// sees them: each one's version (INFO server), and from n's CLUSTER NODES
// whether it is n's master or one of its replicas; and n itself as it sees
// itself.
func liveClusterPeers(ctx context.Context, x *steps.Exec, d *dsl.ClusterDeployment, n topology.Node, c *goredis.Client) (redis.ClusterNode, []redis.ClusterPeer, error) {
	view, err := redis.ReadClusterNodes(ctx, c)
	if err != nil {
		return redis.ClusterNode{}, nil, fmt.Errorf("node %q: %w", n.Name(), err)
	}
	self, ok := redis.ClusterMyself(view)
	if !ok {
		return redis.ClusterNode{}, nil, fmt.Errorf("node %q: CLUSTER NODES has no myself line", n.Name())
	}
	var peers []redis.ClusterPeer
	var failed []error
	for _, name := range d.Nodes {
		if name == n.Name() {
			continue
		}
		pn, pc, err := x.NodeClient(name)
		if err != nil {
			return redis.ClusterNode{}, nil, err
		}
		qctx, cancel := context.WithTimeout(ctx, topology.SentinelQueryTimeout)
		v, err := redis.ServerVersion(qctx, pc)
		cancel()
		if err != nil {
			failed = append(failed, fmt.Errorf("node %q (%s): %w", name, pn.Address(), err))
			continue
		}
		p := redis.ClusterPeer{Name: name, Version: v}
		for _, cn := range view {
			if redis.SameAddr(cn.Addr, pn.Address()) {
				p.Master = self.IsReplica() && cn.ID == self.MasterID
				p.Replica = cn.IsReplica() && cn.MasterID == self.ID
			}
		}
		peers = append(peers, p)
	}
	if len(failed) > 0 {
		return redis.ClusterNode{}, nil, errors.Join(failed...)
	}
	return self, peers, nil
}

// clusterProblemSummary is the diagnostic's title for a problem.
func clusterProblemSummary(p redis.PeerProblem) string {
	if p.Replication {
		return "Versions cannot replicate"
	}
	return "Known-bad mixed-version cluster"
}

// peersText names the peers of a problem and what they run: `node "c-1"
// runs 7.0`, `nodes "c-1", "c-2" and "c-3" run 7.0`, `its master "c-1"
// runs 8.0`, `its replica "c-4" runs 7.0`.
func peersText(p redis.PeerProblem, peers []redis.ClusterPeer) string {
	byName := map[string]redis.ClusterPeer{}
	for _, cp := range peers {
		byName[cp.Name] = cp
	}
	first := byName[p.Peers[0]]
	noun := "node"
	switch {
	case p.Replication && first.Master:
		noun = "its master"
	case p.Replication && first.Replica:
		noun = "its replica"
	}
	quoted := make([]string, len(p.Peers))
	for i, n := range p.Peers {
		quoted[i] = strconv.Quote(n)
	}
	verb, list := "runs", quoted[0]
	if len(quoted) > 1 {
		noun += "s"
		if noun == "nodes" || noun == "its replicas" {
			verb = "run"
		}
		list = strings.Join(quoted[:len(quoted)-1], ", ") + " and " + quoted[len(quoted)-1]
	}
	// Peers grouped under one refusal run the same version.
	return fmt.Sprintf("%s %s %s %s", noun, list, verb, first.Version)
}

// versionsText lists what the peers run: "7.0 (cache-1, cache-2), 8.0
// (cache-4)", newest last.
func versionsText(peers []redis.ClusterPeer) string {
	by := map[string][]string{}
	var vs []redis.Version
	for _, p := range peers {
		k := p.Version.String()
		if _, ok := by[k]; !ok {
			vs = append(vs, p.Version)
		}
		by[k] = append(by[k], p.Name)
	}
	slices.SortStableFunc(vs, func(a, b redis.Version) int { return a.Compare(b) })
	var out []string
	for _, v := range vs {
		out = append(out, fmt.Sprintf("%s (%s)", v, strings.Join(by[v.String()], ", ")))
	}
	return strings.Join(out, ", ")
}
