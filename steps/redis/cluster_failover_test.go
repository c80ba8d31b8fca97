package redis_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/understudy/understudy/internal/redistest"
	"github.com/understudy/understudy/steps/redis"
)

// clusterWrite is one write of the cluster writer.
type clusterWrite struct {
	key    string
	slot   int
	t0, t1 time.Time
	ok     bool
}

// clusterWriter is an application of a Redis Cluster: a go-redis cluster
// client with its default options writing unique keys (spread over every
// slot) at writeRate from one goroutine, recording every write. Bounded
// like ledgerWriter.
type clusterWriter struct {
	client *goredis.ClusterClient
	prefix string
	cancel context.CancelFunc
	done   chan struct{}

	mu     sync.Mutex
	writes []clusterWrite
	errs   map[string]int
}

func startClusterWriter(t *testing.T, set *redistest.ClusterSet, prefix string) *clusterWriter {
	t.Helper()
	w := &clusterWriter{client: set.ClusterClient(), prefix: prefix, errs: map[string]int{}, done: make(chan struct{})}
	ctx, cancel := context.WithTimeout(context.Background(), maxDuration)
	w.cancel = cancel
	if err := w.client.Ping(ctx).Err(); err != nil {
		cancel()
		t.Fatalf("cluster writer: PING: %v", err)
	}
	go w.run(ctx)
	t.Cleanup(func() { w.stop(); w.client.Close() })
	return w
}

func (w *clusterWriter) run(ctx context.Context) {
	defer close(w.done)
	start := time.Now()
	for i := 0; i < maxWrites; i++ {
		if due := start.Add(time.Duration(i) * time.Second / writeRate); time.Until(due) > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Until(due)):
			}
		}
		if ctx.Err() != nil {
			return
		}
		key := fmt.Sprintf("%s:%d", w.prefix, i)
		t0 := time.Now()
		err := w.client.Set(ctx, key, i, 0).Err()
		t1 := time.Now()
		if err != nil && ctx.Err() != nil {
			return // stopped mid-write: not the server's doing
		}
		w.mu.Lock()
		w.writes = append(w.writes, clusterWrite{key: key, slot: redis.KeySlot(key), t0: t0, t1: t1, ok: err == nil})
		if err != nil {
			w.errs[errKind(err)]++
		}
		w.mu.Unlock()
	}
}

func (w *clusterWriter) stop() {
	w.cancel()
	<-w.done
}

// acked counts the acknowledged writes so far.
func (w *clusterWriter) acked() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, x := range w.writes {
		if x.ok {
			n++
		}
	}
	return n
}

