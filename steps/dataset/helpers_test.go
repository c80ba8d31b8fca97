package dataset

import (
	"bufio"
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/understudy/understudy/internal/redistest"
)

// server starts a redis-server and returns it with a client closed at the
// end of the test.
func server(t *testing.T, opts ...redistest.Option) (*redistest.Server, *redis.Client) {
	t.Helper()
	s := redistest.Start(t, opts...)
	c := s.Client()
	t.Cleanup(func() { _ = c.Close() })
	return s, c
}

// fastSync makes a master start a full sync without the default 5 s wait
// for more replicas.
var fastSync = redistest.WithArgs("--repl-diskless-sync-delay", "0")

// noDebug starts a server that refuses DEBUG, as production 7.0+ does.
var noDebug = redistest.WithArgs("--enable-debug-command", "no")

// do runs a command and fails the test on error.
func do(t *testing.T, c *redis.Client, args ...interface{}) interface{} {
	t.Helper()
	v, err := c.Do(context.Background(), args...).Result()
	if err != nil {
		t.Fatalf("%v: %v", args, err)
	}
	return v
}

// info returns the fields of one INFO section.
func info(t *testing.T, c *redis.Client, section string) map[string]string {
	t.Helper()
	s, err := c.Info(context.Background(), section).Result()
	if err != nil {
		t.Fatalf("info %s: %v", section, err)
	}
	m := make(map[string]string)
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		if k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), ":"); ok {
			m[k] = v
		}
	}
	return m
}

// replicate makes replica a replica of master and waits until it has
// everything master had when replicate was called.
func replicate(t *testing.T, master, replica *redistest.Server, mc, rc *redis.Client) {
	t.Helper()
	start := time.Now()
	do(t, rc, "CONFIG", "SET", "masterauth", master.Password)
	do(t, rc, "REPLICAOF", master.Host, strconv.Itoa(master.Port))
	waitSync(t, mc, rc)
	t.Logf("replica in sync after %v", time.Since(start).Round(time.Millisecond))
}

// waitSync waits, by polling INFO, until the replica's link is up, no sync
// is in progress, it follows the master's current replication ID and its
// offset has reached the master offset read first. (A master without a
// backlog takes a new replication ID when its first replica attaches, so the
// ID must be read again on each check.)
func waitSync(t *testing.T, mc, rc *redis.Client) {
	t.Helper()
	mi := info(t, mc, "replication")
	target, err := strconv.ParseInt(mi["master_repl_offset"], 10, 64)
	if err != nil {
		t.Fatalf("master_repl_offset %q: %v", mi["master_repl_offset"], err)
	}
	deadline := time.Now().Add(30 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		ri := info(t, rc, "replication")
		replid := info(t, mc, "replication")["master_replid"]
		off, _ := strconv.ParseInt(ri["slave_repl_offset"], 10, 64)
		if ri["master_link_status"] == "up" && ri["master_sync_in_progress"] == "0" &&
			ri["master_replid"] == replid && off >= target {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("replica not in sync after 30s: master offset %d replid %s, replica %v", target, replid, ri)
		}
		<-tick.C
	}
}

// promote turns a replica into a master.
func promote(t *testing.T, c *redis.Client) {
	t.Helper()
	do(t, c, "REPLICAOF", "NO", "ONE")
	if role := info(t, c, "replication")["role"]; role != "master" {
		t.Fatalf("role after REPLICAOF NO ONE: %s", role)
	}
}

// mutate changes a seeded server in four ways and returns the Diff reasons
// Compare(original, mutated) must report, by key: one string changed (its
// TTL kept), one key deleted, one key added and one sorted set score changed.
func mutate(t *testing.T, c *redis.Client) map[string]string {
	t.Helper()
	ctx := context.Background()
	if err := c.Set(ctx, "seed:string:0", "changed", redis.KeepTTL).Err(); err != nil {
		t.Fatal(err)
	}
	if n := c.Del(ctx, "seed:hash:1").Val(); n != 1 {
		t.Fatalf("del seed:hash:1: %d keys", n)
	}
	if err := c.Set(ctx, "extra:key", "x", 0).Err(); err != nil {
		t.Fatal(err)
	}
	zs, err := c.ZRangeWithScores(ctx, "seed:zset:4", 0, 0).Result()
	if err != nil || len(zs) != 1 {
		t.Fatalf("zrange seed:zset:4: %v %v", zs, err)
	}
	if err := c.ZIncrBy(ctx, "seed:zset:4", 1, zs[0].Member.(string)).Err(); err != nil {
		t.Fatal(err)
	}
	return map[string]string{
		"seed:string:0": "value differs",
		"seed:hash:1":   "missing on b",
		"extra:key":     "missing on a",
		"seed:zset:4":   "value differs",
	}
}

// checkDiffs fails unless res is not Equal and reports exactly want.
func checkDiffs(t *testing.T, res Result, want map[string]string) {
	t.Helper()
	if res.Equal {
		t.Errorf("Equal = true, want differences %v", want)
	}
	got := make(map[string]string)
	for _, d := range res.Diffs {
		got[d.Key] = d.Reason
	}
	if len(got) != len(want) || len(res.Diffs) != len(want) {
		t.Errorf("diffs = %v, want %v", res.Diffs, want)
	}
	for k, r := range want {
		if got[k] != r {
			t.Errorf("diff for %q = %q, want %q", k, got[k], r)
		}
	}
}
