package apply_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/understudy/understudy/dsl"
	"github.com/understudy/understudy/internal/redistest"
	"github.com/understudy/understudy/steps"
	"github.com/understudy/understudy/steps/apply"
	"github.com/understudy/understudy/steps/kinds"
	"github.com/understudy/understudy/steps/live"
	"github.com/understudy/understudy/steps/redact"
	"github.com/understudy/understudy/steps/redis"
	"github.com/understudy/understudy/steps/traffic"
)

// clusterRolling fails every master of the cluster over to its replica,
// checking the cluster after each.
const clusterRolling = `
group "failover" {
  for_each = cluster.cache.masters
  step "cluster_failover" "failover" {
    master = each.node
  }
  step "cluster_check" "healthy" {
    nodes = cluster.cache.nodes
  }
}
`

// clusterBlock declares the set as cluster "cache" (cache-1…3 its
// masters, cache-4…6 their replicas), the password from env.
func clusterBlock(set *redistest.ClusterSet, env string) string {
	var addrs []string
	for _, a := range set.Addrs() {
		addrs = append(addrs, strconv.Quote(a))
	}
	return fmt.Sprintf("cluster \"cache\" {\n  nodes    = [%s]\n  password = env(%q)\n}\n", strings.Join(addrs, ", "), env)
}

// clusterLockNodes are the set's nodes as lock nodes cache-1…6, with
// clients of their own.
func clusterLockNodes(t *testing.T, set *redistest.ClusterSet) []apply.Node {
	t.Helper()
	var pairs []any
	for i, s := range set.Nodes() {
		pairs = append(pairs, fmt.Sprintf("cache-%d", i+1), s)
	}
	return lockNodes(t, pairs...)
}

// ownKeys lists, on every node of the set, the keys matching pattern
// ("" when there are none).
func ownKeys(ctx context.Context, set *redistest.ClusterSet, pattern string) string {
	var out []string
	for i, s := range set.Nodes() {
		c := s.Client()
		keys, err := c.Keys(ctx, pattern).Result()
		c.Close()
		if err != nil {
			return err.Error()
		}
		if len(keys) > 0 {
			slices.Sort(keys)
			out = append(out, fmt.Sprintf("cache-%d (%s): %d key(s) %s, e.g. %s", i+1, s.Addr, len(keys), pattern, keys[0]))
		}
	}
	return strings.Join(out, "; ")
}

// lockProbe is a hook that, once the first failover has ended, tries to
// take the lock as a second apply would, on every node and on the first
// shard alone (whose master is now the promoted replica), and reads the
// promoted replica's lock key.
type lockProbe struct {
	steps.NilHook
	nodes []apply.Node
	once  sync.Once
	// every and shard are the two attempts' errors; onPromoted the lock
	// key's value on cache-4 then.
	every, shard error
	onPromoted   string
}

func (p *lockProbe) PostStep(r *steps.StepResult) (steps.HookAction, error) {
	if r.Step.Name != "failover[cache-1]" || r.Status != steps.StatusPassed {
		return steps.HookContinue, nil
	}
	p.once.Do(func() {
		ctx := context.Background()
		other := apply.NewLockInfo("apply", "other.hcl", "test")
		if l, err := apply.Acquire(ctx, p.nodes, other, time.Minute); err == nil {
			_ = l.Release(ctx)
		} else {
			p.every = err
		}
		shard := []apply.Node{p.nodes[0], p.nodes[3]} // cache-1, cache-4
		if l, err := apply.Acquire(ctx, shard, other, time.Minute); err == nil {
			_ = l.Release(ctx)
		} else {
			p.shard = err
		}
		c := p.nodes[3].Client
		if view, err := redis.ReadClusterNodes(ctx, c); err == nil {
			if self, ok := redis.ClusterMyself(view); ok && len(self.Slots) > 0 {
				p.onPromoted, _ = c.Get(ctx, apply.ClusterLockKey(self.Slots[0].From)).Result()
			}
		}
	})
	return steps.HookContinue, nil
}