// waitAcked waits until n more writes than now are acknowledged.
func (w *clusterWriter) waitAcked(t *testing.T, n int) {
	t.Helper()
	want := w.acked() + n
	deadline := time.Now().Add(10 * time.Second)
	for w.acked() < want {
		if time.Now().After(deadline) {
			t.Fatalf("cluster writer: %d of %d acknowledged writes after 10 s", w.acked(), want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// lost reads every acknowledged key back through a cluster client (from
// the final masters) and returns the writes missing or holding another
// value.
func (w *clusterWriter) lost(t *testing.T, c *goredis.ClusterClient) []clusterWrite {
	t.Helper()
	ctx := context.Background()
	var acked []clusterWrite
	for _, x := range w.writes {
		if x.ok {
			acked = append(acked, x)
		}
	}
	var missing []clusterWrite
	const batch = 1000
	for i := 0; i < len(acked); i += batch {
		part := acked[i:min(i+batch, len(acked))]
		cmds := make([]*goredis.StringCmd, len(part))
		_, err := c.Pipelined(ctx, func(p goredis.Pipeliner) error {
			for j, x := range part {
				cmds[j] = p.Get(ctx, x.key)
			}
			return nil
		})
		if err != nil && !errors.Is(err, goredis.Nil) {
			t.Fatalf("reading the ledger back: %v", err)
		}
		for j, x := range part {
			want := strings.TrimPrefix(x.key, w.prefix+":")
			if v, err := cmds[j].Result(); err != nil || v != want {
				missing = append(missing, x)
			}
		}
	}
	return missing
}

// stall is, for the writes that started between from and to: the
// longest single write to a slot in inShard and how many of those failed,
// and the longest time between two acknowledgements of any write (the
// writer's own stall: it writes one key at a time).
func (w *clusterWriter) stall(inShard func(slot int) bool, from, to time.Time) (longest, gap time.Duration, failed int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var last time.Time
	for _, x := range w.writes {
		if x.t0.Before(from) || x.t0.After(to) {
			continue
		}
		if inShard(x.slot) {
			longest = max(longest, x.t1.Sub(x.t0))
			if !x.ok {
				failed++
			}
		}
		if x.ok {
			if !last.IsZero() {
				gap = max(gap, x.t1.Sub(last))
			}
			last = x.t1
		}
	}
	return longest, gap, failed
}

// role is a node's ROLE (master or slave).
func role(t *testing.T, c *goredis.Client) string {
	t.Helper()
	v, err := c.Do(context.Background(), "ROLE").Slice()
	if err != nil || len(v) == 0 {
		t.Fatalf("ROLE on %s: %v %v", c.Options().Addr, v, err)
	}
	return v[0].(string)
}

// waitClusterHealthy polls ClusterHealth until it finds nothing and
// returns how long that took, and for each kind of problem seen meanwhile
// how long after the start it was seen last.
func waitClusterHealthy(t *testing.T, clients []*goredis.Client, timeout time.Duration) (time.Duration, []string) {
	t.Helper()
	start := time.Now()
	var kinds []string
	last := map[string]time.Duration{}
	for {
		p := redis.ClusterHealth(context.Background(), clients...)
		if len(p) == 0 {
			var seen []string
			for _, k := range kinds {
				seen = append(seen, k+" until "+ms(last[k]))
			}
			return time.Since(start), seen
		}
		for _, x := range p {
			if !slices.Contains(kinds, x.Kind) {
				kinds = append(kinds, x.Kind)
			}
			last[x.Kind] = time.Since(start)
		}
		if time.Since(start) > timeout {
			t.Fatalf("cluster not healthy %s after the failover: %v", timeout, p)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestClusterFailoverRefused checks the refusals that change nothing: a
// master named as the replica (as Redis itself refuses), a master that is
// not the replica's, an unknown method.
func TestClusterFailoverRefused(t *testing.T) {
	set := redistest.StartCluster(t, 2, 1)
	ctx := context.Background()
	m0, m1, r0 := nodeClient(t, set.Masters()[0]), nodeClient(t, set.Masters()[1]), nodeClient(t, set.ReplicasOf(0)[0])

	err := m0.Do(ctx, "CLUSTER", "FAILOVER").Err()
	if err == nil || !strings.Contains(err.Error(), "You should send CLUSTER FAILOVER to a replica") {
		t.Fatalf("Redis's own answer to CLUSTER FAILOVER on a master: %v", err)
	}
	node := func(s *redistest.Server, c *goredis.Client) redis.SwitchoverNode {
		return redis.SwitchoverNode{Addr: s.Addr, Client: c}
	}
	for _, c := range []struct {
		name string
		o    redis.ClusterFailoverOptions
		want string
	}{
		{"master as replica", redis.ClusterFailoverOptions{Replica: node(set.Masters()[0], m0), Method: redis.ClusterFailoverTakeover},
			"is a master: CLUSTER FAILOVER must be sent to a replica"},
		{"another shard's master", redis.ClusterFailoverOptions{Replica: node(set.ReplicasOf(0)[0], r0), Master: node(set.Masters()[1], m1)},
			"is not the master of"},
		{"no master client", redis.ClusterFailoverOptions{Replica: node(set.ReplicasOf(0)[0], r0), Method: redis.ClusterFailoverTakeover},
			"needs a client for the master"},
		{"unknown method", redis.ClusterFailoverOptions{Replica: node(set.ReplicasOf(0)[0], r0), Method: "vote"},
			`unknown method "vote"`},
	} {
		_, err := redis.ClusterFailover(ctx, c.o)
		if !errors.Is(err, redis.ErrClusterFailoverRefused) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want a refusal with %q", c.name, err, c.want)
		}
	}
	if role(t, m0) != "master" || role(t, r0) != "slave" {
		t.Errorf("roles changed by refused failovers")
	}
}

// TestClusterFailoverMethods fails over one shard per method on a 3 × 1
// cluster while a go-redis cluster client writes 1000 keys/s spread over
// every slot: each method must move its shard's master role; the default
// and takeover methods must lose no acknowledged write (read back from the
// final masters); force may lose some, which is logged. Each shard's
// longest write and the writer's longest gap between acknowledgements
// are logged.
func TestClusterFailoverMethods(t *testing.T) {
	set := redistest.StartCluster(t, 3, 1)
	ctx := context.Background()
	var clients []*goredis.Client
	for _, s := range set.Nodes() {
		clients = append(clients, nodeClient(t, s))
	}
	masters, replicas := set.Masters(), set.Replicas()
	mc, rc := clients[:3], clients[3:]

	// The shards as set up, by slot.
	view, err := redis.ReadClusterNodes(ctx, mc[0])
	if err != nil {
		t.Fatal(err)
	}
	shards := redis.ClusterShards(view)
	shardOf := func(slot int) int {
		for i, s := range shards {
			for _, r := range s.Slots() {
				if slot >= r.From && slot <= r.To {
					return i
				}
			}
		}
		return -1
	}
	for _, key := range []string{"a", "cf:1", "cf:12345", "{user1}.x"} {
		if n, err := mc[0].ClusterKeySlot(ctx, key).Result(); err != nil || int(n) != redis.KeySlot(key) {
			t.Fatalf("redis.KeySlot(%q) = %d, CLUSTER KEYSLOT says %d (%v)", key, redis.KeySlot(key), n, err)
		}
	}

	w := startClusterWriter(t, set, "cf")
	w.waitAcked(t, 300)

	type run struct {
		method   string
		shard    int
		lossless bool
		res      redis.ClusterFailoverResult
		from, to time.Time
		healthy  time.Duration
		seen     []string // ClusterHealth's problem kinds until healthy
	}
	runs := []*run{
		{method: redis.ClusterFailoverDefault, shard: 0, lossless: true},
		{method: redis.ClusterFailoverTakeover, shard: 1, lossless: true},
		{method: redis.ClusterFailoverForce, shard: 2},
	}
	for _, r := range runs {
		i := r.shard
		if shards[i].Master.ID != set.ID(masters[i]) {
			t.Fatalf("shard %d's master is %s, not %s", i, shards[i].Master.Addr, masters[i].Addr)
		}
		o := redis.ClusterFailoverOptions{
			Replica: redis.SwitchoverNode{Addr: replicas[i].Addr, Client: rc[i]},
			Master:  redis.SwitchoverNode{Addr: masters[i].Addr, Client: mc[i]},
			Method:  r.method,
			Log:     func(f string, args ...any) { t.Logf(r.method+": "+f, args...) },
		}
		r.from = time.Now()
		r.res, err = redis.ClusterFailover(ctx, o)
		r.to = time.Now()
		if err != nil {
			t.Fatalf("%s failover of shard %d: %v", r.method, i, err)
		}
		if role(t, rc[i]) != "master" || role(t, mc[i]) != "slave" {
			t.Fatalf("%s: roles after the failover: %s is %s, %s is %s", r.method, replicas[i].Addr, role(t, rc[i]), masters[i].Addr, role(t, mc[i]))
		}
		r.healthy, r.seen = waitClusterHealthy(t, clients, 20*time.Second)
		// Every node now sees the replica as the master of the shard's
		// slots, with the old master as its replica.
		for j, c := range clients {
			v, err := redis.ReadClusterNodes(ctx, c)
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, s := range redis.ClusterShards(v) {
				if len(s.Slots()) > 0 && s.Slots()[0] == shards[i].Slots()[0] {
					found = s.Master.ID == set.ID(replicas[i]) && len(s.Replicas) == 1 && s.Replicas[0].ID == set.ID(masters[i])
				}
			}
			if !found {
				t.Fatalf("%s: %s does not see %s as the master of %v with %s as its replica", r.method, set.Nodes()[j].Addr, replicas[i].Addr, shards[i].Slots(), masters[i].Addr)
			}
		}
		w.waitAcked(t, 300)
	}
	w.stop()
	set.WaitReady(t, 20*time.Second)

	final := set.ClusterClient()
	defer final.Close()
	lostBy := map[int]int{}
	for _, x := range w.lost(t, final) {
		lostBy[shardOf(x.slot)]++
	}
	t.Logf("writer: %d writes, %d acknowledged, errors %v", len(w.writes), w.acked(), w.errs)
	for _, r := range runs {
		in := func(slot int) bool { return shardOf(slot) == r.shard }
		longest, gap, failed := w.stall(in, r.from, r.to.Add(200*time.Millisecond))
		t.Logf("%-8s shard %d: lost %d, failed %d, longest write on the shard %s, longest gap between acks %s; pause %s, offset wait %s, role swap %s, call %s; ClusterHealth ok %s after (meanwhile %v)",
			r.method, r.shard, lostBy[r.shard], failed, ms(longest), ms(gap), ms(r.res.Pause), ms(r.res.OffsetWait), ms(r.res.RoleSwap), ms(r.res.Total), ms(r.healthy), r.seen)
		if r.lossless && lostBy[r.shard] > 0 {
			t.Errorf("%s lost %d acknowledged writes", r.method, lostBy[r.shard])
		}
	}
}
