package kinds

import (
	"context"
	"fmt"
	"net"
	"slices"
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

// SentinelSwitchover moves the master role of a Sentinel-managed
// deployment to a chosen replica without losing an acknowledged write
// (redis.SentinelSwitchover): Sentinel's choice steered with
// replica-priority, SENTINEL FAILOVER timed against Sentinel's INFO
// refresh, the old master fenced and paused until the replica has its
// offset, demoted while still paused; it waits until every sentinel names
// the new master and every replica follows it.
type SentinelSwitchover struct{}

var sentinelSwitchoverSpec = &dsl.KindSpec{
	Name: "sentinel_switchover",
	Doc: "Moves the master role of a Sentinel-managed deployment to a chosen replica without losing a write: steers Sentinel's choice, " +
		"times SENTINEL FAILOVER, pauses and fences the old master until the replica has its offset, demotes it while paused, and waits until every sentinel and replica follows.",
	DefaultTimeout: 2 * time.Minute,
	Args: []dsl.ArgSpec{
		{Name: "deployment", Type: dsl.ArgDeployment, Doc: "The Sentinel deployment (sentinel.NAME): gives master_name, sentinels and from (its master when the step starts)."},
		{Name: "master_name", Type: dsl.ArgString, Doc: `The name the sentinels monitor the master under, e.g. "mymaster" (without deployment).`},
		{Name: "sentinels", Type: dsl.ArgNodeList, Doc: "The sentinels, as nodes: [node.s1, node.s2, node.s3] (without deployment)."},
		{Name: "from", Type: dsl.ArgNode, Doc: "The current master (default with deployment: the master the sentinels name)."},
		{Name: "to", Type: dsl.ArgNode, Doc: "The replica that becomes the master (default: the master's replica on the newest version, link up; the first declared among equals)."},
		{Name: "method", Type: dsl.ArgString, Enum: []string{redis.SentinelAuto, redis.SentinelPause, redis.SentinelCoordinated}, Doc: `"auto" (default: the pause sequence), "pause", or "coordinated" (Valkey 9: SENTINEL FAILOVER ... COORDINATED).`},
		{Name: "max_pause", Type: dsl.ArgDuration, Doc: "How long the old master's writes may stay paused (default 2s; on 6.0, whose pause holds every client until it ends, 900ms)."},
	},
}

func (SentinelSwitchover) Spec() *dsl.KindSpec { return sentinelSwitchoverSpec }

// switchoverSentinels are the master name and the sentinels: the
// deployment's, or the step's own arguments.
func switchoverSentinels(s *dsl.Step) (name string, sentinels []string) {
	if d := s.DeploymentArg("deployment"); d != nil {
		return d.MasterName, d.Sentinels
	}
	return s.StringArg("master_name", ""), s.NodeListArg("sentinels")
}

// staticSides are from and to as the static walk sees them: the
// arguments, else the deployment's master and its replica on the newest
// version.
func staticSides(s *dsl.Step, sim *redis.Sim) (from, to string) {
	from, to = s.NodeArg("from"), s.NodeArg("to")
	d := s.DeploymentArg("deployment")
	if from == "" && d != nil {
		from, _ = s.Runbook().StaticMaster(d.Name, sim)
	}
	if to == "" {
		names := s.Runbook().NodeNames()
		if d != nil {
			names = d.DataNodes
		}
		to = staticNewestReplica(sim, names, from)
	}
	return from, to
}

// Check refuses a step without its deployment or master_name, sentinels
// and from; the same node as from and to, or among the sentinels; and
// walks the roles: to becomes the master, from its replica.
func (SentinelSwitchover) Check(s *dsl.Step, sim *redis.Sim) hcl.Diagnostics {
	var diags hcl.Diagnostics
	if _, ok := s.Args["deployment"]; !ok {
		var missing []string
		for _, a := range []string{"master_name", "sentinels", "from"} {
			if _, ok := s.Args[a]; !ok {
				missing = append(missing, a)
			}
		}
		if len(missing) > 0 {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Missing argument " + strings.Join(missing, ", "),
				Detail:   "A sentinel_switchover step names its deployment (deployment = sentinel.NAME), or gives master_name, sentinels and from.",
				Subject:  s.DeclRange.Ptr(),
			})
		}
	}
	diags = append(diags, dsl.CheckTwoNodes(s, "from", "to")...)
	_, sentinels := switchoverSentinels(s)
	for _, n := range sentinels {
		if n == s.NodeArg("from") || n == s.NodeArg("to") {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "A data node among the sentinels",
				Detail:   fmt.Sprintf("Node %q is named as a sentinel and as the master or the replica of the switchover.", n),
				Subject:  s.Args["sentinels"].Range.Ptr(),
			})
		}
	}
	from, to := staticSides(s, sim)
	vf, okf := sim.Version(from)
	vt, okt := sim.Version(to)
	if okf && okt {
		s.PointOfNoReturn = switchPointOfNoReturn(from, to, vf, vt)
	}
	if to != "" {
		sim.Detach(to)
	}
	if from != "" && to != "" {
		sim.Switch(from, to)
	}
	return diags
}

