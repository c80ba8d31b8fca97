package kinds

import (
	"context"
	"fmt"
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

// ClusterFailover moves the master role of one shard of a Redis Cluster to
// a replica with a manual failover sent to that replica
// (redis.ClusterFailover), and returns once the roles have swapped. The
// replica's master is discovered at run time from the replica's CLUSTER
// NODES, and must be one of the runbook's nodes.
type ClusterFailover struct{}

// clusterFailoverAuto picks the method from the master's version: the
// paused takeover on 6.2+, the default CLUSTER FAILOVER on 6.0.
const clusterFailoverAuto = "auto"

var clusterFailoverSpec = &dsl.KindSpec{
	Name: "cluster_failover",
	Doc: "Moves the master role of a Redis Cluster shard to one of its replicas with CLUSTER FAILOVER sent to that replica, " +
		"and waits until the replica is the master and the old master its replica.",
	DefaultTimeout: time.Minute,
	Args: []dsl.ArgSpec{
		{Name: "replica", Type: dsl.ArgNode, Doc: "The replica to promote; its master is read from its CLUSTER NODES when the step runs."},
		{Name: "master", Type: dsl.ArgNode, Doc: "Instead of replica: the master whose replica is promoted (the one on the newest version with its link up, the first declared among equals), e.g. master = each.node in a group over cluster.NAME.masters."},
		{Name: "method", Type: dsl.ArgString, Enum: []string{clusterFailoverAuto, redis.ClusterFailoverTakeover, redis.ClusterFailoverDefault, redis.ClusterFailoverForce},
			Doc: `"auto" (default: "takeover" when the master runs 6.2+, else "default"), "takeover" (CLIENT PAUSE WRITE, offset, CLUSTER FAILOVER TAKEOVER, CLIENT UNPAUSE), "default" (CLUSTER FAILOVER) or "force" (CLUSTER FAILOVER FORCE: loses writes; for a master that is down).`},
		{Name: "max_pause", Type: dsl.ArgDuration, Doc: "How long the takeover may pause the master's writes (default 3s)."},
	},
}

func (ClusterFailover) Spec() *dsl.KindSpec { return clusterFailoverSpec }

// Check knows nothing static beyond the arguments' types: the roles are
// discovered when the step runs. When the walk knows the replica's master
// (an earlier step made it so), it walks the swap: the replica becomes the
// master, the old master and the shard's other replicas its replicas (a
// cluster moves them by itself).
func (ClusterFailover) Check(s *dsl.Step, sim *redis.Sim) hcl.Diagnostics {
	_, hasReplica := s.Args["replica"]
	_, hasMaster := s.Args["master"]
	if hasReplica == hasMaster {
		return hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Name the replica or the master",
			Detail:   "A cluster_failover step names the replica to promote (replica = node.x) or the master whose replica it promotes (master = each.node), one of the two.",
			Subject:  s.DeclRange.Ptr(),
		}}
	}
	to := s.NodeArg("replica")
	if m := s.NodeArg("master"); m != "" {
		to = staticNewestReplica(sim, s.Runbook().NodeNames(), m)
	}
	from := sim.MasterOf(to)
	if to == "" || from == "" {
		return nil
	}
	vf, okf := sim.Version(from)
	vt, okt := sim.Version(to)
	if okf && okt {
		s.PointOfNoReturn = switchPointOfNoReturn(from, to, vf, vt)
	}
	sim.Switch(from, to)
	return nil
}

// Describe says what is sent for the method the step names; for auto, both
// sequences and which versions pick each.
func (ClusterFailover) Describe(s *dsl.Step, sim *redis.Sim) []string {
	replica := nodeText(s, "replica", sim)
	master := "its master (read from its CLUSTER NODES when the step runs; a declared node)"
	if m := s.NodeArg("master"); m != "" {
		replica = "the replica of node." + m + " on the newest version with its link up"
		if r := staticNewestReplica(sim, s.Runbook().NodeNames(), m); r != "" {
			replica += fmt.Sprintf(" (node.%s in the walk)", r)
		}
		master = "node." + m
	} else if m := sim.MasterOf(s.NodeArg("replica")); m != "" {
		master = fmt.Sprintf("its master (node.%s in the walk; read from its CLUSTER NODES when the step runs)", m)
	}
	pause := redis.DefaultClusterMaxPause.String()
	if d := s.DurationArg("max_pause", 0); d > 0 {
		pause = d.String()
	}
	method := s.StringArg("method", clusterFailoverAuto)
	first := fmt.Sprintf("reads CLUSTER NODES on %s: refused if it is a master; finds %s", replica, master)
	if method != redis.ClusterFailoverForce {
		first += "; checks that the replica's link is up, not syncing, on the master's replication ID"
	}
	lines := []string{first}
	takeover := fmt.Sprintf("takeover: CLIENT PAUSE %s WRITE on the master, waits until the replica's offset equals the master's, CLUSTER FAILOVER TAKEOVER on the replica, waits until the old master's ROLE is slave of it, CLIENT UNPAUSE; lossless, writes stall a few ms", pause)
	def := "default: CLUSTER FAILOVER on the replica (Redis pauses the master until the replica has its offset and the masters vote), then waits until the replica is master and the old master its replica; lossless, writes stall 10-50 ms"
	switch method {
	case redis.ClusterFailoverTakeover:
		return append(lines, takeover)
	case redis.ClusterFailoverDefault:
		return append(lines, def)
	case redis.ClusterFailoverForce:
		return append(lines, "force: CLUSTER FAILOVER FORCE on the replica, without waiting for the master's offset, then waits until the replica is master (and the old master, if it answers, its replica); CAN LOSE the writes the old master acknowledges until it learns of the new configuration")
	}
	return append(lines, "on a 6.2+ master "+takeover, "on a 6.0 master (no CLIENT PAUSE WRITE) "+def)
}

