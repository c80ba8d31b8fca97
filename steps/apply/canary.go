package apply

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/understudy/understudy/dsl"
	"github.com/understudy/understudy/steps"
	"github.com/understudy/understudy/steps/live"
	"github.com/understudy/understudy/steps/redis"
	"github.com/understudy/understudy/steps/report"
	"github.com/understudy/understudy/steps/topology"
	"github.com/understudy/understudy/steps/traffic"
)

// sentinelAgreeTimeout bounds the wait, when a Sentinel canary ends, until
// every sentinel names the same master: the sentinel that led a failover
// learns the new master up to about a second before the others. A
// variable for the tests of the cases where they never agree.
var sentinelAgreeTimeout = 10 * time.Second

// Bounds of the questions to the sentinels when a Sentinel canary ends.
const (
	// sentinelPoll is how often the sentinels are asked again while they
	// do not all name the same master.
	sentinelPoll = 100 * time.Millisecond
)

// canary is the low-rate writer of an apply: it writes where the
// application writes, and at the end its acknowledged writes are read back
// from the final master.
type canary struct {
	w      *traffic.Writer
	prefix string
	rate   int
	target *canaryTarget
}

// canaryTarget is where the canary writes: how it connects, with the
// application's credentials, and how the node it writes to at the end is
// found.
type canaryTarget struct {
	// conn holds the connection options of traffic.Options: Addr or
	// Sentinel, Username, Password, TLSConfig.
	conn traffic.Options
	// via says where, for the log.
	via string
	// final finds the final master.
	final func(ctx context.Context) (master, error)
}

// master is the node a canary's writes are read back from, or for a
// cluster the masters they are on.
type master struct {
	name   string
	client *goredis.Client
	// cluster names the Redis Cluster the canary wrote to; then client is
	// nil, the writes are read back through a cluster client
	// (traffic.Writer.VerifyCluster) and masters are every node that is a
	// master at the end, where the canary's keys are removed.
	cluster string
	masters []Node
	// doubts are problems that fail the apply although the writes could
	// be read back: a sentinel that did not say which node is the master.
	doubts []string
	// warnings are said in the log: a master of the cluster that is not
	// a node of the runbook, whose canary keys stay.
	warnings []string
}

// where names the final master(s) for the log and the report.
func (m master) where() string {
	if m.cluster == "" {
		return strconv.Quote(m.name)
	}
	names := make([]string, len(m.masters))
	for i, n := range m.masters {
		names[i] = strconv.Quote(n.Name)
	}
	if len(names) == 0 {
		return fmt.Sprintf("the masters of cluster %q", m.cluster)
	}
	return fmt.Sprintf("the masters of cluster %q (%s)", m.cluster, strings.Join(names, ", "))
}

// startCanary starts the canary where the application writes
// (canaryTargetOf), at the options' rate on keys of its own. A runbook
// with no such target has no canary: nil, said in the log by the caller.
func startCanary(ctx context.Context, rb *dsl.Runbook, t topology.Topology, o Options, origin time.Time) (*canary, error) {
	if o.CanaryRate < 0 {
		return nil, nil
	}
	target, err := canaryTargetOf(rb, t)
	if target == nil || err != nil {
		return nil, err
	}
	rate := o.CanaryRate
	if rate == 0 {
		rate = DefaultCanaryRate
	}
	prefix := fmt.Sprintf("%s%d:", CanaryPrefix, origin.UnixNano())
	opts := target.conn
	opts.Prefix, opts.Rate, opts.Workers, opts.Origin, opts.MaxDuration = prefix, rate, 2, origin, 24*time.Hour
	w, err := traffic.Start(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("start the canary through %s: %w", target.via, err)
	}
	return &canary{w: w, prefix: prefix, rate: rate, target: target}, nil
}