func (SentinelSwitchover) Describe(s *dsl.Step, sim *redis.Sim) []string {
	name, sentinels := switchoverSentinels(s)
	var refs []string
	for _, n := range sentinels {
		refs = append(refs, "node."+n)
	}
	from, to := staticSides(s, sim)
	fromText, toText := "node."+from, "node."+to
	if s.NodeArg("from") == "" {
		fromText = fmt.Sprintf("the master the sentinels name when the step starts (node.%s in a rehearsal)", from)
	}
	if s.NodeArg("to") == "" {
		toText = fmt.Sprintf("its replica on the newest version, link up (node.%s in a rehearsal)", to)
	}
	lines := []string{
		fmt.Sprintf("checks that %s name %s as master %q, CKQUORUM, no failover in progress, %s a replica with its link up",
			strings.Join(refs, ", "), fromText, name, toText),
		fmt.Sprintf("CONFIG SET replica-priority 0 on the other replicas of node.%s (restored afterwards), min-replicas-to-write on it as a fence", from),
		fmt.Sprintf("CLIENT PAUSE WRITE on node.%s, waits for the replica's offset, SENTINEL FAILOVER %s when the leading sentinel's INFO of the replica is 770–800 ms old", from, name),
		fmt.Sprintf("waits until every sentinel names node.%s, REPLICAOF it on node.%s while still paused, CLIENT UNPAUSE; writes stay paused for at most %s",
			to, from, pauseText(s)),
	}
	if s.StringArg("method", "") == redis.SentinelCoordinated {
		lines = []string{
			fmt.Sprintf("checks that %s name %s as master %q, run Valkey 9 (else refused), CKQUORUM, no failover in progress, %s a replica with its link up",
				strings.Join(refs, ", "), fromText, name, toText),
			fmt.Sprintf("CONFIG SET replica-priority 0 on the other replicas of node.%s (restored afterwards)", from),
			fmt.Sprintf("SENTINEL FAILOVER %s COORDINATED: the sentinel has node.%s hand over to node.%s with FAILOVER (writes paused until the replica has every write, no loss window)", name, from, to),
			fmt.Sprintf("waits until every sentinel names node.%s and every replica follows it", to),
		}
	}
	return lines
}

// pauseText is the longest pause the step allows, as a plan says it.
func pauseText(s *dsl.Step) string {
	if d := s.DurationArg("max_pause", 0); d > 0 {
		return d.String()
	}
	return fmt.Sprintf("%s (%s on 6.0, where the pause holds every client until it ends)", redis.DefaultSentinelMaxPause, redis.DefaultSentinelMaxPause60)
}

