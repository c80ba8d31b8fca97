package apply

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
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

// master is the node a canary's writes are read back from.
type master struct {
	name   string
	client *goredis.Client
	// doubts are problems that fail the apply although the writes could
	// be read back: a sentinel that did not say which node is the master.
	doubts []string
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
// runbook's Sentinel deployment, found through the sentinels (a runbook
// declares at most one, and then no endpoint); nil when it has neither.
func canaryTargetOf(rb *dsl.Runbook, t topology.Topology) (*canaryTarget, error) {
	for _, name := range slices.Sorted(maps.Keys(rb.Endpoints)) {
		if ep := rb.Endpoints[name]; ep.Address != "" {
			return endpointTarget(rb, t, ep)
		}
	}
	if names := slices.Sorted(maps.Keys(rb.Sentinels)); len(names) > 0 {
		return sentinelTarget(rb, t, rb.Sentinels[names[0]])
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
		err = c.w.Verify(ctx, m.client, tr)
	}
	if err != nil {
		from := "from the final master"
		if m.name != "" {
			from = fmt.Sprintf("from %q", m.name)
		}
		fail("read back acknowledged writes %s: %v", from, err)
		return
	}
	for _, d := range m.doubts {
		fail("%s", d)
	}
	rep.AttributeStalls(tr)
	if tr.Lost > 0 {
		fail("%d acknowledged write(s) lost: missing or wrong on the final master %q (e.g. %v)", tr.Lost, m.name, tr.LostSamples)
	}
	// Every canary's keys: also those of an earlier run of this apply
	// that died (the lock keeps other applies off these nodes).
	removed, err := removeKeys(ctx, m.client, CanaryPrefix+"*")
	if err != nil {
		fmt.Fprintf(log, "warning: canary keys %s* not all removed from %q: %v\n", CanaryPrefix, m.name, err)
		return
	}
	fmt.Fprintf(log, "canary: %d acknowledged, %d lost, longest stall %.1f ms; %d keys removed from %q\n", tr.Acked, tr.Lost, tr.MaxStallMS, removed, m.name)
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

// removeKeys unlinks the keys matching pattern, a SCAN page at a time.
func removeKeys(ctx context.Context, c *goredis.Client, pattern string) (int64, error) {
	var n int64
	iter := c.Scan(ctx, 0, pattern, 1000).Iterator()
	var batch []string
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		d, err := c.Unlink(ctx, batch...).Result()
		n += d
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
