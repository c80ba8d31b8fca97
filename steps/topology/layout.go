package topology

import (
	"maps"
	"slices"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/understudy/understudy/dsl"
	"github.com/understudy/understudy/steps/redis"
)

// Kind names a kind of deployment.
type Kind string

// The kinds of deployment; see the package documentation for where
// Cluster plugs in.
const (
	KindStandalone Kind = "standalone"
	// KindSentinel is a master with replicas watched by sentinels:
	// clients find the master through the sentinels.
	KindSentinel Kind = "sentinel"
	// KindCluster is a Redis Cluster: masters sharing the hash slots,
	// each with its replicas; clients follow the slots (MOVED).
	KindCluster Kind = "cluster"
)

// Layout is a deployment as the runbook declares it, known without a server.
type Layout struct {
	Kind Kind
	// Nodes are the data nodes. In a Sentinel layout the first one is the
	// master a rehearsal starts with, the others its replicas.
	Nodes     []NodeSpec
	Endpoints []EndpointSpec
	// Sentinel is the Sentinel deployment of a KindSentinel layout.
	Sentinel *SentinelSpec
	// Cluster is the shape of a KindCluster layout.
	Cluster *ClusterSpec
}

// ClusterSpec is the shape of a Redis Cluster a rehearsal builds: the
// first Masters nodes of the layout are the masters, each sharing the
// slots evenly in order, and the next ones their replicas in turn
// (Replicas per master): with 3 × 1, nodes 4, 5 and 6 replicate nodes 1,
// 2 and 3.
type ClusterSpec struct {
	// Name is the deployment's name in the runbook (cluster "NAME").
	Name              string
	Masters, Replicas int
	DeclRange         hcl.Range
	RehearsalDeclared bool
}

// ReplicasOf returns the indexes in Layout.Nodes of the replicas of the
// i-th master.
func (c *ClusterSpec) ReplicasOf(i int) []int {
	var out []int
	for r := range c.Replicas {
		out = append(out, c.Masters+r*c.Masters+i)
	}
	return out
}

// SentinelSpec is a Sentinel deployment: the master name the sentinels
// monitor, the sentinels themselves and the monitoring settings a
// rehearsal starts them with.
type SentinelSpec struct {
	// Name is the deployment's name in the runbook (sentinel "NAME").
	Name       string
	MasterName string
	// Sentinels are the sentinel processes, as nodes of their own.
	Sentinels []NodeSpec
	// Quorum, DownAfter, FailoverTimeout and ParallelSyncs are what a
	// rehearsal's sentinels are configured with (sentinel monitor ...
	// quorum, down-after-milliseconds, failover-timeout, parallel-syncs).
	Quorum          int
	DownAfter       time.Duration
	FailoverTimeout time.Duration
	ParallelSyncs   int
}

// NodeSpec is one declared node.
type NodeSpec struct {
	Name string
	// Version is what a rehearsal runs; Rehearsable is false when the node
	// has no rehearsal block.
	Version     redis.Version
	Rehearsable bool
	// Seed says whether a rehearsal loads test data into the node before
	// the first step.
	Seed      bool
	DeclRange hcl.Range
}

// EndpointSpec is one declared endpoint.
type EndpointSpec struct {
	Name   string
	Target string
	// Connections is what a rehearsal proxy does with open connections
	// when it is repointed (dsl.ConnectionsMove or dsl.ConnectionsClose).
	Connections string
	// Switch is the live command that repoints it.
	Switch []string
}