// TestApplyCluster applies a runbook that declares a Redis Cluster and
// names no node to a real 3 × 1 cluster, as `understudy apply
// --auto-approve` does (Preflight, Run with the live topology and a
// journal): each master is failed over to its replica and the cluster
// checked. The lock lives on each master under a key of its own shard
// and is renewed through the failovers (a short lease); a second apply's
// lock is refused meanwhile, naming the holder, also by the promoted
// replica alone. The canary writes through a cluster client and its
// writes are read back through one at the end, as are those of an
// independent cluster client: none lost. The journal records each
// iteration by name; no lock key and no canary key is left.
func TestApplyCluster(t *testing.T) {
	set := redistest.StartCluster(t, 3, 1)
	t.Setenv("APPLY_CLUSTER_PASSWORD", set.Password)
	dir := t.TempDir()
	src := clusterBlock(set, "APPLY_CLUSTER_PASSWORD") + clusterRolling
	rb, diags := dsl.LoadSource(filepath.Join(dir, "cluster.hcl"), []byte(src), dsl.LoadOptions{Mode: dsl.ModeLive, Kinds: kinds.Registry})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	topo := live.New(rb)
	defer topo.Close(context.Background())

	// The application: go-redis's cluster client, default retries.
	app, err := traffic.Start(ctx, traffic.Options{
		Cluster:  &traffic.ClusterTarget{Addrs: set.Addrs()},
		Password: set.Password, Rate: 500, Prefix: "app:writer:",
	})
	if err != nil {
		t.Fatal(err)
	}
	defer app.Stop()

	nodes, err := apply.Preflight(ctx, rb, topo, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes) != 6 {
		t.Fatalf("preflight read %d nodes, want 6", len(nodes))
	}
	secrets := redact.New(rb.Secrets()...)
	journal := filepath.Join(dir, "apply.journal")
	jw, err := apply.CreateJournal(journal, rb, apply.RunInfo{RunID: "cluster-1", Runbook: "cluster.hcl", Version: "test"}, secrets)
	if err != nil {
		t.Fatal(err)
	}
	probe := &lockProbe{nodes: clusterLockNodes(t, set)}
	lock := apply.NewLockInfo("apply", "cluster.hcl", "test")
	var log bytes.Buffer
	rep, err := apply.Run(ctx, rb, topo, nodes, apply.Options{
		Runbook: "cluster.hcl", Version: "test", Log: &log, Secrets: secrets, Lock: lock,
		// Renewed every second: through every failover.
		LockTTL: 3 * time.Second,
		Hooks:   []steps.Hook{jw, probe},
	})
	if cerr := jw.Close(); cerr != nil {
		t.Error(cerr)
	}
	appRep := app.Stop()
	t.Logf("apply log:\n%s", log.String())
	if err != nil {
		t.Fatal(err)
	}
	tr := rep.Traffic
	if tr != nil {
		t.Logf("canary through the cluster client: %d attempted, %d acknowledged, %d lost, %d failed, longest stall %.1f ms", tr.Attempted, tr.Acked, tr.Lost, tr.Failed, tr.MaxStallMS)
	}
	if rep.Status != steps.StatusPassed {
		t.Fatalf("apply %s: %v", rep.Status, rep.Errors)
	}
	if tr == nil || !tr.Verified || tr.Acked == 0 || tr.Lost != 0 {
		t.Errorf("canary: %+v", tr)
	}
	if !strings.Contains(log.String(), `canary: 200 writes/s through cluster "cache"`) {
		t.Errorf("the log does not say the canary writes through the cluster")
	}
	if want := `keys removed from the masters of cluster "cache" ("cache-4", "cache-5", "cache-6")`; !strings.Contains(log.String(), want) {
		t.Errorf("the log does not say %s", want)
	}

	// Every master failed over: the replicas are the masters now.
	roles := map[string]string{}
	for _, n := range rep.Nodes {
		roles[n.Name] = n.RoleAfter
	}
	for i := 1; i <= 6; i++ {
		want := "replica"
		if i > 3 {
			want = "master"
		}
		if name := fmt.Sprintf("cache-%d", i); roles[name] != want {
			t.Errorf("report: %s is %q after the apply, want %q", name, roles[name], want)
		}
	}

	// The second apply's lock was refused while this one held it, naming
	// the holder; the promoted replica held the lease of its shard.
	for what, err := range map[string]error{"every node": probe.every, "the first shard": probe.shard} {
		var held *apply.HeldError
		switch {
		case !errors.As(err, &held):
			t.Errorf("a second lock on %s during the apply: %v, want a *HeldError", what, err)
		case held.Info.ID != lock.ID || !strings.Contains(err.Error(), "understudy unlock other.hcl "+lock.ID) || !strings.HasPrefix(held.Key, apply.LockKey+":{"):
			t.Errorf("a second lock on %s: held by %q under %s: %v", what, held.Info.ID, held.Key, err)
		default:
			t.Logf("a second lock on %s: refused: %v", what, err)
		}
	}
	var held *apply.HeldError
	if errors.As(probe.shard, &held) && held.Node != "cache-4" {
		t.Errorf("the first shard's lock was found on %s, want the promoted cache-4", held.Node)
	}
	if !strings.Contains(probe.onPromoted, lock.ID) {
		t.Errorf("cache-4's lock key after its promotion: %q, want lock %s", probe.onPromoted, lock.ID)
	}

	// The journal records each iteration by its bound name.
	j, err := apply.ReadJournal(journal)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range j.Steps {
		names = append(names, s.Name)
	}
	want := []string{"failover[cache-1]", "healthy[cache-1]", "failover[cache-2]", "healthy[cache-2]", "failover[cache-3]", "healthy[cache-3]"}
	if !slices.Equal(names, want) || !j.Ended || j.Status != steps.StatusPassed {
		t.Errorf("journal: steps %v (ended %v, %s), want %v", names, j.Ended, j.Status, want)
	}

	// No lock key and no canary key is left on any node.
	eventually(t, 10*time.Second, func() string {
		return ownKeys(ctx, set, apply.LockKey+"*") + ownKeys(ctx, set, apply.CanaryPrefix+"*")
	})

	// The application lost nothing.
	if err := app.VerifyCluster(ctx, appRep); err != nil {
		t.Fatal(err)
	}
	t.Logf("independent cluster client: %d acknowledged, %d lost, %d failed, longest stall %.1f ms", appRep.Acked, appRep.Lost, appRep.Failed, appRep.MaxStallMS)
	if appRep.Acked == 0 || appRep.Lost != 0 {
		t.Errorf("independent writer: %d acknowledged, %d lost, %d failed", appRep.Acked, appRep.Lost, appRep.Failed)
	}

	testClusterLockHeld(t, set, rb, topo)
	testClusterResume(t, set, rb)
}

