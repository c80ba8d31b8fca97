package dataset

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestSnapshotChanges changes one thing at a time in a freshly seeded
// server and expects the snapshot check to name it, or not.
func TestSnapshotChanges(t *testing.T) {
	ctx := context.Background()
	_, c := server(t)
	seed := SeedOptions{Keys: 2000, Seed: 11, SkipBigKeys: true}
	if _, err := Seed(ctx, c, seed); err != nil {
		t.Fatal(err)
	}
	keys := listKeys(t, c)
	var ttlKey KeyRef
	for _, typ := range []string{TypeString, TypeHash, TypeList, TypeSet, TypeZSet} {
		for _, k := range keys[typ] {
			cl, done := onDB(c, k.DB)
			if ttlKey.Key == "" && cl.PTTL(ctx, k.Key).Val() > 0 {
				ttlKey = k
			}
			done()
		}
	}
	if ttlKey.Key == "" {
		t.Fatal("no seeded key with TTL")
	}
	str, hash, list, set, zset, stream := keys.first(TypeString), keys.first(TypeHash), keys.first(TypeList),
		keys.first(TypeSet), keys.first(TypeZSet), keys.first(TypeStream)
	id := func(k KeyRef) string { return diffID(Diff{DB: k.DB, Key: k.Key}) }
	cl := func(k KeyRef) *redis.Client {
		x, done := onDB(c, k.DB)
		t.Cleanup(done)
		return x
	}
	member := func(k KeyRef) string {
		zs := cl(k).ZRangeWithScores(ctx, k.Key, 0, 0).Val()
		return zs[0].Member.(string)
	}
	group := func(k KeyRef) string {
		l := do(t, cl(k), "XINFO", "GROUPS", k.Key).([]interface{})
		m, err := replyMap(l[0])
		if err != nil {
			t.Fatal(err)
		}
		return replyText(m["name"])
	}

	type change struct {
		db   int
		args []interface{}
	}
	tests := []struct {
		name   string
		change []change
		opts   CompareOptions
		want   map[string]string
		setup  func()
		after  func() // changes after change
	}{
		{name: "string value", change: []change{{str.DB, []interface{}{"SET", str.Key, "other", "KEEPTTL"}}}, want: map[string]string{id(str): "value differs"}},
		{name: "hash field", change: []change{{hash.DB, []interface{}{"HSET", hash.Key, "f0", "other"}}}, want: map[string]string{id(hash): "value differs"}},
		{name: "list element", change: []change{{list.DB, []interface{}{"LSET", list.Key, "0", "other"}}}, want: map[string]string{id(list): "value differs"}},
		{name: "set member", change: []change{{set.DB, []interface{}{"SADD", set.Key, "other"}}}, want: map[string]string{id(set): "value differs"}},
		{name: "zset score", change: []change{{zset.DB, []interface{}{"ZINCRBY", zset.Key, "0.5", member(zset)}}}, want: map[string]string{id(zset): "value differs"}},
		{name: "stream entry", change: []change{{stream.DB, []interface{}{"XADD", stream.Key, "*", "f", "v"}}}, want: map[string]string{id(stream): "value differs"}},
		{name: "stream group", change: []change{{stream.DB, []interface{}{"XGROUP", "SETID", stream.Key, group(stream), "$"}}},
			want: map[string]string{id(stream): `stream group ".*" last-delivered-id \S+ vs \S+`}},
		{name: "key renamed", change: []change{{str.DB, []interface{}{"RENAME", str.Key, "seed:string:x"}}}, want: map[string]string{id(str): "missing on server"}},
		{name: "key deleted", change: []change{{hash.DB, []interface{}{"DEL", hash.Key}}}, want: map[string]string{id(hash): "missing on server"}},
		{name: "key moved to another db", change: []change{{str.DB, []interface{}{"MOVE", str.Key, "9"}}}, want: map[string]string{id(str): "missing on server"}},
		{name: "ttl removed", change: []change{{ttlKey.DB, []interface{}{"PERSIST", ttlKey.Key}}}, want: map[string]string{id(ttlKey): "ttl missing on server"}},
		{name: "ttl value changed", change: []change{{ttlKey.DB, []interface{}{"EXPIRE", ttlKey.Key, "5000"}}}, want: map[string]string{id(ttlKey): `ttl differs: \S+ vs 1h23m20s`}},
		{name: "ttl 100 ms later", after: func() {
			at := do(t, cl(ttlKey), "PEXPIRETIME", ttlKey.Key).(int64)
			do(t, cl(ttlKey), "PEXPIREAT", ttlKey.Key, at+100)
		}, want: map[string]string{id(ttlKey): `ttl differs: \S+ vs \S+`}},
		{name: "function library deleted", change: []change{{0, []interface{}{"FUNCTION", "DELETE", "understudy_seed"}}}, want: map[string]string{"function:understudy_seed": "missing on server"}},
		{name: "acl user changed", change: []change{{0, []interface{}{"ACL", "SETUSER", "understudy-seed-app", "+@admin"}}},
			want: map[string]string{"acl:understudy-seed-app": `command rules differ: \d+ allowed on server only .*`}},
		{name: "keys not in the snapshot", change: []change{{0, []interface{}{"SET", "app:1", "v"}}, {3, []interface{}{"HSET", "app:2", "f", "v"}}, {5, []interface{}{"SET", "seed:new", "v"}}},
			opts: CompareOptions{Match: SeedPrefix + "*"}},
		{name: "probe keys excluded", change: []change{{0, []interface{}{"SET", "seed:probe:1", "v"}}},
			opts: CompareOptions{Match: SeedPrefix + "*", Exclude: []string{"seed:probe:*"}}, setup: func() { do(t, c, "SET", "seed:probe:1", "before") }},
		{name: "probe keys not excluded", change: []change{{0, []interface{}{"SET", "seed:probe:1", "v"}}},
			opts: CompareOptions{Match: SeedPrefix + "*"}, setup: func() { do(t, c, "SET", "seed:probe:1", "before") }, want: map[string]string{"seed:probe:1": "value differs"}},
		{name: "unmatched key changed", change: []change{{0, []interface{}{"SET", "app:1", "w"}}, {hash.DB, []interface{}{"HSET", hash.Key, "f0", "other"}}},
			opts: CompareOptions{Match: SeedPrefix + "*"}, setup: func() { do(t, c, "SET", "app:1", "v") }, want: map[string]string{id(hash): "value differs"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reset(t, c)
			if _, err := Seed(ctx, c, seed); err != nil {
				t.Fatal(err)
			}
			if tt.setup != nil {
				tt.setup()
			}
			snap, err := TakeSnapshot(ctx, c, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			for _, ch := range tt.change {
				doDB(t, c, ch.db, ch.args...)
			}
			if tt.after != nil {
				tt.after()
			}
			res, err := CheckSnapshot(ctx, c, snap, CompareOptions{})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%d keys: %v", snap.Keys, res.Diffs)
			checkDiffs(t, res, tt.want)
		})
	}
}

// TestSnapshotOrderIndependent writes the same logical content in
// different orders and encodings on two servers.
func TestSnapshotOrderIndependent(t *testing.T) {
	ctx := context.Background()
	_, a := server(t, samePassword)
	_, b := server(t, samePassword)
	for i := 0; i < 300; i++ {
		do(t, a, "HSET", fmt.Sprintf("h%d", i), "a", i, "b", "x")
		do(t, a, "SADD", fmt.Sprintf("s%d", i), "1", "2", i)
		do(t, a, "ZADD", fmt.Sprintf("z%d", i), 0.1, "m", i, "n")
	}
	for i := 299; i >= 0; i-- {
		do(t, b, "ZADD", fmt.Sprintf("z%d", i), i, "n", "0.10000000000000001", "m")
		do(t, b, "SADD", fmt.Sprintf("s%d", i), i, "2", "1", "tmp")
		do(t, b, "SREM", fmt.Sprintf("s%d", i), "tmp")
		do(t, b, "HSET", fmt.Sprintf("h%d", i), "b", "x", "a", i)
	}
	snap, err := TakeSnapshot(ctx, a, CompareOptions{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := CheckSnapshot(ctx, b, snap, CompareOptions{})
	if err != nil || !res.Equal || res.KeysA != 900 || res.KeysB != 900 {
		t.Errorf("snapshot check: %+v %v, want equal with 900 keys", res, err)
	}
	for _, m := range []Method{MethodDigest, MethodAuto} {
		res, err := Compare(ctx, a, b, CompareOptions{Method: m})
		if err != nil {
			t.Fatal(err)
		}
		if !res.Equal {
			t.Errorf("%s: %+v, want equal", m, res)
		}
	}
}

// TestSnapshotMemory takes a snapshot of 100 000 seeded keys and checks
// that it holds a few MB.
func TestSnapshotMemory(t *testing.T) {
	ctx := context.Background()
	_, c := server(t)
	if _, err := Seed(ctx, c, SeedOptions{Seed: 2, SkipBigKeys: true}); err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	snap, err := TakeSnapshot(ctx, c, CompareOptions{Match: SeedPrefix + "*"})
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	runtime.GC()
	runtime.ReadMemStats(&after)
	heap := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("snapshot of %d keys in %v: %.1f MB by MemoryBytes, heap grew %.1f MB", snap.Keys, took.Round(time.Millisecond),
		float64(snap.MemoryBytes())/1e6, float64(heap)/1e6)
	if snap.Keys != 100000 {
		t.Errorf("%d keys", snap.Keys)
	}
	if snap.MemoryBytes() > 8e6 || heap > 12e6 {
		t.Errorf("snapshot holds %d bytes (heap %d), want a few MB", snap.MemoryBytes(), heap)
	}
	start = time.Now()
	res, err := CheckSnapshot(ctx, c, snap, CompareOptions{})
	if err != nil || !res.Equal {
		t.Fatalf("check: %+v %v", res, err)
	}
	t.Logf("checked in %v", time.Since(start).Round(time.Millisecond))
	runtime.KeepAlive(snap)
}