// canaryTargetOf is where the application writes: the first endpoint
// that declares the application's address, else the master of the
// runbook's Sentinel deployment, found through the sentinels, else the
// runbook's Redis Cluster through a cluster client (a runbook declares at
// most one deployment, and then no endpoint); nil when it has none.
func canaryTargetOf(rb *dsl.Runbook, t topology.Topology) (*canaryTarget, error) {
	for _, name := range slices.Sorted(maps.Keys(rb.Endpoints)) {
		if ep := rb.Endpoints[name]; ep.Address != "" {
			return endpointTarget(rb, t, ep)
		}
	}
	if names := slices.Sorted(maps.Keys(rb.Sentinels)); len(names) > 0 {
		return sentinelTarget(rb, t, rb.Sentinels[names[0]])
	}
	if names := slices.Sorted(maps.Keys(rb.Clusters)); len(names) > 0 {
		return clusterTarget(rb, t, rb.Clusters[names[0]])
	}
	return nil, nil
}

// endpointTarget writes through the endpoint's address; the final master
// is the endpoint's final target (endpointMaster).
func endpointTarget(rb *dsl.Runbook, t topology.Topology, ep *dsl.Endpoint) (*canaryTarget, error) {
	target, ok := rb.Nodes[ep.Target]
	if !ok {
		return nil, fmt.Errorf("canary: endpoint %q targets no node", ep.Name)
	}
	// The application reaches the target node through the endpoint as it
	// would reach the node: with its credentials and its TLS settings.
	tc, err := live.TLSConfig(target)
	if err != nil {
		return nil, fmt.Errorf("canary: %w", err)
	}
	return &canaryTarget{
		conn: traffic.Options{Addr: ep.Address, Username: target.Username, Password: target.Password, TLSConfig: tc},
		via:  fmt.Sprintf("endpoint %q at %s", ep.Name, ep.Address),
		final: func(ctx context.Context) (master, error) {
			e, err := t.Endpoint(ep.Name)
			if err != nil {
				return master{name: ep.Target}, err
			}
			return endpointMaster(ctx, t, rb.DataNodeNames(), e.Target())
		},
	}, nil
}

// sentinelTarget writes to the master of a Sentinel deployment as the
// deployment's applications do: go-redis's failover client asks the
// sentinels (with the sentinels' credentials) and follows +switch-master,
// and reaches the master with the data nodes' credentials. The final
// master is the data node the sentinels name (sentinelMaster).
func sentinelTarget(rb *dsl.Runbook, t topology.Topology, d *dsl.SentinelDeployment) (*canaryTarget, error) {
	if len(d.DataNodes) == 0 || len(d.Sentinels) == 0 {
		return nil, fmt.Errorf("canary: Sentinel deployment %q has no data node or no sentinel", d.Name)
	}
	// Every data node, and every sentinel, has the block's credentials.
	data, sentinel := rb.Nodes[d.DataNodes[0]], rb.Nodes[d.Sentinels[0]]
	if data == nil || sentinel == nil {
		return nil, fmt.Errorf("canary: Sentinel deployment %q: its nodes are not in the runbook", d.Name)
	}
	tc, err := live.TLSConfig(data)
	if err != nil {
		return nil, fmt.Errorf("canary: %w", err)
	}
	st := &traffic.SentinelTarget{MasterName: d.MasterName, Username: sentinel.Username, Password: sentinel.Password}
	for _, name := range d.Sentinels {
		n, err := t.Node(name)
		if err != nil {
			return nil, fmt.Errorf("canary: %w", err)
		}
		st.Addrs = append(st.Addrs, n.Address())
	}
	return &canaryTarget{
		conn: traffic.Options{Sentinel: st, Username: data.Username, Password: data.Password, TLSConfig: tc},
		via:  fmt.Sprintf("Sentinel (master %q from sentinels %s)", d.MasterName, strings.Join(st.Addrs, ", ")),
		final: func(ctx context.Context) (master, error) {
			return sentinelMaster(ctx, t, d)
		},
	}, nil
}