// testClusterResume: an apply of the same runbook (masters cache-4…6 now)
// dies after its first iteration failed cache-4 over to cache-1. Resumed
// from its journal, it iterates over the masters the dead run read
// (cache-4…6), not over today's (cache-1, cache-5, cache-6): cache-4's
// iteration is not run again, cache-1 is not failed back, and the others
// are failed over.
func testClusterResume(t *testing.T, set *redistest.ClusterSet, rb *dsl.Runbook) {
	path := filepath.Join(t.TempDir(), "resume.journal")
	if res := journalRun(t, rb, path, nil, crashAt{step: "failover[cache-5]"}); res != nil {
		t.Fatalf("the run did not crash: %s", res.Status)
	}
	j, err := apply.ReadJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	rs, err := j.Resume(rb)
	if err != nil {
		t.Fatal(err)
	}
	if got := rs.Groups["failover"]; !slices.Equal(got, []string{"cache-4", "cache-5", "cache-6"}) {
		t.Fatalf("journaled members of the group: %v", got)
	}
	// failover[cache-5] had started its first attempt, and said nothing.
	if _, ok := rs.Ended["failover[cache-4]"]; !ok || rs.InFlight != "failover[cache-5]" {
		t.Fatalf("resume: ended %v, in flight %q", slices.Sorted(maps.Keys(rs.Ended)), rs.InFlight)
	}

	ctx := context.Background()
	topo := live.New(rb)
	defer topo.Close(ctx)
	nodes, err := apply.Preflight(ctx, rb, topo, nil)
	if err != nil {
		t.Fatal(err)
	}
	w, err := apply.AppendJournal(path, rb, apply.RunInfo{RunID: "cluster-2", Runbook: "cluster.hcl", Version: "test"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	rep, err := apply.Run(ctx, rb, topo, nodes, apply.Options{Runbook: "cluster.hcl", Version: "test", Log: &log, Resume: rs, Hooks: []steps.Hook{w}})
	if cerr := w.Close(); cerr != nil {
		t.Error(cerr)
	}
	t.Logf("resumed apply log:\n%s", log.String())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Status != steps.StatusPassed || rep.Traffic == nil || rep.Traffic.Lost != 0 {
		t.Fatalf("resumed apply %s (canary %+v): %v", rep.Status, rep.Traffic, rep.Errors)
	}
	for _, n := range rep.Nodes {
		i, _ := strconv.Atoi(strings.TrimPrefix(n.Name, "cache-"))
		want := "master"
		if i > 3 {
			want = "replica"
		}
		if n.RoleAfter != want {
			t.Errorf("after the resumed apply, %s is %q, want %q", n.Name, n.RoleAfter, want)
		}
	}
	if j, err = apply.ReadJournal(path); err != nil {
		t.Fatal(err)
	}
	var ran []string
	for _, s := range j.Steps {
		mark := ""
		if s.Resumed {
			mark = " (resumed)"
		}
		ran = append(ran, s.Name+mark)
	}
	want := []string{"failover[cache-4] (resumed)", "healthy[cache-4] (resumed)", "failover[cache-5]", "healthy[cache-5]", "failover[cache-6]", "healthy[cache-6]"}
	if !slices.Equal(ran, want) || !j.Ended || j.Status != steps.StatusPassed {
		t.Errorf("journal after the resume: %v (ended %v, %s), want %v", ran, j.Ended, j.Status, want)
	}
}

// testClusterLockHeld: a lock left on the cluster by a run that died
// refuses the next apply before it writes anything, naming the holder;
// Unlock removes it from every master, whose replicas then lose their
// copies too.
func testClusterLockHeld(t *testing.T, set *redistest.ClusterSet, rb *dsl.Runbook, topo *live.Topology) {
	ctx := context.Background()
	ns := clusterLockNodes(t, set)
	dead := apply.NewLockInfo("apply", "cluster.hcl", "test")
	if _, err := apply.Acquire(ctx, ns, dead, time.Minute); err != nil {
		t.Fatal(err)
	}
	// One key per master, in a slot it serves.
	var keys []string
	for i, s := range set.Nodes() {
		c := s.Client()
		k, err := c.Keys(ctx, apply.LockKey+"*").Result()
		c.Close()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, fmt.Sprintf("cache-%d:%d", i+1, len(k)))
	}
	t.Logf("lock keys by node: %s", strings.Join(keys, " "))

	nodes, err := apply.Preflight(ctx, rb, topo, nil)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := apply.Run(ctx, rb, topo, nodes, apply.Options{Runbook: "cluster.hcl", Version: "test"})
	var held *apply.HeldError
	if !errors.As(err, &held) || held.Info.ID != dead.ID || !strings.Contains(err.Error(), dead.Who) {
		t.Fatalf("apply while a dead run's lock is held: report %v, error %v; want a refusal naming %s", rep, err, dead.ID)
	}
	t.Logf("second apply refused: %v", err)

	removed, err := apply.Unlock(ctx, ns, dead.ID)
	if err != nil {
		t.Fatal(err)
	}
	var from []string
	for _, r := range removed {
		from = append(from, r.Node)
	}
	if !slices.Equal(from, []string{"cache-4", "cache-5", "cache-6"}) {
		t.Errorf("unlock removed the lock from %v, want the three masters cache-4…6", from)
	}
	eventually(t, 10*time.Second, func() string { return ownKeys(ctx, set, apply.LockKey+"*") })
	if _, err := apply.Unlock(ctx, ns, dead.ID); !errors.Is(err, apply.ErrNoLock) {
		t.Errorf("a second unlock: %v, want ErrNoLock", err)
	}
}

// TestClusterLockKey: each key hashes to its slot and holds a hash tag.
func TestClusterLockKey(t *testing.T) {
	for _, slot := range []int{0, 1, 5460, 5461, 10922, 10923, 16383} {
		k := apply.ClusterLockKey(slot)
		if got := redis.KeySlot(k); got != slot || !strings.HasPrefix(k, apply.LockKey+":{"+strconv.Itoa(slot)+".") {
			t.Errorf("ClusterLockKey(%d) = %q, in slot %d", slot, k, got)
		}
	}
}
