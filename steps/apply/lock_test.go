package apply_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/understudy/understudy/internal/redistest"
	"github.com/understudy/understudy/internal/runtest"
	"github.com/understudy/understudy/steps"
	"github.com/understudy/understudy/steps/apply"
)

// noSyncDelay makes a 7.0 master start a replica's full sync at once.
var noSyncDelay = redistest.WithArgs("--repl-diskless-sync-delay", "0")

// lockServers starts n servers sharing one password, as replicas need.
func lockServers(t *testing.T, n int) []*redistest.Server {
	t.Helper()
	pw := redistest.RandomPassword()
	out := make([]*redistest.Server, n)
	for i := range out {
		out[i] = redistest.Start(t, redistest.WithPassword(pw), noSyncDelay)
	}
	return out
}

// lockNodes names servers "name=server" pairs as lock nodes, each with its own
// client.
func lockNodes(t *testing.T, pairs ...any) []apply.Node {
	t.Helper()
	var out []apply.Node
	for i := 0; i < len(pairs); i += 2 {
		c := pairs[i+1].(*redistest.Server).Client()
		t.Cleanup(func() { _ = c.Close() })
		out = append(out, apply.Node{Name: pairs[i].(string), Client: c})
	}
	return out
}

// storedLock reads the lock on s: its holder's ID ("" when absent) and TTL.
func storedLock(t *testing.T, s *redistest.Server) (apply.LockInfo, time.Duration) {
	t.Helper()
	c := s.Client()
	defer c.Close()
	ctx := context.Background()
	v, err := c.Get(ctx, apply.LockKey).Result()
	if errors.Is(err, goredis.Nil) {
		return apply.LockInfo{}, 0
	}
	if err != nil {
		t.Fatalf("GET %s on %s: %v", apply.LockKey, s.Addr, err)
	}
	var info apply.LockInfo
	if err := json.Unmarshal([]byte(v), &info); err != nil {
		t.Fatalf("lock on %s is not a LockInfo: %q: %v", s.Addr, v, err)
	}
	ttl, err := c.PTTL(ctx, apply.LockKey).Result()
	if err != nil {
		t.Fatal(err)
	}
	return info, ttl
}

func lockInfo(runbook string) apply.LockInfo {
	return apply.NewLockInfo("apply", runbook, "test")
}

func mustAcquire(t *testing.T, ns []apply.Node, li apply.LockInfo, ttl time.Duration) *apply.Lock {
	t.Helper()
	l, err := apply.Acquire(context.Background(), ns, li, ttl)
	if err != nil {
		t.Fatalf("acquire: %v", err)
	}
	return l
}

func TestNewLockInfo(t *testing.T) {
	a, b := lockInfo("up.hcl"), lockInfo("up.hcl")
	if len(a.ID) != 16 || a.ID == b.ID {
		t.Errorf("IDs %q and %q: want two different 16 hex digits", a.ID, b.ID)
	}
	if a.PID != os.Getpid() || !strings.Contains(a.Who, "@") || a.Operation != "apply" || a.Created.Location() != time.UTC {
		t.Errorf("info: %+v", a)
	}
}

