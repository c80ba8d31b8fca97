package kinds

import (
	"context"
	"fmt"
	"net"
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
		{Name: "master_name", Type: dsl.ArgString, Required: true, Doc: `The name the sentinels monitor the master under, e.g. "mymaster".`},
		{Name: "sentinels", Type: dsl.ArgNodeList, Required: true, Doc: "The sentinels, as nodes: [node.s1, node.s2, node.s3]."},
		{Name: "from", Type: dsl.ArgNode, Required: true, Doc: "The current master."},
		{Name: "to", Type: dsl.ArgNode, Required: true, Doc: "The replica that becomes the master."},
		{Name: "method", Type: dsl.ArgString, Enum: []string{redis.SentinelAuto, redis.SentinelPause, redis.SentinelCoordinated}, Doc: `"auto" (default: the pause sequence), "pause", or "coordinated" (Valkey 9: SENTINEL FAILOVER ... COORDINATED).`},
		{Name: "max_pause", Type: dsl.ArgDuration, Doc: "How long the old master's writes may stay paused (default 2s)."},
	},
}

func (SentinelSwitchover) Spec() *dsl.KindSpec { return sentinelSwitchoverSpec }

// Check refuses the same node as from and to, or among the sentinels, and
// walks the roles: to becomes the master, from its replica.
func (SentinelSwitchover) Check(s *dsl.Step, sim *redis.Sim) hcl.Diagnostics {
	diags := dsl.CheckTwoNodes(s, "from", "to")
	for _, n := range s.NodeListArg("sentinels") {
		if n == s.NodeArg("from") || n == s.NodeArg("to") {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "A data node among the sentinels",
				Detail:   fmt.Sprintf("Node %q is named as a sentinel and as the master or the replica of the switchover.", n),
				Subject:  s.Args["sentinels"].Range.Ptr(),
			})
		}
	}
	sim.Detach(s.NodeArg("to"))
	sim.Follow(s.NodeArg("from"), s.NodeArg("to"))
	return diags
}

func (SentinelSwitchover) Describe(s *dsl.Step, sim *redis.Sim) []string {
	var sentinels []string
	for _, n := range s.NodeListArg("sentinels") {
		sentinels = append(sentinels, "node."+n)
	}
	name := s.StringArg("master_name", "")
	return []string{
		fmt.Sprintf("checks that %s name %s as master %q, CKQUORUM, no failover in progress, %s a replica with its link up",
			strings.Join(sentinels, ", "), nodeText(s, "from", sim), name, nodeText(s, "to", sim)),
		fmt.Sprintf("CONFIG SET replica-priority 0 on the other replicas of %s (restored afterwards), min-replicas-to-write on it as a fence", nodeText(s, "from", sim)),
		fmt.Sprintf("CLIENT PAUSE WRITE on %s, waits for the replica's offset, SENTINEL FAILOVER %s when the leading sentinel's INFO of the replica is 770–800 ms old", nodeText(s, "from", sim), name),
		fmt.Sprintf("waits until every sentinel names %s, REPLICAOF it on %s while still paused, CLIENT UNPAUSE; writes stay paused for at most %s",
			nodeText(s, "to", sim), nodeText(s, "from", sim), s.DurationArg("max_pause", 2*time.Second)),
	}
}

func (SentinelSwitchover) Run(ctx context.Context, x *steps.Exec) (cty.Value, error) {
	from, fc, err := x.NodeArg("from")
	if err != nil {
		return cty.NilVal, err
	}
	to, tc, err := x.NodeArg("to")
	if err != nil {
		return cty.NilVal, err
	}
	o := redis.SentinelSwitchoverOptions{
		MasterName: x.Step.StringArg("master_name", ""),
		Master:     redis.SwitchoverNode{Addr: from.Address(), Client: fc},
		Replica:    redis.SwitchoverNode{Addr: to.Address(), Client: tc},
		Auth:       to.MasterAuth(),
		Method:     x.Step.StringArg("method", redis.SentinelAuto),
		MaxPause:   x.Step.DurationArg("max_pause", 2*time.Second),
		Log:        x.Log,
	}
	for _, name := range x.Step.NodeListArg("sentinels") {
		c, err := x.Client(name)
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
func (SentinelSwitchover) Resume(ctx context.Context, x *steps.Exec) (steps.ResumeDecision, cty.Value, error) {
	from, fc, err := x.NodeArg("from")
	if err != nil {
		return steps.ResumeRefuse, cty.NilVal, err
	}
	to, tc, err := x.NodeArg("to")
	if err != nil {
		return steps.ResumeRefuse, cty.NilVal, err
	}
	name := x.Step.StringArg("master_name", "")
	named := 0
	for _, s := range x.Step.NodeListArg("sentinels") {
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
	case ti["role"] == "master" && named == len(x.Step.NodeListArg("sentinels")):
		x.Log("every sentinel names %s, a master", to.Name())
		return steps.ResumeDone, cty.NilVal, nil
	case fi["role"] == "master" && redis.FollowsMaster(ti, from.Address()):
		return steps.ResumeRun, cty.NilVal, nil
	}
	return steps.ResumeRefuse, cty.NilVal, fmt.Errorf("%q is a %s, %q a %s, and %d sentinel(s) name %q: the failover stopped half-way; let Sentinel finish it (SENTINEL MASTER %s), check the replica priorities and min-replicas-to-write on the nodes, then resume with --in-flight done or run",
		from.Name(), fi["role"], to.Name(), ti["role"], named, to.Name(), name)
}
