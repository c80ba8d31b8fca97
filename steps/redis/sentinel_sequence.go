package redis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// pauseSequence is steps 2-7 of SentinelSwitchover.
func (s *sentinelSwitch) pauseSequence(ctx context.Context) error {
	o := s.o
	readAt, age, err := s.waitWindow(ctx)
	if err != nil {
		return err
	}
	leader := o.Sentinels[s.leader]
	s.res.Leader = sentinelAddr(leader)
	if err := s.setFence(ctx); err != nil {
		return err
	}
	if err := s.pause(ctx); err != nil {
		s.restoreFence(ctx)
		return err
	}
	// Before SENTINEL FAILOVER, every failure leaves things as they were.
	abort := func(err error) error {
		s.unpause(ctx)
		s.restoreFence(ctx)
		return fmt.Errorf("%w; nothing was switched", err)
	}
	offStart := time.Now()
	_, err = WaitOffset(ctx, o.Replica.Client, s.res.Offset, s.pausedAt.Add(o.MaxPause/4))
	s.res.OffsetWait = time.Since(offStart)
	if err != nil {
		return abort(fmt.Errorf("replica %s %w", o.Replica.Addr, err))
	}

	// From SENTINEL FAILOVER on, Sentinel may promote the replica at any
	// moment: the rest runs to its end, on a context of its own.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.MaxPause+2*o.WaitLimit)
	defer cancel()
	s.failAt = time.Now()
	s.res.FailoverAt = s.failAt
	s.res.InfoRefresh = age + s.failAt.Sub(readAt)
	if err := leader.Process(cctx, goredis.NewStatusCmd(cctx, "sentinel", "failover", o.MasterName)); err != nil {
		var reply goredis.Error
		if errors.As(err, &reply) {
			// The sentinel refused (NOGOODSLAVE, INPROG, NOPERM...): no
			// failover started.
			return abort(fmt.Errorf("SENTINEL FAILOVER %s on %s: %w", o.MasterName, s.res.Leader, err))
		}
		// No reply: the failover may have started. Go on as if it had;
		// the fence stays until it is known.
		o.Log("SENTINEL FAILOVER %s on %s got no reply (%v): waiting to see whether it started", o.MasterName, s.res.Leader, err)
	}
	o.Log("SENTINEL FAILOVER sent to %s at info-refresh %s, %s into the pause", s.res.Leader, s.res.InfoRefresh.Round(time.Millisecond), s.failAt.Sub(s.pausedAt).Round(time.Microsecond))

	// Wait for the promotion and every sentinel's report while paused,
	// keeping time to demote and unpause before the pause ends.
	pauseEnd := s.pausedAt.Add(o.MaxPause)
	reportBy := pauseEnd.Add(-150 * time.Millisecond)
	if !s.version.HasFailover() {
		reportBy = pauseEnd.Add(o.WaitLimit) // 6.0: nothing to gain by hurrying
	}
	reported, err := s.waitReported(cctx, reportBy)
	if err != nil {
		return err
	}
	if reported {
		if err := s.demote(cctx); err != nil {
			s.unpause(cctx)
			return fmt.Errorf("%w (the fence min-replicas-to-write stays on %s: restore it once it follows %s)", err, o.Master.Addr, o.Replica.Addr)
		}
		s.unpause(cctx)
		s.restoreFence(cctx)
		return s.waitFollowers(cctx)
	}
	return s.settleLate(cctx)
}