// A lock taken on a master and its replica lives on the master and reaches
// the replica by replication; a second run is refused with the holder named,
// and the refusal leaves the first lock alone.
func TestAcquireMasterAndReplica(t *testing.T) {
	s := lockServers(t, 2)
	old, new := s[0], s[1]
	new.ReplicaOf(t, old)
	ns := lockNodes(t, "old", old, "new", new)

	first := lockInfo("runbooks/replica-swap.hcl")
	l := mustAcquire(t, ns, first, 10*time.Second)
	got, ttl := storedLock(t, old)
	if got.ID != first.ID || ttl <= 0 || ttl > 10*time.Second {
		t.Fatalf("on the master: %+v ttl %s, want %s with a TTL", got, ttl, first.ID)
	}
	redistest.WaitInSync(t, new, old)
	if got, _ := storedLock(t, new); got.ID != first.ID {
		t.Fatalf("on the replica: %+v, want the master's copy %s", got, first.ID)
	}

	_, err := apply.Acquire(context.Background(), ns, lockInfo("other.hcl"), 10*time.Second)
	var held *apply.HeldError
	if !errors.As(err, &held) {
		t.Fatalf("second acquire: %v, want a *HeldError", err)
	}
	msg := err.Error()
	for _, want := range []string{`node "old"`, first.Who, fmt.Sprintf("pid %d", first.PID), "runbooks/replica-swap.hcl",
		"since " + first.Created.Format(time.RFC3339), first.ID, "understudy unlock other.hcl " + first.ID} {
		if !strings.Contains(msg, want) {
			t.Errorf("refusal %q does not say %q", msg, want)
		}
	}
	if held.Node != "old" || held.Info.ID != first.ID {
		t.Errorf("held: %+v", held)
	}
	if got, _ := storedLock(t, old); got.ID != first.ID {
		t.Errorf("after the refusal the master holds %+v", got)
	}

	if err := l.Release(context.Background()); err != nil {
		t.Fatalf("release: %v", err)
	}
	if got, _ := storedLock(t, old); got.ID != "" {
		t.Errorf("after release the master holds %+v", got)
	}
	redistest.WaitInSync(t, new, old)
	if got, _ := storedLock(t, new); got.ID != "" {
		t.Errorf("after release the replica holds %+v", got)
	}
	mustAcquire(t, ns, lockInfo("other.hcl"), time.Second)
}

// All or nothing: refused on one node, Acquire gives back what it took on
// the others.
func TestAcquireAllOrNothing(t *testing.T) {
	s := lockServers(t, 2)
	other := mustAcquire(t, lockNodes(t, "b", s[1]), lockInfo("b.hcl"), 10*time.Second)

	_, err := apply.Acquire(context.Background(), lockNodes(t, "a", s[0], "b", s[1]), lockInfo("ab.hcl"), 10*time.Second)
	var held *apply.HeldError
	if !errors.As(err, &held) || held.Node != "b" || held.Info.ID != other.Info().ID {
		t.Fatalf("acquire: %v, want b held by %s", err, other.Info().ID)
	}
	if got, _ := storedLock(t, s[0]); got.ID != "" {
		t.Errorf("node a still holds %+v after the refusal", got)
	}
}

// The lease holds through a switchover: the replica is promoted, the old
// master becomes its replica; renewals go on, on the node that is master
// now, without a READONLY error.
func TestLockSurvivesRoleSwap(t *testing.T) {
	s := lockServers(t, 2)
	old, new := s[0], s[1]
	new.ReplicaOf(t, old)
	ns := lockNodes(t, "old", old, "new", new)
	const ttl = 900 * time.Millisecond
	li := lockInfo("swap.hcl")
	l := mustAcquire(t, ns, li, ttl)
	keep, stopKeep := context.WithCancel(context.Background())
	l.Keep(keep)
	redistest.WaitInSync(t, new, old)

	new.Promote(t)
	old.ReplicaOf(t, new)
	time.Sleep(3 * ttl) // several renewals in the new roles; without them the lease would expire

	if err := l.Err(); err != nil {
		t.Fatalf("lock lost across the swap: %v", err)
	}
	got, left := storedLock(t, new)
	if got.ID != li.ID || left <= 0 {
		t.Fatalf("the new master holds %+v (ttl %s), want %s", got, left, li.ID)
	}
	redistest.WaitInSync(t, old, new)
	if got, _ := storedLock(t, old); got.ID != li.ID {
		t.Errorf("the old master, now a replica, holds %+v, want its master's copy %s", got, li.ID)
	}

	// With Keep stopped, one renewal in the new roles restores the whole
	// TTL on the new master.
	stopKeep()
	deadline := time.Now().Add(5 * time.Second)
	for _, left = storedLock(t, new); left > ttl/2 && time.Now().Before(deadline); _, left = storedLock(t, new) {
		time.Sleep(10 * time.Millisecond)
	}
	if left > ttl/2 {
		t.Fatalf("the TTL on the new master is still %s after Keep stopped", left)
	}
	if err := l.Renew(context.Background()); err != nil {
		t.Fatalf("renew after the swap: %v", err)
	}
	if _, after := storedLock(t, new); after <= left || after > ttl {
		t.Errorf("renew: TTL %s before, %s after, want it back near %s", left, after, ttl)
	}

	_, err := apply.Acquire(context.Background(), ns, lockInfo("other.hcl"), ttl)
	var held *apply.HeldError
	if !errors.As(err, &held) || held.Node != "new" || held.Info.ID != li.ID {
		t.Fatalf("second acquire after the swap: %v, want new held by %s", err, li.ID)
	}

	if err := l.Release(context.Background()); err != nil {
		t.Fatalf("release: %v", err)
	}
	if got, _ := storedLock(t, new); got.ID != "" {
		t.Errorf("after release the new master holds %+v", got)
	}
	redistest.WaitInSync(t, old, new)
	if got, _ := storedLock(t, old); got.ID != "" {
		t.Errorf("after release the replica holds %+v", got)
	}
	if err := l.Err(); err != nil {
		t.Errorf("a released lock reports a loss: %v", err)
	}
}

