package kinds

import (
	"context"
	"fmt"
	"net"
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

// Switchover sequences, as reported in the step's output.
const (
	seqPauseWrite = "pause-write" // 6.2+: CLIENT PAUSE WRITE, offsets, REPLICAOF NO ONE
	seqPauseAll   = "pause-all"   // 6.0: min-replicas fence, MULTI/CLIENT PAUSE/INFO/EXEC
	seqFailover   = "failover"    // 6.2+: FAILOVER TO
)

// switchover is one run of the switchover step.
type switchover struct {
	x                *steps.Exec
	from, to         string
	fromN, toN       topology.Node
	fc, tc           *goredis.Client
	fromAddr, toAddr string
	ep               topology.Endpoint
	maxPause         time.Duration
	demote           bool

	held, released bool
	holdStart      time.Time
	stall          time.Duration
	pause          time.Duration
	offset         int64
	replicaWait    time.Duration
}

// Switchover moves the master role, and the application's endpoint, from
// one node to its replica without losing an acknowledged write. Everything
// is checked before the first write; a replica that cannot catch up within
// max_pause aborts the switchover with nothing changed.
type Switchover struct{}

// DefaultMaxPause bounds the write pause of a switchover (max_pause).
const DefaultMaxPause = 2 * time.Second

var switchoverSpec = &dsl.KindSpec{
	Name: "switchover",
	Doc: "Moves the master role and the application from one node to another without losing acknowledged writes: " +
		"holds the endpoint, pauses writes on the old master, waits for the replica to reach the master's offset, promotes it, " +
		"repoints the endpoint, demotes the old master to a replica, lets the pause end.",
	DefaultTimeout: time.Minute,
	Args: []dsl.ArgSpec{
		{Name: "from", Type: dsl.ArgNode, Required: true, Doc: "The current master."},
		{Name: "to", Type: dsl.ArgNode, Required: true, Doc: "The replica that becomes master."},
		{Name: "endpoint", Type: dsl.ArgEndpoint, Doc: "The endpoint to repoint to the new master."},
		{Name: "method", Type: dsl.ArgString, Enum: []string{dsl.SwitchAuto, dsl.SwitchPause, dsl.SwitchFailover}, Doc: `"auto" (default: the pause sequence, CLIENT PAUSE WRITE on 6.2+, CLIENT PAUSE on 6.0), "pause", or "failover" (FAILOVER TO, 6.2+).`},
		{Name: "demote", Type: dsl.ArgBool, Doc: "Make the old master a replica of the new one (default true)."},
		{Name: "max_pause", Type: dsl.ArgDuration, Doc: `The longest the old master's writes may stay paused (default "2s"); the switchover aborts safely when the replica cannot catch up in that time.`},
	},
}

func (Switchover) Spec() *dsl.KindSpec { return switchoverSpec }

// Check marks the point of no return: after the switch, the old node can
// follow the new master only if it reads its RDB format and its commands.
func (Switchover) Check(s *dsl.Step, sim *redis.Sim) hcl.Diagnostics {
	diags := dsl.CheckTwoNodes(s, "from", "to")
	from, to := s.NodeArg("from"), s.NodeArg("to")
	vf, okf := sim.Version(from)
	vt, okt := sim.Version(to)
	sim.Detach(to)
	if s.BoolArg("demote", true) {
		sim.Follow(from, to)
	}
	if okf && okt {
		s.PointOfNoReturn = switchPointOfNoReturn(from, to, vf, vt)
	}
	return diags
}

// switchPointOfNoReturn says why, after the master role moved from the
// node from (version vf) to the node to (vt), the old node cannot serve as
// its replica for long; "" when it can.
func switchPointOfNoReturn(from, to string, vf, vt redis.Version) string {
	var why []string
	if err := redis.CheckReplication(vt, vf); err != nil {
		why = append(why, fmt.Sprintf("after it, %q (%s) can follow %q (%s) only by partial resync; a full resync fails: %s", from, vf, to, vt, strings.TrimSuffix(err.Error(), ".")))
	}
	if vf.Engine == redis.EngineRedis && !vf.AtLeast(7, 0) && vt.AtLeast(7, 0) {
		why = append(why, fmt.Sprintf("after the first write on %q (%s), commands such as SET .. EX propagate as SET .. PXAT, which %q (%s) does not know: it diverges silently", to, vt, from, vf))
	}
	return strings.Join(why, "; and ")
}

// Describe names the sequence the rehearsal versions will use.
func (Switchover) Describe(s *dsl.Step, sim *redis.Sim) []string {
	from, to := s.NodeArg("from"), s.NodeArg("to")
	method := s.StringArg("method", dsl.SwitchAuto)
	seq := func(v redis.Version) string {
		switch {
		case method == dsl.SwitchFailover:
			return fmt.Sprintf("FAILOVER TO <node.%s> on node.%s, then waits until node.%s is master", to, from, to)
		case v.HasFailover():
			return "pause sequence (6.2+): CLIENT PAUSE WRITE on the old master, read its master_repl_offset, wait for the replica's offset to reach it, REPLICAOF NO ONE on the replica, repoint the endpoint, REPLICAOF <new> on the old master, CLIENT UNPAUSE"
		default:
			return "pause sequence (6.0, no WRITE pause): min-replicas-to-write 1 as a fence, MULTI/CLIENT PAUSE/INFO replication/EXEC for the offset, wait for the replica to reach it, REPLICAOF NO ONE on the replica (the old master now answers NOREPLICAS), repoint the endpoint, REPLICAOF <new> on the old master when the pause ends, restore min-replicas-to-write"
		}
	}
	var out []string
	if v, ok := sim.Version(from); ok {
		vt, _ := sim.Version(to)
		out = append(out, fmt.Sprintf("method %s; for the rehearsal versions (%s → %s): %s", method, v, vt, seq(v)))
	} else {
		out = append(out, fmt.Sprintf("method %s, chosen at run time from node.%s's version", method, from))
	}
	if a, ok := s.Args["endpoint"]; ok {
		out = append(out, fmt.Sprintf("endpoint.%s: held while the master changes (no command reaches either node), then pointed at node.%s", a.Ref, to))
	}
	if !s.BoolArg("demote", true) {
		out = append(out, fmt.Sprintf("node.%s is left without a master (demote = false)", from))
	}
	out = append(out, fmt.Sprintf("other replicas of node.%s are re-pointed to node.%s; writes stay paused for at most %s", from, to, s.DurationArg("max_pause", DefaultMaxPause)))
	return out
}

// newSwitchover reads the step's arguments: the nodes, their clients and
// the endpoint.
func newSwitchover(x *steps.Exec) (*switchover, error) {
	s := &switchover{x: x, maxPause: x.Step.DurationArg("max_pause", DefaultMaxPause), demote: x.Step.BoolArg("demote", true)}
	var err error
	if s.fromN, s.fc, err = x.NodeArg("from"); err != nil {
		return nil, err
	}
	if s.toN, s.tc, err = x.NodeArg("to"); err != nil {
		return nil, err
	}
	s.from, s.to = s.fromN.Name(), s.toN.Name()
	s.fromAddr, s.toAddr = s.fromN.Address(), s.toN.Address()
	if a := x.Step.Args["endpoint"]; a != nil {
		if s.ep, err = x.Endpoint(a.Ref); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func (Switchover) Run(ctx context.Context, x *steps.Exec) (cty.Value, error) {
	s, err := newSwitchover(x)
	if err != nil {
		return cty.NilVal, err
	}

	// Preflight: read both nodes, decide the sequence, write nothing.
	fi, err := redis.ReadInfo(ctx, s.fc)
	if err != nil {
		return cty.NilVal, fmt.Errorf("INFO on %q: %w", s.from, err)
	}
	ti, err := redis.ReadInfo(ctx, s.tc)
	if err != nil {
		return cty.NilVal, fmt.Errorf("INFO on %q: %w", s.to, err)
	}
	if fi["role"] != "master" {
		return cty.NilVal, steps.Permanent(steps.ErrorAt(x.Step.Args["from"].Range, "Not a master", "Node %q is a %s; a switchover starts from the master.", s.from, fi["role"]))
	}
	if !redis.FollowsMaster(ti, s.fromAddr) {
		now := "a master"
		if ti["role"] == "slave" {
			now = fmt.Sprintf("a replica of %s:%s", ti["master_host"], ti["master_port"])
		}
		return cty.NilVal, steps.Permanent(steps.ErrorAt(x.Step.Args["to"].Range, "Not a replica of the master", "Node %q is %s; it must replicate from %q before a switchover.", s.to, now, s.from))
	}
	if ti["master_link_status"] != "up" || ti["master_sync_in_progress"] != "0" {
		return cty.NilVal, fmt.Errorf("node %q is not in sync with %q (link %s, sync in progress %s)", s.to, s.from, ti["master_link_status"], ti["master_sync_in_progress"])
	}
	fv, err := redis.VersionFromInfo(fi)
	if err != nil {
		return cty.NilVal, err
	}
	tv, err := redis.VersionFromInfo(ti)
	if err != nil {
		return cty.NilVal, err
	}
	seq := seqPauseAll
	if fv.HasFailover() {
		seq = seqPauseWrite
	}
	if x.Step.StringArg("method", dsl.SwitchAuto) == dsl.SwitchFailover {
		if !fv.HasFailover() {
			return cty.NilVal, steps.Permanent(steps.ErrorAt(x.Step.Args["method"].Range, "FAILOVER not available", "Node %q runs %s; FAILOVER exists from 6.2. Use method \"auto\".", s.from, fv))
		}
		seq = seqFailover
	}
	others, err := s.declaredReplicas(redis.Replicas(fi))
	if err != nil {
		return cty.NilVal, steps.Permanent(err)
	}
	x.Log("%s (%s) → %s (%s) by %s, max pause %s", s.from, fv, s.to, tv, seq, s.maxPause)

	switch seq {
	case seqPauseWrite:
		err = s.pauseWrite(ctx)
	case seqPauseAll:
		err = s.pauseAll(ctx)
	case seqFailover:
		err = s.failover(ctx)
	}
	if err != nil {
		return cty.NilVal, err
	}
	reattached, err := s.repointOthers(ctx, others)
	if err != nil {
		return cty.NilVal, err
	}
	x.Log("switched: old master paused %s, application held %s, replica wait %s", s.pause.Round(time.Microsecond), s.stall.Round(time.Microsecond), s.replicaWait.Round(time.Microsecond))
	return s.output(seq, reattached), nil
}

// output is the step's output: the sequence and what it measured.
func (s *switchover) output(seq string, reattached int) cty.Value {
	return cty.ObjectVal(map[string]cty.Value{
		"method":          cty.StringVal(seq),
		"offset":          cty.NumberIntVal(s.offset),
		"held_ms":         cty.NumberFloatVal(ms(s.stall)),
		"pause_ms":        cty.NumberFloatVal(ms(s.pause)),
		"replica_wait_ms": cty.NumberFloatVal(ms(s.replicaWait)),
		"reattached":      cty.NumberIntVal(int64(reattached)),
	})
}

// Resume judges a switchover that was in flight when the run stopped, from
// both nodes' roles (see resume in switchover_resume.go): nothing switched
// yet runs it again; the new node promoted while the old one is still a
// master is finished (endpoint, demotion, other replicas, the 6.0 fence);
// a switchover that went through is done, its endpoint re-pointed again;
// anything else is refused, saying what was found.
func (Switchover) Resume(ctx context.Context, x *steps.Exec) (steps.ResumeDecision, cty.Value, error) {
	s, err := newSwitchover(x)
	if err != nil {
		return steps.ResumeRefuse, cty.NilVal, err
	}
	return s.resume(ctx)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// hold stops the application's commands at the endpoint.
func (s *switchover) hold(ctx context.Context) error {
	if s.ep == nil {
		return nil
	}
	hctx, cancel := context.WithTimeout(ctx, s.maxPause)
	defer cancel()
	s.holdStart = time.Now()
	s.held = true
	if err := s.ep.Hold(hctx); err != nil {
		s.release()
		return fmt.Errorf("hold endpoint: commands in flight did not finish within %s: %w", s.maxPause, err)
	}
	return nil
}

// release lets the application's commands flow again; idempotent.
func (s *switchover) release() {
	if s.ep == nil || !s.held || s.released {
		return
	}
	s.ep.Release()
	s.released = true
	s.stall = time.Since(s.holdStart)
}

func (s *switchover) repointEndpoint(ctx context.Context) error {
	if s.ep == nil {
		return nil
	}
	if err := s.ep.Repoint(ctx, s.to, s.toAddr); err != nil {
		return fmt.Errorf("repoint endpoint to %q: %w", s.to, err)
	}
	return nil
}

// pauseWrite is the 6.2+ sequence: hold the endpoint, CLIENT PAUSE WRITE on
// the master, read its offset, wait for the replica to reach it, promote the
// replica, repoint, release, demote the old master, unpause.
func (s *switchover) pauseWrite(ctx context.Context) error {
	if err := s.hold(ctx); err != nil {
		return err
	}
	defer s.release()
	start := time.Now()
	pauseMS := strconv.FormatInt(s.maxPause.Milliseconds(), 10)
	if err := s.fc.Do(ctx, "CLIENT", "PAUSE", pauseMS, "WRITE").Err(); err != nil {
		return fmt.Errorf("CLIENT PAUSE WRITE on %q: %w", s.from, err)
	}
	paused := true
	unpause := func() {
		if paused {
			_ = s.fc.Do(context.WithoutCancel(ctx), "CLIENT", "UNPAUSE").Err()
			paused = false
			s.pause = time.Since(start)
		}
	}
	defer unpause()
	info, err := redis.ReadInfo(ctx, s.fc, "replication")
	if err != nil {
		return fmt.Errorf("INFO replication on %q: %w", s.from, err)
	}
	s.offset = redis.Int(info, "master_repl_offset")
	if err := s.waitOffset(ctx, start.Add(s.maxPause-s.maxPause/10)); err != nil {
		return err
	}
	if err := s.handOver(ctx, s.fc); err != nil {
		return err
	}
	unpause()
	return nil
}

// handOver is the part of a pause sequence after the replica caught up:
// promote it, repoint and release the endpoint, demote the old master
// through c. From the promotion on it must finish: an interrupt or the
// step's timeout must not release the application to the old master, so it
// runs on a context of its own.
func (s *switchover) handOver(ctx context.Context, c *goredis.Client) error {
	ctx, cancel := s.critical(ctx)
	defer cancel()
	if err := s.promote(ctx); err != nil {
		return err
	}
	if err := s.repointEndpoint(ctx); err != nil {
		return err
	}
	s.release()
	if !s.demote {
		return nil
	}
	if err := redis.ReplicaOf(ctx, c, s.from, s.toAddr, s.toN.MasterAuth()); err != nil {
		return fmt.Errorf("demote %q: %w", s.from, err)
	}
	return nil
}

// critical returns the context for the part of a switchover that must run
// to its end once the replica is promoted: not cancelled with the run or the
// step, bounded on its own.
func (s *switchover) critical(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), s.maxPause+30*time.Second)
}

// promote sends REPLICAOF NO ONE to the new master. When the reply is lost
// (a network error), the node's role tells whether it took effect: a
// promoted node must not be left behind the old master's back.
func (s *switchover) promote(ctx context.Context) error {
	err := s.tc.Do(ctx, "REPLICAOF", "NO", "ONE").Err()
	if err == nil {
		return nil
	}
	if info, ierr := redis.ReadInfo(ctx, s.tc, "replication"); ierr == nil && info["role"] == "master" {
		s.x.Log("REPLICAOF NO ONE on %s answered %v, but the node is master: going on", s.to, err)
		return nil
	}
	return fmt.Errorf("REPLICAOF NO ONE on %q: %w (it is still a replica: nothing was switched)", s.to, err)
}

// pauseAll is the 6.0 sequence, where CLIENT PAUSE pauses every client and
// cannot be lifted early: min-replicas-to-write 1 fences the old master (it
// answers NOREPLICAS once its replica is promoted), MULTI/CLIENT PAUSE/INFO/
// EXEC reads the offset at the instant the pause began, the replica is
// promoted once it reaches it, and the old master is demoted when its pause
// ends.
func (s *switchover) pauseAll(ctx context.Context) error {
	restore, err := s.fence(ctx)
	if err != nil {
		return err
	}
	// The old master's commands block until its pause ends: give the
	// controller's connection a read timeout longer than the pause.
	slow := s.fc.WithTimeout(s.maxPause + 10*time.Second)
	defer restore(slow)
	if err := s.hold(ctx); err != nil {
		return err
	}
	defer s.release()
	start := time.Now()
	pipe := s.fc.TxPipeline()
	pipe.Do(ctx, "CLIENT", "PAUSE", strconv.FormatInt(s.maxPause.Milliseconds(), 10))
	infoCmd := pipe.Info(ctx, "replication")
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("MULTI/CLIENT PAUSE/INFO/EXEC on %q: %w", s.from, err)
	}
	s.offset = redis.Int(redis.ParseInfo(infoCmd.Val()), "master_repl_offset")
	if err := s.waitOffset(ctx, start.Add(s.maxPause-s.maxPause/5)); err != nil {
		return fmt.Errorf("%w (the old master's pause ends by itself after %s)", err, s.maxPause)
	}
	// The demotion waits for the old master's pause to end.
	s.pause = s.maxPause
	return s.handOver(ctx, slow)
}

// fence sets min-replicas-to-write 1 on the old master so that, once its
// replica is promoted, it refuses writes (NOREPLICAS) instead of accepting
// writes that would be lost. restore puts the old value back.
func (s *switchover) fence(ctx context.Context) (restore func(*goredis.Client), err error) {
	old, err := s.fc.ConfigGet(ctx, "min-replicas-to-write").Result()
	if err != nil {
		return nil, fmt.Errorf("CONFIG GET min-replicas-to-write on %q: %w", s.from, err)
	}
	prev := old["min-replicas-to-write"]
	if prev != "0" && prev != "" {
		return func(*goredis.Client) {}, nil
	}
	// Said (and journaled) before it is set: a resumed run restores it.
	s.x.Log(fenceLog, s.from)
	if err := s.fc.ConfigSet(ctx, "min-replicas-to-write", "1").Err(); err != nil {
		return nil, fmt.Errorf("CONFIG SET min-replicas-to-write 1 on %q: %w", s.from, err)
	}
	return func(c *goredis.Client) {
		if err := c.ConfigSet(context.WithoutCancel(ctx), "min-replicas-to-write", "0").Err(); err != nil {
			s.x.Log("warning: could not restore min-replicas-to-write 0 on %s: %v", s.from, err)
		}
	}, nil
}

// failover is FAILOVER TO (6.2+): the master pauses its writes, waits for
// the replica and swaps roles itself; understudy holds the endpoint around it.
func (s *switchover) failover(ctx context.Context) error {
	if err := s.hold(ctx); err != nil {
		return err
	}
	defer s.release()
	start := time.Now()
	host, port, _ := net.SplitHostPort(s.toAddr)
	if err := s.fc.Do(ctx, "FAILOVER", "TO", host, port, "TIMEOUT", strconv.FormatInt(s.maxPause.Milliseconds(), 10)).Err(); err != nil {
		return fmt.Errorf("FAILOVER TO on %q: %w", s.from, err)
	}
	// The servers now swap roles by themselves: follow it to the end.
	ctx, cancel := s.critical(ctx)
	defer cancel()
	deadline := start.Add(s.maxPause + 5*time.Second)
	for {
		fi, err := redis.ReadInfo(ctx, s.fc, "replication")
		if err != nil {
			return fmt.Errorf("INFO replication on %q: %w", s.from, err)
		}
		ti, err := redis.ReadInfo(ctx, s.tc, "replication")
		if err != nil {
			return fmt.Errorf("INFO replication on %q: %w", s.to, err)
		}
		if ti["role"] == "master" && fi["master_failover_state"] == "no-failover" {
			break
		}
		if fi["role"] == "master" && fi["master_failover_state"] == "no-failover" && time.Since(start) > 100*time.Millisecond {
			return fmt.Errorf("FAILOVER on %q was aborted: it is still master", s.from)
		}
		if time.Now().After(deadline) {
			_ = s.fc.Do(context.WithoutCancel(ctx), "FAILOVER", "ABORT").Err()
			return fmt.Errorf("FAILOVER did not complete within %s (state %s); aborted", s.maxPause, fi["master_failover_state"])
		}
		time.Sleep(time.Millisecond)
	}
	s.pause = time.Since(start)
	if err := s.repointEndpoint(ctx); err != nil {
		return err
	}
	s.release()
	if !s.demote {
		if err := s.fc.Do(ctx, "REPLICAOF", "NO", "ONE").Err(); err != nil {
			return fmt.Errorf("detach %q: %w", s.from, err)
		}
	}
	return nil
}

// waitOffset polls the replica until its offset reaches s.offset, with its
// link up, or the deadline passes. It waits on the condition, not a timer.
func (s *switchover) waitOffset(ctx context.Context, deadline time.Time) error {
	start := time.Now()
	defer func() { s.replicaWait = time.Since(start) }()
	if _, err := redis.WaitOffset(ctx, s.tc, s.offset, deadline); err != nil {
		return fmt.Errorf("replica %q %w; nothing was switched", s.to, err)
	}
	return nil
}

// declaredReplicas maps the addresses of the old master's replicas other
// than the new master to runbook nodes. A replica the runbook does not
// declare cannot be reached with its credentials: the switchover is refused
// before any write rather than leaving it behind.
func (s *switchover) declaredReplicas(addrs []string) ([]topology.Node, error) {
	var nodes []topology.Node
	for _, addr := range addrs {
		if redis.SameAddr(addr, s.toAddr) {
			continue
		}
		n, ok := topology.NodeByAddress(s.x.Topology(), s.x.Runbook().NodeNames(), addr)
		if !ok {
			return nil, fmt.Errorf("replica %s of %q is not a node of this runbook, so it could not be re-pointed to %q after the switchover; declare it as a node (nothing was changed)", addr, s.from, s.to)
		}
		nodes = append(nodes, n)
	}
	return nodes, nil
}

// repointOthers makes the other replicas of the old master follow the new
// one.
func (s *switchover) repointOthers(ctx context.Context, others []topology.Node) (int, error) {
	n := 0
	for _, o := range others {
		c, err := o.Client()
		if err != nil {
			return n, fmt.Errorf("re-point replica %q: %w", o.Name(), err)
		}
		if err := redis.ReplicaOf(ctx, c, o.Name(), s.toAddr, s.toN.MasterAuth()); err != nil {
			return n, fmt.Errorf("re-point replica %q: %w", o.Name(), err)
		}
		n++
	}
	return n, nil
}
