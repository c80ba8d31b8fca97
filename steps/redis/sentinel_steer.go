package redis

import (
	"context"
	"fmt"
	"time"
)

// steer sets replica-priority 0 on the other replicas and a non-zero one
// on the chosen replica. Sentinels read priorities only from INFO, every
// 10 s: the waits that follow check each sentinel's view.
func (s *sentinelSwitch) steer(ctx context.Context) error {
	set := func(n SwitchoverNode, want string, keep func(string) bool) error {
		cur, err := n.Client.ConfigGet(ctx, "replica-priority").Result()
		if err != nil {
			return fmt.Errorf("CONFIG GET replica-priority on %s: %w", n.Addr, err)
		}
		old, ok := cur["replica-priority"]
		if !ok {
			old = cur["slave-priority"]
		}
		if keep(old) {
			return nil
		}
		s.priority[n.Addr] = prio{c: n.Client, old: old}
		if err := n.Client.ConfigSet(ctx, "replica-priority", want).Err(); err != nil {
			return fmt.Errorf("CONFIG SET replica-priority %s on %s: %w", want, n.Addr, err)
		}
		return nil
	}
	for _, n := range s.others {
		if err := set(n, "0", func(v string) bool { return v == "0" }); err != nil {
			return err
		}
	}
	if err := set(s.o.Replica, "100", func(v string) bool { return v != "0" }); err != nil {
		return err
	}
	if len(s.priority) > 0 {
		s.o.Log("replica-priority set on %d node(s); waiting for the sentinels to read it", len(s.priority))
	}
	return nil
}

// steeredView says why a sentinel's view of the replicas could still let
// it choose another replica than the chosen one; "" when it cannot.
func (s *sentinelSwitch) steeredView(reps []SentinelReplica) string {
	for _, r := range reps {
		switch {
		case SameAddr(r.Addr, s.o.Replica.Addr) && r.Priority == 0:
			return fmt.Sprintf("it still sees priority 0 on %s", r.Addr)
		case !SameAddr(r.Addr, s.o.Replica.Addr) && !r.Down() && r.Priority != 0:
			return fmt.Sprintf("it still sees priority %d on %s", r.Priority, r.Addr)
		}
	}
	return ""
}

// waitSteeredAll waits until every sentinel that answers has read the
// priorities (for the coordinated failover, where an election decides
// which sentinel leads).
func (s *sentinelSwitch) waitSteeredAll(ctx context.Context) error {
	start := time.Now()
	defer func() { s.res.Steer = time.Since(start) }()
	deadline := start.Add(s.o.WaitLimit)
	for {
		why := ""
		for _, c := range s.o.Sentinels {
			reps, err := SentinelReplicas(ctx, c, s.o.MasterName)
			if err != nil {
				continue // an unreachable sentinel cannot lead
			}
			if w := s.steeredView(reps); w != "" {
				why = "sentinel " + sentinelAddr(c) + ": " + w
				break
			}
		}
		if why == "" {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the sentinels did not read the new replica priorities within %s: %s; nothing was switched", s.o.WaitLimit, why)
		}
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			return err
		}
	}
}

// restorePriorities puts back every replica-priority steer changed.
func (s *sentinelSwitch) restorePriorities(ctx context.Context) {
	ctx = context.WithoutCancel(ctx)
	for addr, p := range s.priority {
		if err := p.c.ConfigSet(ctx, "replica-priority", p.old).Err(); err != nil {
			s.o.Log("warning: could not restore replica-priority %s on %s: %v", p.old, addr, err)
			continue
		}
		delete(s.priority, addr)
	}
}

// waitWindow picks the leader: the first sentinel that has read the new
// priorities and on which the chosen replica's info-refresh is in the
// window. A forced SENTINEL FAILOVER is run by the sentinel that receives
// it, without an election, so only its view matters. It polls finely only
// near the window. When WaitLimit passes it goes on out of the window with
// the first steered sentinel (a longer stall, no loss); with none, it
// fails.
func (s *sentinelSwitch) waitWindow(ctx context.Context) (readAt time.Time, age time.Duration, err error) {
	start := time.Now()
	lo, hi := s.o.InfoRefreshMin, s.o.InfoRefreshMax
	deadline := start.Add(s.o.WaitLimit)
	var steeredAt time.Time
	defer func() {
		if !steeredAt.IsZero() {
			s.res.Steer = steeredAt.Sub(start)
			s.res.WindowWait = time.Since(steeredAt)
		}
	}()
	for {
		next := 100 * time.Millisecond
		fallback, why := -1, ""
		var fbAge time.Duration
		var fbAt time.Time
		for i, c := range s.o.Sentinels {
			reps, err := SentinelReplicas(ctx, c, s.o.MasterName)
			at := time.Now()
			if err != nil {
				continue
			}
			if w := s.steeredView(reps); w != "" {
				why = "sentinel " + sentinelAddr(c) + ": " + w
				continue
			}
			if steeredAt.IsZero() {
				steeredAt = at
			}
			r, ok := FindReplica(reps, s.o.Replica.Addr)
			if !ok {
				continue
			}
			if fallback < 0 {
				fallback, fbAge, fbAt = i, r.InfoRefresh, at
			}
			if r.InfoRefresh >= lo && r.InfoRefresh <= hi {
				s.leader = i
				s.res.InWindow = true
				return at, r.InfoRefresh, nil
			}
			if r.InfoRefresh < lo {
				// Sleep until just before the window, finely near it.
				next = min(next, max(lo-r.InfoRefresh-30*time.Millisecond, 5*time.Millisecond))
			}
		}
		if time.Now().After(deadline) {
			if fallback < 0 {
				return time.Time{}, 0, fmt.Errorf("no sentinel read the new replica priorities within %s (%s); nothing was switched", s.o.WaitLimit, why)
			}
			s.leader = fallback
			s.o.Log("the replica's info-refresh did not enter %s-%s within %s: failing over at %s", lo, hi, s.o.WaitLimit, fbAge)
			return fbAt, fbAge, nil
		}
		if err := sleep(ctx, next); err != nil {
			return time.Time{}, 0, err
		}
	}
}