// clusterFailoverNote is the line Run logs before it sends anything:
// "fails over FROM → TO (METHOD)", which Resume reads back.
const clusterFailoverNote = "fails over %s → %s (%s)"

// replicaArg is the replica the step promotes: its replica argument, or
// the master argument's replica on the newest version with its link up.
func replicaArg(ctx context.Context, x *steps.Exec) (topology.Node, *goredis.Client, error) {
	if _, ok := x.Step.Args["replica"]; ok {
		return x.NodeArg("replica")
	}
	master, mc, err := x.NodeArg("master")
	if err != nil {
		return nil, nil, err
	}
	view, err := redis.ReadClusterNodes(ctx, mc)
	if err != nil {
		return nil, nil, fmt.Errorf("node %q: %w", master.Name(), err)
	}
	self, ok := redis.ClusterMyself(view)
	if !ok || !self.IsMaster() {
		return nil, nil, steps.Permanent(steps.ErrorAt(x.Step.Args["master"].Range, "Not a master", "Node %q is not a master of the cluster (flags %s).", master.Name(), strings.Join(self.Flags, ",")))
	}
	var candidates []string
	for _, cn := range view {
		if cn.MasterID != self.ID {
			continue
		}
		if n, ok := topology.NodeByAddress(x.Topology(), x.Runbook().NodeNames(), cn.Addr); ok {
			candidates = append(candidates, n.Name())
		}
	}
	slices.Sort(candidates) // the runbook's node order
	chosen, best, ok, err := newestReplica(ctx, x, candidates)
	if err != nil {
		return nil, nil, err
	}
	if !ok {
		return nil, nil, fmt.Errorf("master %q has no replica with its link up to promote", master.Name())
	}
	chosenC, err := chosen.Client()
	if err != nil {
		return nil, nil, err
	}
	x.Log("promotes %s (%s), the replica of %s on the newest version", chosen.Name(), best, master.Name())
	return chosen, chosenC, nil
}

func (ClusterFailover) Run(ctx context.Context, x *steps.Exec) (cty.Value, error) {
	replica, rc, err := replicaArg(ctx, x)
	if err != nil {
		return cty.NilVal, err
	}
	view, err := redis.ReadClusterNodes(ctx, rc)
	if err != nil {
		return cty.NilVal, fmt.Errorf("node %q: %w", replica.Name(), err)
	}
	self, ok := redis.ClusterMyself(view)
	switch {
	case !ok:
		return cty.NilVal, fmt.Errorf("node %q: CLUSTER NODES has no myself line", replica.Name())
	case self.IsMaster():
		return cty.NilVal, steps.Permanent(steps.ErrorAt(nodeArgRange(x.Step, "replica", "master"), "Not a replica",
			"CLUSTER FAILOVER must be sent to a replica: node %q is a master (Redis answers \"ERR You should send CLUSTER FAILOVER to a replica\").", replica.Name()))
	case !self.IsReplica() || self.MasterID == "":
		return cty.NilVal, fmt.Errorf("node %q is not a replica (flags %s)", replica.Name(), strings.Join(self.Flags, ","))
	}
	mline, ok := redis.ClusterNodeByID(view, self.MasterID)
	if !ok {
		return cty.NilVal, fmt.Errorf("node %q follows %s, which its CLUSTER NODES does not list", replica.Name(), self.MasterID)
	}
	master, ok := topology.NodeByAddress(x.Topology(), x.Runbook().NodeNames(), mline.Addr)
	if !ok {
		return cty.NilVal, steps.Permanent(fmt.Errorf("node %q's master is at %s, which is no node of the runbook: declare it, so that it can be checked, paused and watched", replica.Name(), mline.Addr))
	}
	mc, err := master.Client()
	if err != nil {
		return cty.NilVal, fmt.Errorf("node %q: %w", master.Name(), err)
	}
	method := x.Step.StringArg("method", clusterFailoverAuto)
	if method == clusterFailoverAuto {
		v, err := serverVersion(ctx, mc, master.Name())
		if err != nil {
			return cty.NilVal, fmt.Errorf("choosing the method: %w", err)
		}
		method = redis.ClusterFailoverDefault
		if v.HasFailover() {
			method = redis.ClusterFailoverTakeover
		}
		x.Log("method auto: %s, the master runs %s", method, v)
	}
	x.Log(clusterFailoverNote, master.Name(), replica.Name(), method)
	res, err := redis.ClusterFailover(ctx, redis.ClusterFailoverOptions{
		Replica:  redis.SwitchoverNode{Addr: replica.Address(), Client: rc},
		Master:   redis.SwitchoverNode{Addr: master.Address(), Client: mc},
		Method:   method,
		MaxPause: x.Step.DurationArg("max_pause", 0),
		Log:      x.Log,
	})
	if err != nil {
		return cty.NilVal, fmt.Errorf("cluster failover %q → %q (%s): %w", master.Name(), replica.Name(), method, err)
	}
	x.Log("failed over by %s: writes paused %s (offset wait %s), roles swapped %s after CLUSTER FAILOVER, %s in all",
		res.Method, res.Pause.Round(10*time.Microsecond), res.OffsetWait.Round(10*time.Microsecond),
		res.RoleSwap.Round(10*time.Microsecond), res.Total.Round(time.Millisecond))
	return clusterFailoverOutput(master.Name(), replica.Name(), res), nil
}