// clusterTarget writes to a Redis Cluster as its applications do:
// go-redis's cluster client, seeded with every node of the cluster block
// and with the block's credentials, follows MOVED and reloads the slots
// after a failover. The canary's keys (a prefix without a hash tag and a
// number) spread over every slot, so over every master. At the end they
// are read back through a new cluster client and removed from every node
// that is a master then (clusterMasters).
func clusterTarget(rb *dsl.Runbook, t topology.Topology, d *dsl.ClusterDeployment) (*canaryTarget, error) {
	if len(d.Nodes) == 0 {
		return nil, fmt.Errorf("canary: cluster %q has no node", d.Name)
	}
	// Every node has the block's credentials and TLS settings.
	first := rb.Nodes[d.Nodes[0]]
	if first == nil {
		return nil, fmt.Errorf("canary: cluster %q: its nodes are not in the runbook", d.Name)
	}
	tc, err := live.TLSConfig(first)
	if err != nil {
		return nil, fmt.Errorf("canary: %w", err)
	}
	ct := &traffic.ClusterTarget{Username: first.Username, Password: first.Password}
	for _, name := range d.Nodes {
		n, err := t.Node(name)
		if err != nil {
			return nil, fmt.Errorf("canary: %w", err)
		}
		ct.Addrs = append(ct.Addrs, n.Address())
	}
	return &canaryTarget{
		conn: traffic.Options{Cluster: ct, Username: first.Username, Password: first.Password, TLSConfig: tc},
		via:  fmt.Sprintf("cluster %q (a cluster client seeded with %s)", d.Name, strings.Join(ct.Addrs, ", ")),
		final: func(ctx context.Context) (master, error) {
			return clusterMasters(ctx, t, d)
		},
	}, nil
}

// clusterMasters are the nodes of cluster d that are masters now, as the
// first node that answers CLUSTER NODES sees them, in the declared order.
// A master there that is none of d's nodes is a warning: the canary's
// keys on it are not removed.
func clusterMasters(ctx context.Context, t topology.Topology, d *dsl.ClusterDeployment) (master, error) {
	m := master{cluster: d.Name}
	var failed []error
	for _, name := range d.Nodes {
		n, c, err := topology.NodeClient(t, name)
		if err != nil {
			return m, err
		}
		view, err := redis.ReadClusterNodes(ctx, c)
		if err != nil {
			failed = append(failed, fmt.Errorf("node %q (%s): %w", name, n.Address(), err))
			continue
		}
		is := map[string]bool{}
		for _, cn := range view {
			if !cn.IsMaster() || cn.HasFlag("noaddr") || cn.HasFlag("handshake") {
				continue
			}
			dn, ok := topology.NodeByAddress(t, d.Nodes, cn.Addr)
			if !ok {
				m.warnings = append(m.warnings, fmt.Sprintf("master %s of cluster %q is not a node of the runbook: the canary's keys on it (%s*) are not removed", cn.Addr, d.Name, CanaryPrefix))
				continue
			}
			is[dn.Name()] = true
		}
		for _, name := range d.Nodes {
			if !is[name] {
				continue
			}
			_, dc, err := topology.NodeClient(t, name)
			if err != nil {
				return m, err
			}
			m.masters = append(m.masters, Node{Name: name, Client: dc})
		}
		return m, nil
	}
	return m, fmt.Errorf("no node of cluster %q answered CLUSTER NODES: %w", d.Name, errors.Join(failed...))
}