// A replica of a master that is not a node of the set cannot carry the
// lock: Acquire refuses, naming the holder when its copy shows one.
func TestAcquireRefusesReplicaOfOutsideMaster(t *testing.T) {
	s := lockServers(t, 2)
	outside, replica := s[0], s[1]
	replica.ReplicaOf(t, outside)

	_, err := apply.Acquire(context.Background(), lockNodes(t, "r", replica), lockInfo("r.hcl"), time.Second)
	if err == nil || !strings.Contains(err.Error(), "not a node of the runbook") || !strings.Contains(err.Error(), outside.Addr) {
		t.Fatalf("acquire on a replica of an outside master: %v", err)
	}

	holder := mustAcquire(t, lockNodes(t, "m", outside), lockInfo("m.hcl"), 10*time.Second)
	redistest.WaitInSync(t, replica, outside)
	_, err = apply.Acquire(context.Background(), lockNodes(t, "r", replica), lockInfo("r.hcl"), time.Second)
	var held *apply.HeldError
	if !errors.As(err, &held) || held.Info.ID != holder.Info().ID || held.MasterOutside != outside.Addr {
		t.Fatalf("acquire: %v, want the outside master's holder %s", err, holder.Info().ID)
	}
}

func TestUnlock(t *testing.T) {
	s := lockServers(t, 2)
	old, new := s[0], s[1]
	new.ReplicaOf(t, old)
	ns := lockNodes(t, "old", old, "new", new)
	li := lockInfo("u.hcl")
	l := mustAcquire(t, ns, li, 10*time.Second)
	redistest.WaitInSync(t, new, old)

	_, err := apply.Unlock(context.Background(), ns, "0123456789abcdef")
	var held *apply.HeldError
	if !errors.As(err, &held) || !strings.Contains(err.Error(), li.ID) || !strings.Contains(err.Error(), "nothing removed") {
		t.Fatalf("unlock with a wrong ID: %v, want a refusal naming %s", err, li.ID)
	}
	if got, _ := storedLock(t, old); got.ID != li.ID {
		t.Fatalf("the refusal removed the lock: %+v", got)
	}

	removed, err := apply.Unlock(context.Background(), ns, li.ID)
	if err != nil {
		t.Fatalf("unlock: %v", err)
	}
	if len(removed) != 1 || removed[0].Node != "old" || removed[0].Info.ID != li.ID || removed[0].Info.Who != li.Who {
		t.Errorf("removed %+v, want the lock from old", removed)
	}
	if got, _ := storedLock(t, old); got.ID != "" {
		t.Errorf("after unlock the master holds %+v", got)
	}
	if _, err := apply.Unlock(context.Background(), ns, li.ID); !errors.Is(err, apply.ErrNoLock) {
		t.Errorf("second unlock: %v", err)
	}

	// The holder learns at its next renewal.
	if err := l.Renew(context.Background()); !errors.Is(err, apply.ErrLockLost) || !strings.Contains(err.Error(), "is gone") {
		t.Errorf("renew after unlock: %v, want the loss", err)
	}
	if l.Err() == nil {
		t.Error("Err is nil after the loss")
	}
	select {
	case <-l.Lost():
	default:
		t.Error("Lost is not closed after the loss")
	}
}