// settleLate handles a pause that ran out before every sentinel reported
// the new master. The fence keeps the old master from accepting a write
// once the replica leaves it; the pause ends now. Then: the replica
// promoted → demote the old master and wait for the sentinels; Sentinel's
// failover over without a promotion → restore the fence; neither within
// WaitLimit → the fence stays, and the error says so.
func (s *sentinelSwitch) settleLate(ctx context.Context) error {
	o := s.o
	s.unpause(ctx)
	o.Log("the sentinels did not all report %s before the pause ran out: the pause ended, the fence stays", o.Replica.Addr)
	deadline := time.Now().Add(o.WaitLimit)
	for {
		ri, err := ReadInfo(ctx, o.Replica.Client, "replication")
		if err == nil && ri["role"] == "master" {
			if err := s.demote(ctx); err != nil {
				return fmt.Errorf("%w (the fence min-replicas-to-write stays on %s)", err, o.Master.Addr)
			}
			s.restoreFence(ctx)
			if ok, err := s.waitReported(ctx, deadline); err != nil || !ok {
				return fmt.Errorf("%s was promoted and %s demoted, but not every sentinel reports it as the master after %s (%s): check the sentinels", o.Replica.Addr, o.Master.Addr, time.Since(s.failAt).Round(time.Millisecond), s.disagreement(ctx))
			}
			if err := s.waitFollowers(ctx); err != nil {
				return err
			}
			return fmt.Errorf("switched to %s, but the sentinels reported it after the old master's pause had ended (%s after SENTINEL FAILOVER): writes may have failed in between, none was lost", o.Replica.Addr, s.res.Reported.Round(time.Millisecond))
		}
		m, err := SentinelMasterInfo(ctx, o.Sentinels[s.leader], o.MasterName)
		if err == nil && !m.FailoverInProgress() && SameAddr(m.Addr, o.Master.Addr) {
			s.restoreFence(ctx)
			return fmt.Errorf("sentinel %s ended its failover without promoting %s; nothing was switched", s.res.Leader, o.Replica.Addr)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("sentinel %s neither promoted %s nor ended its failover within %s of the pause's end: the fence min-replicas-to-write stays on %s until it does (restore it then)", s.res.Leader, o.Replica.Addr, o.WaitLimit, o.Master.Addr)
		}
		if err := sleep(ctx, 20*time.Millisecond); err != nil {
			return err
		}
	}
}

// waitReported polls until the replica reports itself master and every
// sentinel's GET-MASTER-ADDR-BY-NAME names it, or until the deadline
// (false, nil). Errors of single polls are passing: Sentinel kills the
// replica's client connections when it promotes it.
func (s *sentinelSwitch) waitReported(ctx context.Context, deadline time.Time) (bool, error) {
	o := s.o
	for {
		if s.res.Promoted == 0 {
			if ri, err := ReadInfo(ctx, o.Replica.Client, "replication"); err == nil && ri["role"] == "master" {
				s.res.Promoted = time.Since(s.failAt)
			}
		}
		if s.res.Promoted > 0 && s.allReport(ctx, o.Replica.Addr) {
			s.res.Reported = time.Since(s.failAt)
			return true, nil
		}
		if time.Now().After(deadline) {
			return false, nil
		}
		if err := sleep(ctx, time.Millisecond); err != nil {
			return false, err
		}
	}
}

// allReport reports whether every sentinel that answered the preflight
// names addr as the master.
func (s *sentinelSwitch) allReport(ctx context.Context, addr string) bool {
	for _, c := range s.answering {
		got, err := SentinelMasterAddr(ctx, c, s.o.MasterName)
		if err != nil || !SameAddr(got, addr) {
			return false
		}
	}
	return true
}

// disagreement lists what each sentinel reports, for errors.
func (s *sentinelSwitch) disagreement(ctx context.Context) string {
	var parts []string
	for _, c := range s.o.Sentinels {
		got, err := SentinelMasterAddr(ctx, c, s.o.MasterName)
		if err != nil {
			got = err.Error()
		}
		parts = append(parts, sentinelAddr(c)+": "+got)
	}
	return strings.Join(parts, ", ")
}