// clusterFailoverOutput is the step's output.
func clusterFailoverOutput(from, to string, res redis.ClusterFailoverResult) cty.Value {
	return cty.ObjectVal(map[string]cty.Value{
		"from":         cty.StringVal(from),
		"to":           cty.StringVal(to),
		"method":       cty.StringVal(res.Method),
		"pause_ms":     cty.NumberFloatVal(ms(res.Pause)),
		"role_swap_ms": cty.NumberFloatVal(ms(res.RoleSwap)),
		"total_ms":     cty.NumberFloatVal(ms(res.Total)),
	})
}

// Resume: done when the replica is a master and the old master (named by
// the earlier run's log) is its replica; run again when the replica is
// still a replica (nothing swapped), or when the log names no master
// (nothing was sent); else refused, saying what the nodes report.
func (ClusterFailover) Resume(ctx context.Context, x *steps.Exec) (steps.ResumeDecision, cty.Value, error) {
	fromName, toName := "", x.Step.NodeArg("replica")
	for _, l := range x.ResumeLog() {
		if f, t, ok := parseSides(l, "fails over"); ok {
			fromName, toName = f, t
		}
	}
	if toName == "" {
		x.Log("the earlier run had not chosen the replica: nothing was sent; running again")
		return steps.ResumeRun, cty.NilVal, nil
	}
	replica, err := x.Node(toName)
	if err != nil {
		return steps.ResumeRefuse, cty.NilVal, err
	}
	rc, err := replica.Client()
	if err != nil {
		return steps.ResumeRefuse, cty.NilVal, err
	}
	view, err := redis.ReadClusterNodes(ctx, rc)
	if err != nil {
		return steps.ResumeRefuse, cty.NilVal, fmt.Errorf("node %q: %w", replica.Name(), err)
	}
	self, ok := redis.ClusterMyself(view)
	switch {
	case !ok:
		return steps.ResumeRefuse, cty.NilVal, fmt.Errorf("node %q: CLUSTER NODES has no myself line", replica.Name())
	case self.IsReplica():
		x.Log("%s is still a replica: the failover runs again", replica.Name())
		return steps.ResumeRun, cty.NilVal, nil
	case fromName == "":
		x.Log("the earlier run had not named the master: nothing was sent; running again")
		return steps.ResumeRun, cty.NilVal, nil
	}
	from, err := x.Node(fromName)
	if err != nil {
		return steps.ResumeRefuse, cty.NilVal, err
	}
	fc, err := x.Client(fromName)
	if err != nil {
		return steps.ResumeRefuse, cty.NilVal, err
	}
	fview, err := redis.ReadClusterNodes(ctx, fc)
	if err != nil {
		return steps.ResumeRefuse, cty.NilVal, fmt.Errorf("%q is a master; the old master %q does not answer (%v): check the shard (CLUSTER NODES), then resume with --in-flight done or run", replica.Name(), from.Name(), err)
	}
	fself, _ := redis.ClusterMyself(fview)
	if fself.IsReplica() && fself.MasterID == self.ID {
		x.Log("%s is the master, %s its replica", replica.Name(), from.Name())
		return steps.ResumeDone, clusterFailoverOutput(from.Name(), replica.Name(), redis.ClusterFailoverResult{Method: "resumed"}), nil
	}
	old := "is a master too"
	if fself.IsReplica() {
		old = "follows " + fself.MasterID + ", not " + self.ID
	}
	return steps.ResumeRefuse, cty.NilVal, fmt.Errorf("%q is a master and the old master %q %s: the failover stopped half-way; check the shard (CLUSTER NODES on both), then resume with --in-flight done or run",
		replica.Name(), from.Name(), old)
}

// nodeArgRange is the range of the first of the node arguments the step
// sets.
func nodeArgRange(s *dsl.Step, names ...string) hcl.Range {
	for _, n := range names {
		if a, ok := s.Args[n]; ok {
			return a.Range
		}
	}
	return s.DeclRange
}