// A holder that stops renewing loses the lease after the TTL; the next run
// then takes it, and the old holder learns at its next renewal.
func TestExpiredLockCanBeTaken(t *testing.T) {
	m := lockServers(t, 1)[0]
	ns := lockNodes(t, "m", m)
	const ttl = 300 * time.Millisecond
	stale := mustAcquire(t, ns, lockInfo("stale.hcl"), ttl)
	taken := time.Now()

	if _, err := apply.Acquire(context.Background(), ns, lockInfo("next.hcl"), ttl); err == nil {
		t.Fatal("a second acquire within the TTL succeeded")
	}
	var next *apply.Lock
	deadline := time.Now().Add(5 * time.Second)
	for next == nil {
		l, err := apply.Acquire(context.Background(), ns, lockInfo("next.hcl"), 10*time.Second)
		switch {
		case err == nil:
			next = l
		case time.Now().After(deadline):
			t.Fatalf("still refused 5s after a %s lease stopped being renewed: %v", ttl, err)
		default:
			time.Sleep(20 * time.Millisecond)
		}
	}
	if d := time.Since(taken); d < ttl {
		t.Errorf("taken again after %s, before the TTL of %s ran out", d, ttl)
	}
	err := stale.Renew(context.Background())
	var held *apply.HeldError
	if !errors.Is(err, apply.ErrLockLost) || !errors.As(err, &held) || held.Info.ID != next.Info().ID {
		t.Fatalf("the stale holder's renewal: %v, want the loss naming %s", err, next.Info().ID)
	}
	if got, _ := storedLock(t, m); got.ID != next.Info().ID {
		t.Errorf("the stale renewal touched the new lock: %+v", got)
	}
}

// A master that restarted empty (a new run_id) gets the lock back at the
// next renewal, when nobody took it meanwhile.
func TestRenewAfterRestart(t *testing.T) {
	m := lockServers(t, 1)[0]
	li := lockInfo("r.hcl")
	l := mustAcquire(t, lockNodes(t, "m", m), li, 10*time.Second)
	m.Restart(t)
	if got, _ := storedLock(t, m); got.ID != "" {
		t.Fatalf("the restarted server kept %+v; the test needs it empty", got)
	}
	if err := l.Renew(context.Background()); err != nil {
		t.Fatalf("renew after a restart: %v", err)
	}
	if got, ttl := storedLock(t, m); got.ID != li.ID || ttl <= 0 {
		t.Errorf("after the renewal: %+v ttl %s, want %s", got, ttl, li.ID)
	}
}