// sides resolves from and to at run time: the arguments, else the
// deployment's master (asked of the sentinels) and its replica on the
// newest version with its link up.
func sides(ctx context.Context, x *steps.Exec) (from, to topology.Node, err error) {
	fromName := x.Step.NodeArg("from")
	d := x.Step.DeploymentArg("deployment")
	if fromName == "" {
		if fromName, err = x.SentinelMaster(ctx, d.Name); err != nil {
			return nil, nil, err
		}
	}
	if from, err = x.Node(fromName); err != nil {
		return nil, nil, err
	}
	if toName := x.Step.NodeArg("to"); toName != "" {
		to, err = x.Node(toName)
		return from, to, err
	}
	fc, err := from.Client()
	if err != nil {
		return nil, nil, err
	}
	info, err := redis.ReadInfo(ctx, fc, "replication")
	if err != nil {
		return nil, nil, fmt.Errorf("INFO replication on %q: %w", fromName, err)
	}
	names := x.Runbook().NodeNames()
	if d != nil {
		names = d.DataNodes
	}
	var candidates []string
	for _, n := range names {
		if nn, err := x.Node(n); err == nil && n != fromName && slices.ContainsFunc(redis.Replicas(info), func(a string) bool { return redis.SameAddr(a, nn.Address()) }) {
			candidates = append(candidates, n)
		}
	}
	to, best, ok, err := newestReplica(ctx, x, candidates)
	if err != nil {
		return nil, nil, err
	}
	if !ok {
		return nil, nil, fmt.Errorf("%s has no replica with its link up to promote", fromName)
	}
	x.Log("switches %s → %s (%s), the master's replica on the newest version", fromName, to.Name(), best)
	return from, to, nil
}

func (SentinelSwitchover) Run(ctx context.Context, x *steps.Exec) (cty.Value, error) {
	from, to, err := sides(ctx, x)
	if err != nil {
		return cty.NilVal, err
	}
	fc, err := from.Client()
	if err != nil {
		return cty.NilVal, err
	}
	tc, err := to.Client()
	if err != nil {
		return cty.NilVal, err
	}
	name, sentinels := switchoverSentinels(x.Step)
	o := redis.SentinelSwitchoverOptions{
		MasterName: name,
		Master:     redis.SwitchoverNode{Addr: from.Address(), Client: fc},
		Replica:    redis.SwitchoverNode{Addr: to.Address(), Client: tc},
		Auth:       to.MasterAuth(),
		Method:     x.Step.StringArg("method", redis.SentinelAuto),
		MaxPause:   x.Step.DurationArg("max_pause", 0),
		Log:        x.Log,
	}
	for _, sn := range sentinels {
		c, err := x.Client(sn)
		if err != nil {
			return cty.NilVal, err
		}
		o.Sentinels = append(o.Sentinels, c)
	}
	if o.Others, err = otherReplicas(ctx, x, fc, from.Name(), to.Address()); err != nil {
		return cty.NilVal, steps.Permanent(err)
	}
	res, err := redis.SentinelSwitchover(ctx, o)
	if err != nil {
		return cty.NilVal, fmt.Errorf("sentinel switchover %q → %q: %w", from.Name(), to.Name(), err)
	}
	x.Log("switched by %s via sentinel %s: paused %s, all sentinels named the new master %s after SENTINEL FAILOVER", res.Method, res.Leader, res.Pause.Round(time.Millisecond), res.Reported.Round(time.Millisecond))
	return cty.ObjectVal(map[string]cty.Value{
		"from":        cty.StringVal(from.Name()),
		"to":          cty.StringVal(to.Name()),
		"method":      cty.StringVal(res.Method),
		"leader":      cty.StringVal(res.Leader),
		"pause_ms":    cty.NumberFloatVal(ms(res.Pause)),
		"reported_ms": cty.NumberFloatVal(ms(res.Reported)),
		"total_ms":    cty.NumberFloatVal(ms(res.Total)),
	}), nil
}

