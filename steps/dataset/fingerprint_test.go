package dataset

import (
	"context"
	"fmt"
	"testing"

	"github.com/redis/go-redis/v9"
)

// TestFingerprintChanges changes one thing at a time in a freshly seeded
// database and expects the fingerprint to change, or not.
func TestFingerprintChanges(t *testing.T) {
	ctx := context.Background()
	_, c := server(t)
	seed := SeedOptions{Keys: 2000, Seed: 11}
	if _, err := Seed(ctx, c, seed); err != nil {
		t.Fatal(err)
	}
	base, err := Take(ctx, c, CompareOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if base.Keys != 2000 || len(base.Sum) != 64 {
		t.Fatalf("base fingerprint %+v", base)
	}

	// Key 10 is a string (see seedType); which seeded keys have a TTL
	// depends on the seed, so the TTL cases find one.
	var ttlKey string
	for i := 6; i < 200 && ttlKey == ""; i++ {
		k := "seed:" + seedType(i) + fmt.Sprintf(":%d", i)
		if c.PTTL(ctx, k).Val() > 0 {
			ttlKey = k
		}
	}
	if ttlKey == "" {
		t.Fatal("no seeded key with TTL among the first 200")
	}
	zs := c.ZRangeWithScores(ctx, "seed:zset:4", 0, 0).Val()
	if len(zs) != 1 {
		t.Fatal("seed:zset:4 is empty")
	}

	tests := []struct {
		name    string
		change  [][]interface{}
		exclude []string
		match   string
		same    bool
	}{
		{name: "string value", change: [][]interface{}{{"SET", "seed:string:0", "other", "KEEPTTL"}}},
		{name: "hash field", change: [][]interface{}{{"HSET", "seed:hash:1", "f0", "other"}}},
		{name: "list element", change: [][]interface{}{{"LSET", "seed:list:2", "0", "other"}}},
		{name: "set member", change: [][]interface{}{{"SADD", "seed:set:3", "other"}}},
		{name: "zset score", change: [][]interface{}{{"ZINCRBY", "seed:zset:4", "1", zs[0].Member}}},
		{name: "zset score 0.5", change: [][]interface{}{{"ZINCRBY", "seed:zset:4", "0.5", zs[0].Member}}},
		{name: "stream entry", change: [][]interface{}{{"XADD", "seed:stream:5", "*", "f", "v"}}},
		{name: "key renamed", change: [][]interface{}{{"RENAME", "seed:string:10", "seed:string:x"}}},
		{name: "key added", change: [][]interface{}{{"SET", "new", "v"}}},
		{name: "key deleted", change: [][]interface{}{{"DEL", "seed:string:10"}}},
		{name: "ttl removed", change: [][]interface{}{{"PERSIST", ttlKey}}},
		{name: "ttl added", change: [][]interface{}{{"EXPIRE", "seed:list:2", "5000"}, {"EXPIRE", "seed:string:10", "5000"}}},
		{name: "ttl value changed", change: [][]interface{}{{"EXPIRE", ttlKey, "5000"}}, same: true},
		{name: "excluded key added", change: [][]interface{}{{"SET", "understudy:traffic:1", "v"}}, exclude: []string{"understudy:traffic:*"}, same: true},
		{name: "excluded key changed", change: [][]interface{}{{"SET", "seed:string:0", "other", "KEEPTTL"}}, exclude: []string{"seed:string:*"}, same: true},
		{name: "unmatched key added", change: [][]interface{}{{"SET", "app:1", "v"}, {"HSET", "app:2", "f", "v"}}, match: SeedPrefix + "*", same: true},
		{name: "matched key changed", change: [][]interface{}{{"SET", "app:1", "v"}, {"HSET", "seed:hash:1", "f0", "other"}}, match: SeedPrefix + "*"},
		{name: "matched key deleted", change: [][]interface{}{{"DEL", "seed:string:10"}}, match: SeedPrefix + "*"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			do(t, c, "FLUSHALL")
			if _, err := Seed(ctx, c, seed); err != nil {
				t.Fatal(err)
			}
			before, err := Take(ctx, c, CompareOptions{Exclude: tt.exclude, Match: tt.match})
			if err != nil {
				t.Fatal(err)
			}
			if tt.exclude == nil && tt.match == "" && before != base {
				t.Fatalf("reseeded fingerprint %+v, want %+v", before, base)
			}
			for _, cmd := range tt.change {
				do(t, c, cmd...)
			}
			after, err := Take(ctx, c, CompareOptions{Exclude: tt.exclude, Match: tt.match})
			if err != nil {
				t.Fatal(err)
			}
			if (after.Sum == before.Sum) != tt.same {
				t.Errorf("fingerprint before %s after %s, want same=%v", before.Sum, after.Sum, tt.same)
			}
		})
	}
}

// TestFingerprintOrderIndependent writes the same logical content in
// different orders and encodings on two servers.
func TestFingerprintOrderIndependent(t *testing.T) {
	ctx := context.Background()
	_, a := server(t)
	_, b := server(t)
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
	fps := make([]Fingerprint, 2)
	for i, c := range []*redis.Client{a, b} {
		var err error
		if fps[i], err = Take(ctx, c, CompareOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if fps[0] != fps[1] || fps[0].Keys != 900 {
		t.Errorf("fingerprints %+v and %+v, want equal with 900 keys", fps[0], fps[1])
	}
	for _, m := range []Method{MethodDigest, MethodScan} {
		res, err := Compare(ctx, a, b, CompareOptions{Method: m})
		if err != nil {
			t.Fatal(err)
		}
		if !res.Equal {
			t.Errorf("%s: %+v, want equal", m, res)
		}
	}
}