// Standalone builds the layout of a runbook whose nodes clients reach
// directly or through its endpoints. Nodes and endpoints come sorted by
// name. The seeded nodes are those whose rehearsal block says seed = true;
// where no node says, the endpoints' targets; without endpoints, the first
// node.
func Standalone(rb *dsl.Runbook) *Layout {
	l := &Layout{Kind: KindStandalone}
	anySeed := false
	for _, name := range rb.NodeNames() {
		n := rb.Nodes[name]
		ns := NodeSpec{Name: name, DeclRange: n.DeclRange}
		if n.Rehearsal != nil {
			ns.Version, ns.Rehearsable = n.Rehearsal.Version, true
			if n.Rehearsal.Seed != nil {
				anySeed = true
				ns.Seed = *n.Rehearsal.Seed
			}
		}
		l.Nodes = append(l.Nodes, ns)
	}
	for _, name := range slices.Sorted(maps.Keys(rb.Endpoints)) {
		e := rb.Endpoints[name]
		l.Endpoints = append(l.Endpoints, EndpointSpec{Name: name, Target: e.Target, Connections: e.Connections, Switch: e.Switch})
	}
	if !anySeed {
		for i := range l.Nodes {
			l.Nodes[i].Seed = slices.ContainsFunc(l.Endpoints, func(e EndpointSpec) bool { return e.Target == l.Nodes[i].Name })
		}
		if len(l.Endpoints) == 0 && len(l.Nodes) > 0 {
			l.Nodes[0].Seed = true
		}
	}
	return l
}

// SeedNodes lists the names of the nodes a rehearsal seeds.
func (l *Layout) SeedNodes() []string {
	var out []string
	for _, n := range l.Nodes {
		if n.Seed {
			out = append(out, n.Name)
		}
	}
	return out
}

// NodeNames lists the nodes' names.
func (l *Layout) NodeNames() []string {
	out := make([]string, len(l.Nodes))
	for i, n := range l.Nodes {
		out[i] = n.Name
	}
	return out
}

// For returns the layout of a runbook: a Sentinel or a Cluster layout
// when it declares such a deployment (a runbook declares at most one),
// else a standalone one.
func For(rb *dsl.Runbook) *Layout {
	for _, name := range slices.Sorted(maps.Keys(rb.Sentinels)) {
		return Sentinel(rb, rb.Sentinels[name])
	}
	for _, name := range slices.Sorted(maps.Keys(rb.Clusters)) {
		return Cluster(rb, rb.Clusters[name])
	}
	return Standalone(rb)
}

// Cluster builds the layout of a Redis Cluster: its nodes in the declared
// order (in a rehearsal, masters × (1 + replicas) of them, the masters
// first and seeded) and the shape of its rehearsal block.
func Cluster(rb *dsl.Runbook, d *dsl.ClusterDeployment) *Layout {
	l := &Layout{Kind: KindCluster, Cluster: &ClusterSpec{Name: d.Name, DeclRange: d.DeclRange}}
	for _, name := range d.Nodes {
		l.Nodes = append(l.Nodes, declaredNode(rb, name))
	}
	if r := d.Rehearsal; r != nil {
		l.Cluster.Masters, l.Cluster.Replicas, l.Cluster.RehearsalDeclared = r.Masters, r.Replicas, true
	}
	return l
}

// declaredNode is the spec of the runbook's node called name: the version
// a rehearsal runs and whether it is seeded, from its rehearsal block.
func declaredNode(rb *dsl.Runbook, name string) NodeSpec {
	n := rb.Nodes[name]
	ns := NodeSpec{Name: name, DeclRange: n.DeclRange}
	if n.Rehearsal != nil {
		ns.Version, ns.Rehearsable = n.Rehearsal.Version, true
		ns.Seed = n.Rehearsal.Seed != nil && *n.Rehearsal.Seed
	}
	return ns
}

// Sentinel builds the layout of a Sentinel deployment: its data nodes in
// the declared order (the first one the master a rehearsal starts, and
// the one seeded), its sentinels, and their monitoring settings.
func Sentinel(rb *dsl.Runbook, d *dsl.SentinelDeployment) *Layout {
	l := &Layout{Kind: KindSentinel, Sentinel: &SentinelSpec{Name: d.Name, MasterName: d.MasterName}}
	for _, name := range d.DataNodes {
		l.Nodes = append(l.Nodes, declaredNode(rb, name))
	}
	for _, name := range d.Sentinels {
		l.Sentinel.Sentinels = append(l.Sentinel.Sentinels, declaredNode(rb, name))
	}
	if r := d.Rehearsal; r != nil {
		s := l.Sentinel
		s.Quorum, s.DownAfter, s.FailoverTimeout, s.ParallelSyncs = r.Quorum, r.DownAfter, r.FailoverTimeout, r.ParallelSyncs
	}
	return l
}