// setFence sets min-replicas-to-write to the number of replicas online on
// the old master (and min-replicas-max-lag to 10 when it is 0, which would
// disable the check), so that the old master refuses writes as soon as one
// of them leaves: Sentinel's promoted replica leaves it first.
func (s *sentinelSwitch) setFence(ctx context.Context) error {
	o := s.o
	info, err := ReadInfo(ctx, o.Master.Client, "replication")
	if err != nil {
		return fmt.Errorf("INFO replication on the master %s: %w", o.Master.Addr, err)
	}
	online := 0
	for k, v := range info {
		if rest, ok := strings.CutPrefix(k, "slave"); ok {
			if _, err := strconv.Atoi(rest); err == nil && strings.Contains(v, "state=online") {
				online++
			}
		}
	}
	if online == 0 {
		return fmt.Errorf("the master %s has no replica online: nothing to fail over to", o.Master.Addr)
	}
	cur, err := o.Master.Client.ConfigGet(ctx, "min-replicas-*").Result()
	if err != nil {
		return fmt.Errorf("CONFIG GET min-replicas-* on %s: %w", o.Master.Addr, err)
	}
	f := &fence{toWrite: cur["min-replicas-to-write"], maxLag: cur["min-replicas-max-lag"]}
	if n, _ := strconv.Atoi(f.toWrite); n >= online && f.maxLag != "0" {
		return nil // already as strict
	}
	s.fence = f
	o.Log("fence: min-replicas-to-write %d on %s (was %s)", online, o.Master.Addr, f.toWrite)
	if f.maxLag == "0" {
		if err := o.Master.Client.ConfigSet(ctx, "min-replicas-max-lag", "10").Err(); err != nil {
			s.restoreFence(ctx)
			return fmt.Errorf("CONFIG SET min-replicas-max-lag 10 on %s: %w", o.Master.Addr, err)
		}
	}
	if err := o.Master.Client.ConfigSet(ctx, "min-replicas-to-write", strconv.Itoa(online)).Err(); err != nil {
		s.restoreFence(ctx)
		return fmt.Errorf("CONFIG SET min-replicas-to-write %d on %s: %w", online, o.Master.Addr, err)
	}
	return nil
}

// restoreFence puts the old master's min-replicas settings back.
func (s *sentinelSwitch) restoreFence(ctx context.Context) {
	if s.fence == nil {
		return
	}
	ctx = context.WithoutCancel(ctx)
	c := s.o.Master.Client
	if s.slowM != nil {
		c = s.slowM
	}
	err := c.ConfigSet(ctx, "min-replicas-to-write", s.fence.toWrite).Err()
	if err == nil {
		err = c.ConfigSet(ctx, "min-replicas-max-lag", s.fence.maxLag).Err()
	}
	if err != nil {
		s.o.Log("warning: could not restore min-replicas-to-write %s / min-replicas-max-lag %s on %s: %v", s.fence.toWrite, s.fence.maxLag, s.o.Master.Addr, err)
		return
	}
	s.fence = nil
}

// pause pauses the old master's writes and reads its offset after the
// pause began: CLIENT PAUSE WRITE then INFO (6.2+), or MULTI / CLIENT
// PAUSE / INFO / EXEC (6.0, where every later command blocks until the
// pause ends, so the old master's client gets a longer read timeout).
func (s *sentinelSwitch) pause(ctx context.Context) error {
	o := s.o
	ms := strconv.FormatInt(o.MaxPause.Milliseconds(), 10)
	if s.version.HasFailover() {
		s.pausedAt = time.Now()
		if err := o.Master.Client.Do(ctx, "CLIENT", "PAUSE", ms, "WRITE").Err(); err != nil {
			return fmt.Errorf("CLIENT PAUSE WRITE on %s: %w", o.Master.Addr, err)
		}
		s.paused = true
		info, err := ReadInfo(ctx, o.Master.Client, "replication")
		if err != nil {
			s.unpause(ctx)
			return fmt.Errorf("INFO replication on %s: %w", o.Master.Addr, err)
		}
		s.res.Offset = Int(info, "master_repl_offset")
		return nil
	}
	s.slowM = o.Master.Client.WithTimeout(o.MaxPause + 10*time.Second)
	s.pausedAt = time.Now()
	pipe := s.slowM.TxPipeline()
	pipe.Do(ctx, "CLIENT", "PAUSE", ms)
	infoCmd := pipe.Info(ctx, "replication")
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("MULTI/CLIENT PAUSE/INFO/EXEC on %s: %w", o.Master.Addr, err)
	}
	s.paused = true
	s.res.Offset = Int(ParseInfo(infoCmd.Val()), "master_repl_offset")
	return nil
}

// unpause ends the pause (6.2+); on 6.0 the pause ends by itself and this
// only records its length.
func (s *sentinelSwitch) unpause(ctx context.Context) {
	if !s.paused {
		return
	}
	if s.version.HasFailover() {
		if err := s.o.Master.Client.Do(context.WithoutCancel(ctx), "CLIENT", "UNPAUSE").Err(); err != nil {
			s.o.Log("warning: CLIENT UNPAUSE on %s: %v (the pause ends by itself after %s)", s.o.Master.Addr, err, s.o.MaxPause)
		}
		s.res.Pause = time.Since(s.pausedAt)
	} else {
		s.res.Pause = max(time.Since(s.pausedAt), s.o.MaxPause)
	}
	s.paused = false
}