// finish stops the canary, reads its acknowledged writes back from the
// final master its target names, puts the figures in the report and
// removes the canary's keys. Writes that cannot be read back, a lost
// write or a doubt about the final master fail the report.
func (c *canary) finish(ctx context.Context, rep *report.Report, log io.Writer) {
	tr := c.w.Stop()
	rep.Traffic = tr
	fail := func(format string, args ...any) {
		rep.Errors = append(rep.Errors, "canary: "+fmt.Sprintf(format, args...))
		if rep.Status == steps.StatusPassed {
			rep.Status = steps.StatusFailed
		}
	}
	m, err := c.target.final(ctx)
	if err == nil {
		if m.cluster != "" {
			err = c.w.VerifyCluster(ctx, tr)
		} else {
			err = c.w.Verify(ctx, m.client, tr)
		}
	}
	if err != nil {
		from := "from the final master"
		if m.name != "" || m.cluster != "" {
			from = "from " + m.where()
		}
		fail("read back acknowledged writes %s: %v", from, err)
		return
	}
	for _, d := range m.doubts {
		fail("%s", d)
	}
	for _, w := range m.warnings {
		fmt.Fprintf(log, "warning: canary: %s\n", w)
	}
	rep.AttributeStalls(tr)
	if tr.Lost > 0 {
		on := "the final master " + m.where()
		if m.cluster != "" {
			on = m.where()
		}
		fail("%d acknowledged write(s) lost: missing or wrong on %s (e.g. %v)", tr.Lost, on, tr.LostSamples)
	}
	// Every canary's keys: also those of an earlier run of this apply
	// that died (the lock keeps other applies off these nodes).
	clients := []Node{{Name: m.name, Client: m.client}}
	if m.cluster != "" {
		clients = m.masters
	}
	var removed int64
	var errs []error
	for _, n := range clients {
		d, err := removeKeys(ctx, n.Client, CanaryPrefix+"*")
		removed += d
		if err != nil {
			errs = append(errs, fmt.Errorf("node %q: %w", n.Name, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		fmt.Fprintf(log, "warning: canary keys %s* not all removed from %s: %v\n", CanaryPrefix, m.where(), err)
		return
	}
	fmt.Fprintf(log, "canary: %d acknowledged, %d lost, longest stall %.1f ms; %d keys removed from %s\n", tr.Acked, tr.Lost, tr.MaxStallMS, removed, m.where())
}

// endpointMaster is the node the application writes to at the end through
// an endpoint: the endpoint's target, or, when the target is a replica (a
// resumed run's endpoint only knows where it was pointed last by this
// process), the node it replicates from.
func endpointMaster(ctx context.Context, t topology.Topology, names []string, target string) (master, error) {
	n, err := t.Node(target)
	if err != nil {
		return master{name: target}, err
	}
	c, err := n.Client()
	if err != nil {
		return master{name: target}, err
	}
	info, err := redis.ReadInfo(ctx, c, "replication")
	if err != nil || info["role"] == "master" {
		return master{name: target, client: c}, err
	}
	addr := redis.MasterAddr(info)
	m, ok := topology.NodeByAddress(t, names, addr)
	if !ok {
		return master{name: target, client: c}, nil
	}
	mc, err := m.Client()
	return master{name: m.Name(), client: mc}, err
}

// sentinelMaster is the data node the sentinels of d name as the master.
// Every sentinel is asked until all name the same address, within
// sentinelAgreeTimeout. Sentinels that disagree then, none answering, or
// an address that is none of d's data nodes are an error; sentinels that
// did not answer while the others agree are a doubt.
func sentinelMaster(ctx context.Context, t topology.Topology, d *dsl.SentinelDeployment) (master, error) {
	a := topology.WaitSentinelsAgree(ctx, t, d.Sentinels, d.MasterName, sentinelAgreeTimeout, sentinelPoll)
	n, err := a.Master(t, d.DataNodes)
	if err != nil {
		return master{}, err
	}
	c, err := n.Client()
	if err != nil {
		return master{name: n.Name()}, err
	}
	m := master{name: n.Name(), client: c}
	if len(a.Failed) > 0 {
		m.doubts = append(m.doubts, fmt.Sprintf("not every sentinel named the master %q (the others name node %q): %s", d.MasterName, n.Name(), strings.Join(a.Failed, "; ")))
	}
	return m, nil
}

// removeKeys unlinks the keys matching pattern, a SCAN page at a time,
// one UNLINK per key in a pipeline: on a cluster node the keys of a page
// are in many slots, and a command with keys in two slots is refused
// (CROSSSLOT).
func removeKeys(ctx context.Context, c *goredis.Client, pattern string) (int64, error) {
	var n int64
	iter := c.Scan(ctx, 0, pattern, 1000).Iterator()
	var batch []string
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		cmds, err := c.Pipelined(ctx, func(p goredis.Pipeliner) error {
			for _, k := range batch {
				p.Unlink(ctx, k)
			}
			return nil
		})
		for _, cmd := range cmds {
			n += cmd.(*goredis.IntCmd).Val()
		}
		batch = batch[:0]
		return err
	}
	for iter.Next(ctx) {
		batch = append(batch, iter.Val())
		if len(batch) == 500 {
			if err := flush(); err != nil {
				return n, err
			}
		}
	}
	if err := iter.Err(); err != nil {
		return n, err
	}
	return n, flush()
}