// otherReplicas are the master's replicas other than the one promoted, as
// the runbook's nodes: every replica Sentinel could choose must be known,
// to steer the choice away from it.
func otherReplicas(ctx context.Context, x *steps.Exec, master *goredis.Client, masterName, promoted string) ([]redis.SwitchoverNode, error) {
	info, err := redis.ReadInfo(ctx, master, "replication")
	if err != nil {
		return nil, fmt.Errorf("INFO replication on %q: %w", masterName, err)
	}
	var out []redis.SwitchoverNode
	for _, addr := range redis.Replicas(info) {
		if redis.SameAddr(addr, promoted) {
			continue
		}
		n, ok := topology.NodeByAddress(x.Topology(), x.Runbook().NodeNames(), addr)
		if !ok {
			host, port, _ := net.SplitHostPort(addr)
			return nil, fmt.Errorf("node %q has a replica at %s:%s that is no node of the runbook: declare it, so that Sentinel can be kept from promoting it", masterName, host, port)
		}
		c, err := n.Client()
		if err != nil {
			return nil, fmt.Errorf("node %q: %w", n.Name(), err)
		}
		out = append(out, redis.SwitchoverNode{Addr: n.Address(), Client: c})
	}
	return out, nil
}

// Resume: done when every sentinel names the new master and it is a
// master; run again when the old master is still the master with the new
// node its replica (nothing happened yet, or an undo ran); else refused:
// a half-done Sentinel failover is for Sentinel to finish, and a person to
// look at.
//
// Without from and to (a deployment's step), the earlier run's log says
// which nodes it chose: none logged means nothing was sent yet, run again.
func (SentinelSwitchover) Resume(ctx context.Context, x *steps.Exec) (steps.ResumeDecision, cty.Value, error) {
	fromName, toName := x.Step.NodeArg("from"), x.Step.NodeArg("to")
	for _, l := range x.ResumeLog() {
		if f, t, ok := parseSides(l, "switches"); ok {
			fromName, toName = f, t
		}
	}
	if fromName == "" || toName == "" {
		x.Log("the earlier run had not chosen its nodes: nothing was sent")
		return steps.ResumeRun, cty.NilVal, nil
	}
	from, err := x.Node(fromName)
	if err != nil {
		return steps.ResumeRefuse, cty.NilVal, err
	}
	to, err := x.Node(toName)
	if err != nil {
		return steps.ResumeRefuse, cty.NilVal, err
	}
	fc, err := from.Client()
	if err != nil {
		return steps.ResumeRefuse, cty.NilVal, err
	}
	tc, err := to.Client()
	if err != nil {
		return steps.ResumeRefuse, cty.NilVal, err
	}
	name, sentinels := switchoverSentinels(x.Step)
	named := 0
	for _, s := range sentinels {
		c, err := x.Client(s)
		if err != nil {
			return steps.ResumeRefuse, cty.NilVal, err
		}
		if addr, err := redis.SentinelMasterAddr(ctx, c, name); err == nil && redis.SameAddr(addr, to.Address()) {
			named++
		}
	}
	ti, err := redis.ReadInfo(ctx, tc, "replication")
	if err != nil {
		return steps.ResumeRefuse, cty.NilVal, fmt.Errorf("INFO replication on %q: %w", to.Name(), err)
	}
	fi, err := redis.ReadInfo(ctx, fc, "replication")
	if err != nil {
		return steps.ResumeRefuse, cty.NilVal, fmt.Errorf("INFO replication on %q: %w", from.Name(), err)
	}
	switch {
	case ti["role"] == "master" && named == len(sentinels):
		x.Log("every sentinel names %s, a master", to.Name())
		return steps.ResumeDone, cty.NilVal, nil
	case fi["role"] == "master" && redis.FollowsMaster(ti, from.Address()):
		return steps.ResumeRun, cty.NilVal, nil
	}
	return steps.ResumeRefuse, cty.NilVal, fmt.Errorf("%q is a %s, %q a %s, and %d sentinel(s) name %q: the failover stopped half-way; let Sentinel finish it (SENTINEL MASTER %s), check the replica priorities and min-replicas-to-write on the nodes, then resume with --in-flight done or run",
		from.Name(), fi["role"], to.Name(), ti["role"], named, to.Name(), name)
}