// demote makes the old master a replica of the new one. On 6.0 the
// command waits for the pause to end.
func (s *sentinelSwitch) demote(ctx context.Context) error {
	c := s.o.Master.Client
	if s.slowM != nil {
		c = s.slowM
	}
	if err := ReplicaOf(ctx, c, s.o.Master.Addr, s.o.Replica.Addr, s.o.Auth); err != nil {
		return fmt.Errorf("demote the old master: %w", err)
	}
	return nil
}

// waitFollowers waits until the other replicas and the old master follow
// the new master with their link up.
func (s *sentinelSwitch) waitFollowers(ctx context.Context) error {
	start := time.Now()
	defer func() { s.res.ReplicasWait = time.Since(start) }()
	nodes := append([]SwitchoverNode{s.o.Master}, s.others...)
	// An old master that cannot read the new master's RDB follows it but
	// cannot finish a full sync until it is upgraded: on 6.0 the
	// sentinels' hello messages, queued in the pause, reach its
	// replication stream before the demotion and rule out a partial
	// resync. Its link is not waited for; the log says why.
	cannotSync := ""
	if nv, err := ServerVersion(ctx, s.o.Replica.Client); err == nil {
		if err := CheckReplication(nv, s.version); err != nil {
			cannotSync = err.Error()
		}
	}
	deadline := start.Add(s.o.WaitLimit)
	noted := false
	for {
		var behind []string
		for i, n := range nodes {
			info, err := ReadInfo(ctx, n.Client, "replication")
			switch {
			case err != nil:
				behind = append(behind, fmt.Sprintf("%s: %v", n.Addr, err))
			case !FollowsMaster(info, s.o.Replica.Addr):
				behind = append(behind, fmt.Sprintf("%s is a %s following %s:%s", n.Addr, RoleFromInfo(info), info["master_host"], info["master_port"]))
			case info["master_link_status"] != "up" && i == 0 && cannotSync != "":
				if !noted {
					s.o.Log("the old master %s follows %s but its link is %s: %s (upgrade it next)", n.Addr, s.o.Replica.Addr, info["master_link_status"], cannotSync)
					noted = true
				}
			case info["master_link_status"] != "up":
				behind = append(behind, fmt.Sprintf("%s's link is %s", n.Addr, info["master_link_status"]))
			}
		}
		if len(behind) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("switched to %s, but not every replica follows it after %s: %s", s.o.Replica.Addr, s.o.WaitLimit, strings.Join(behind, "; "))
		}
		if err := sleep(ctx, 20*time.Millisecond); err != nil {
			return err
		}
	}
}

// coordinated sends SENTINEL FAILOVER <name> COORDINATED and waits until
// the replica is master, every sentinel reports it, and the old master and
// the other replicas follow it. Sentinel pauses, checks offsets, demotes
// and unpauses by itself.
func (s *sentinelSwitch) coordinated(ctx context.Context) error {
	o := s.o
	leader := o.Sentinels[s.leader]
	s.res.Leader = sentinelAddr(leader)
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 3*o.WaitLimit)
	defer cancel()
	s.failAt = time.Now()
	s.res.FailoverAt = s.failAt
	if err := leader.Process(cctx, goredis.NewStatusCmd(cctx, "sentinel", "failover", o.MasterName, "coordinated")); err != nil {
		return fmt.Errorf("SENTINEL FAILOVER %s COORDINATED on %s: %w; nothing was switched", o.MasterName, s.res.Leader, err)
	}
	ok, err := s.waitReported(cctx, s.failAt.Add(o.WaitLimit))
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("SENTINEL FAILOVER %s COORDINATED: %s not reported as the master by every sentinel within %s (%s)", o.MasterName, o.Replica.Addr, o.WaitLimit, s.disagreement(cctx))
	}
	return s.waitFollowers(cctx)
}

// sentinelAddr names a sentinel in messages.
func sentinelAddr(c *goredis.Client) string { return c.Options().Addr }

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