// A master that cannot be reached for a whole TTL is a loss: its key may
// have expired and been taken. A replica that cannot be reached is not:
// the lease lives on its master.
func TestUnreachableNodes(t *testing.T) {
	s := lockServers(t, 2)
	master, replica := s[0], s[1]
	replica.ReplicaOf(t, master)
	const ttl = 300 * time.Millisecond
	// Without retries a refused connection fails at once (go-redis's
	// defaults take about 400 ms: 5 dials 100 ms apart), so the timing
	// below is the lock's, not the client's back-off.
	var ns []apply.Node
	for _, n := range []struct {
		name string
		s    *redistest.Server
	}{{"m", master}, {"r", replica}} {
		c := goredis.NewClient(&goredis.Options{Addr: n.s.Addr, Password: n.s.Password, MaxRetries: -1, DialerRetries: 1})
		t.Cleanup(func() { _ = c.Close() })
		ns = append(ns, apply.Node{Name: n.name, Client: c})
	}
	l := mustAcquire(t, ns, lockInfo("down.hcl"), ttl)

	replica.Stop()
	for end := time.Now().Add(2 * ttl); time.Now().Before(end); time.Sleep(ttl / 3) {
		if err := l.Renew(context.Background()); err == nil || errors.Is(err, apply.ErrLockLost) || !strings.Contains(err.Error(), `node "r"`) {
			t.Fatalf("renew with the replica down: %v, want an error about r that is not a loss", err)
		}
	}
	if err := l.Err(); err != nil {
		t.Fatalf("lost with only the replica down: %v", err)
	}

	master.Stop()
	if err := l.Renew(context.Background()); err == nil || errors.Is(err, apply.ErrLockLost) {
		t.Fatalf("renew with the master down within the TTL: %v, want an error that is not a loss", err)
	}
	time.Sleep(ttl)
	err := l.Renew(context.Background())
	if !errors.Is(err, apply.ErrLockLost) || !strings.Contains(err.Error(), `node "m" could not be renewed`) {
		t.Fatalf("renew with the master down for a TTL: %v, want the loss", err)
	}
}

// deleteLockAfter removes the lock from a node once step has run, then waits
// until the holder has noticed.
type deleteLockAfter struct {
	steps.NilHook
	t    *testing.T
	step string
	s    *redistest.Server
	lock *apply.Lock
}

func (d *deleteLockAfter) PostStep(r *steps.StepResult) (steps.HookAction, error) {
	if r.Step.Name != d.step {
		return steps.HookContinue, nil
	}
	c := d.s.Client()
	defer c.Close()
	if err := c.Del(context.Background(), apply.LockKey).Err(); err != nil {
		d.t.Errorf("DEL: %v", err)
	}
	select {
	case <-d.lock.Lost():
	case <-time.After(5 * time.Second):
		d.t.Error("the loss was not noticed within 5s")
	}
	return steps.HookContinue, nil
}

// The hook halts the run at the next step once the lease is lost.
func TestLockHookHaltsAfterLoss(t *testing.T) {
	s := redistest.Start(t)
	rb := runtest.Load(t, runtest.OneNode+`
step "assert" "first" {
  condition = node.a.role == "master"
}
step "assert" "second" {
  condition = node.a.role == "master"
}
step "assert" "third" {
  condition = node.a.role == "master"
}
`, runtest.NodeVars(s)...)
	l := mustAcquire(t, lockNodes(t, "a", s), lockInfo("hook.hcl"), 300*time.Millisecond)
	l.Keep(context.Background())
	t.Cleanup(func() { _ = l.Release(context.Background()) })
	h := apply.NewLockHook(l)
	if a, err := h.PreStep(rb.Steps[0]); a != steps.HookContinue || err != nil {
		t.Fatalf("hook while held: %v %v", a, err)
	}

	res := runtest.RunLive(t, rb, h, &deleteLockAfter{t: t, step: "first", s: s, lock: l})
	got := []string{res.Steps[0].Status, res.Steps[1].Status, res.Steps[2].Status}
	if strings.Join(got, " ") != "passed failed not_run" {
		t.Fatalf("statuses %v, want passed failed not_run", got)
	}
	detail := res.Steps[1].Diag.Detail
	for _, want := range []string{"the apply lock was lost", `node "a"`, "is gone", "stops here"} {
		if !strings.Contains(detail, want) {
			t.Errorf("the halted step says %q, want %q in it", detail, want)
		}
	}
	if a, _ := h.PreAttempt(rb.Steps[2], 1); a != steps.HookHalt {
		t.Error("PreAttempt does not halt after the loss")
	}
	if a, _ := h.PreRollback(res.Steps[1]); a != steps.HookHalt {
		t.Error("PreRollback does not halt after the loss")
	}
}
