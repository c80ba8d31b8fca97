package steps

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/understudy/understudy/dsl"
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
	x                *Exec
	from, to         string
	fc, tc           *redis.Client
	fromAddr, toAddr string
	ep               Endpoint
	maxPause         time.Duration
	demote           bool

	held, released bool
	holdStart      time.Time
	stall          time.Duration
	pause          time.Duration
	offset         int64
	replicaWait    time.Duration
}

// runSwitchover moves the master role, and the application's endpoint, from
// one node to its replica without losing an acknowledged write. Everything
// is checked before the first write; a replica that cannot catch up within
// max_pause aborts the switchover with nothing changed.
func runSwitchover(ctx context.Context, x *Exec) (cty.Value, error) {
	s := &switchover{x: x, maxPause: x.Step.DurationArg("max_pause", dsl.DefaultMaxPause), demote: x.Step.BoolArg("demote", true)}
	var err error
	if s.from, s.fc, err = x.NodeArg("from"); err != nil {
		return cty.NilVal, err
	}
	if s.to, s.tc, err = x.NodeArg("to"); err != nil {
		return cty.NilVal, err
	}
	if s.fromAddr, err = x.Backend().Address(s.from); err != nil {
		return cty.NilVal, err
	}
	if s.toAddr, err = x.Backend().Address(s.to); err != nil {
		return cty.NilVal, err
	}
	if a := x.Step.Args["endpoint"]; a != nil {
		if s.ep, err = x.Endpoint(a.Ref); err != nil {
			return cty.NilVal, err
		}
	}

	// Preflight: read both nodes, decide the sequence, write nothing.
	fi, err := ReadInfo(ctx, s.fc)
	if err != nil {
		return cty.NilVal, fmt.Errorf("INFO on %q: %w", s.from, err)
	}
	ti, err := ReadInfo(ctx, s.tc)
	if err != nil {
		return cty.NilVal, fmt.Errorf("INFO on %q: %w", s.to, err)
	}
	if fi["role"] != "master" {
		return cty.NilVal, Permanent(errorAt(x.Step.Args["from"].Range, "Not a master", "Node %q is a %s; a switchover starts from the master.", s.from, fi["role"]))
	}
	if ti["role"] != "slave" || !sameAddr(net.JoinHostPort(ti["master_host"], ti["master_port"]), s.fromAddr) {
		now := "a master"
		if ti["role"] == "slave" {
			now = fmt.Sprintf("a replica of %s:%s", ti["master_host"], ti["master_port"])
		}
		return cty.NilVal, Permanent(errorAt(x.Step.Args["to"].Range, "Not a replica of the master", "Node %q is %s; it must replicate from %q before a switchover.", s.to, now, s.from))
	}
	if ti["master_link_status"] != "up" || ti["master_sync_in_progress"] != "0" {
		return cty.NilVal, fmt.Errorf("node %q is not in sync with %q (link %s, sync in progress %s)", s.to, s.from, ti["master_link_status"], ti["master_sync_in_progress"])
	}
	fv, err := nodeVersion(fi)
	if err != nil {
		return cty.NilVal, err
	}
	tv, err := nodeVersion(ti)
	if err != nil {
		return cty.NilVal, err
	}
	seq := seqPauseAll
	if fv.HasFailover() {
		seq = seqPauseWrite
	}
	if x.Step.StringArg("method", dsl.SwitchAuto) == dsl.SwitchFailover {
		if !fv.HasFailover() {
			return cty.NilVal, Permanent(errorAt(x.Step.Args["method"].Range, "FAILOVER not available", "Node %q runs %s; FAILOVER exists from 6.2. Use method \"auto\".", s.from, fv))
		}
		seq = seqFailover
	}
	others, err := s.declaredReplicas(otherReplicas(fi, s.toAddr))
	if err != nil {
		return cty.NilVal, Permanent(err)
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
	return cty.ObjectVal(map[string]cty.Value{
		"method":          cty.StringVal(seq),
		"offset":          cty.NumberIntVal(s.offset),
		"held_ms":         cty.NumberFloatVal(ms(s.stall)),
		"pause_ms":        cty.NumberFloatVal(ms(s.pause)),
		"replica_wait_ms": cty.NumberFloatVal(ms(s.replicaWait)),
		"reattached":      cty.NumberIntVal(int64(reattached)),
	}), nil
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
	info, err := ReadInfo(ctx, s.fc, "replication")
	if err != nil {
		return fmt.Errorf("INFO replication on %q: %w", s.from, err)
	}
	s.offset = infoInt(info, "master_repl_offset")
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
func (s *switchover) handOver(ctx context.Context, c *redis.Client) error {
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
	if err := replicaOfWith(ctx, c, s.from, s.toAddr, s.x.Backend().MasterAuth(s.to)); err != nil {
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
	if info, ierr := ReadInfo(ctx, s.tc, "replication"); ierr == nil && info["role"] == "master" {
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
	s.offset = infoInt(parseInfo(infoCmd.Val()), "master_repl_offset")
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
func (s *switchover) fence(ctx context.Context) (restore func(*redis.Client), err error) {
	old, err := s.fc.ConfigGet(ctx, "min-replicas-to-write").Result()
	if err != nil {
		return nil, fmt.Errorf("CONFIG GET min-replicas-to-write on %q: %w", s.from, err)
	}
	prev := old["min-replicas-to-write"]
	if prev != "0" && prev != "" {
		return func(*redis.Client) {}, nil
	}
	if err := s.fc.ConfigSet(ctx, "min-replicas-to-write", "1").Err(); err != nil {
		return nil, fmt.Errorf("CONFIG SET min-replicas-to-write 1 on %q: %w", s.from, err)
	}
	return func(c *redis.Client) {
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
		fi, err := ReadInfo(ctx, s.fc, "replication")
		if err != nil {
			return fmt.Errorf("INFO replication on %q: %w", s.from, err)
		}
		ti, err := ReadInfo(ctx, s.tc, "replication")
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
	for polls := 0; ; polls++ {
		info, err := ReadInfo(ctx, s.tc, "replication")
		if err != nil {
			return fmt.Errorf("INFO replication on %q: %w", s.to, err)
		}
		if info["master_link_status"] == "up" && infoInt(info, "slave_repl_offset") >= s.offset {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("replica %q did not reach the master's offset %d (at %s, link %s) in time; nothing was switched",
				s.to, s.offset, info["slave_repl_offset"], info["master_link_status"])
		}
		if polls > 20 {
			time.Sleep(200 * time.Microsecond)
		}
	}
}

// otherReplicas lists the addresses of the master's replicas other than
// skip, from its slaveN INFO fields (ip=..,port=..,state=..).
func otherReplicas(info map[string]string, skip string) []string {
	var out []string
	for k, v := range info {
		if !strings.HasPrefix(k, "slave") || k == "slave_repl_offset" || k == "slave_read_repl_offset" {
			continue
		}
		if _, err := strconv.Atoi(k[len("slave"):]); err != nil {
			continue
		}
		f := map[string]string{}
		for _, part := range strings.Split(v, ",") {
			if a, b, ok := strings.Cut(part, "="); ok {
				f[a] = b
			}
		}
		addr := net.JoinHostPort(f["ip"], f["port"])
		if !sameAddr(addr, skip) {
			out = append(out, addr)
		}
	}
	return out
}

// declaredReplicas maps the addresses of the old master's other replicas to
// runbook nodes. A replica the runbook does not declare cannot be reached
// with its credentials: the switchover is refused before any write rather
// than leaving it behind.
func (s *switchover) declaredReplicas(addrs []string) ([]string, error) {
	var names []string
	for _, addr := range addrs {
		name := ""
		for _, cand := range s.x.Runbook().NodeNames() {
			if a, err := s.x.Backend().Address(cand); err == nil && sameAddr(a, addr) {
				name = cand
			}
		}
		if name == "" {
			return nil, fmt.Errorf("replica %s of %q is not a node of this runbook, so it could not be re-pointed to %q after the switchover; declare it as a node (nothing was changed)", addr, s.from, s.to)
		}
		names = append(names, name)
	}
	return names, nil
}

// repointOthers makes the other replicas of the old master follow the new
// one.
func (s *switchover) repointOthers(ctx context.Context, others []string) (int, error) {
	n := 0
	for _, name := range others {
		if err := replicaOf(ctx, s.x, name, s.toAddr, s.x.Backend().MasterAuth(s.to)); err != nil {
			return n, fmt.Errorf("re-point replica %q: %w", name, err)
		}
		n++
	}
	return n, nil
}

// replicaOfWith is replicaOf with an explicit client.
func replicaOfWith(ctx context.Context, c *redis.Client, node, masterAddr string, auth Auth) error {
	host, port, err := net.SplitHostPort(masterAddr)
	if err != nil {
		return fmt.Errorf("master address %q: %w", masterAddr, err)
	}
	if auth.User != "" {
		if err := c.ConfigSet(ctx, "masteruser", auth.User).Err(); err != nil {
			return fmt.Errorf("CONFIG SET masteruser on %q: %w", node, err)
		}
	}
	if auth.Password != "" {
		if err := c.ConfigSet(ctx, "masterauth", auth.Password).Err(); err != nil {
			return fmt.Errorf("CONFIG SET masterauth on %q: %w", node, err)
		}
	}
	if err := c.Do(ctx, "REPLICAOF", host, port).Err(); err != nil {
		return fmt.Errorf("REPLICAOF %s %s on %q: %w", host, port, node, err)
	}
	return nil
}
