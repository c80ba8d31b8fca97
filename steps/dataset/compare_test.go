package dataset

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestCompareReplica seeds 100 000 keys, replicates them, compares master
// and replica with every method, then changes the replica and expects each
// method to find exactly the changed keys.
func TestCompareReplica(t *testing.T) {
	ctx := context.Background()
	srvA, a := server(t, fastSync)
	srvB, b := server(t)

	start := time.Now()
	if _, err := Seed(ctx, a, SeedOptions{Seed: 7}); err != nil {
		t.Fatal(err)
	}
	t.Logf("seeded 100000 keys in %v", time.Since(start).Round(time.Millisecond))
	replicate(t, srvA, srvB, a, b)

	t.Run("equal", func(t *testing.T) {
		tests := []struct {
			name string
			opts CompareOptions
			want string
		}{
			{"auto", CompareOptions{}, UsedDebugDigest},
			{"digest exclude", CompareOptions{Method: MethodDigest, Exclude: []string{"understudy:traffic:*"}}, UsedDebugDigestValue},
			{"scan", CompareOptions{Method: MethodScan}, UsedScan},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				res, err := Compare(ctx, a, b, tt.opts)
				if err != nil {
					t.Fatal(err)
				}
				t.Logf("%s: %d keys in %.1f ms", res.Method, res.KeysA, res.DurationMS)
				if !res.Equal || res.Method != tt.want || res.KeysA != 100000 || res.KeysB != 100000 || len(res.Diffs) != 0 {
					t.Errorf("got %+v, want equal by %s with 100000 keys", res, tt.want)
				}
			})
		}
	})

	start = time.Now()
	var fa, fb Fingerprint
	var errA, errB error
	parallel(
		func() { fa, errA = Take(ctx, a, CompareOptions{}) },
		func() { fb, errB = Take(ctx, b, CompareOptions{}) },
	)
	if err := sideErrors(errA, errB); err != nil {
		t.Fatal(err)
	}
	t.Logf("fingerprints of 100000 keys on master and replica in %v", time.Since(start).Round(time.Millisecond))
	if fa != fb || fa.Keys != 100000 {
		t.Errorf("fingerprints %+v (master) and %+v (replica), want equal with 100000 keys", fa, fb)
	}

	promote(t, b)
	want := mutate(t, b)

	t.Run("differ", func(t *testing.T) {
		tests := []struct {
			name string
			opts CompareOptions
			want string
		}{
			{"auto", CompareOptions{}, UsedDebugDigestValue},
			{"scan", CompareOptions{Method: MethodScan}, UsedScan},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				res, err := Compare(ctx, a, b, tt.opts)
				if err != nil {
					t.Fatal(err)
				}
				t.Logf("%s: %d/%d keys in %.1f ms: %v", res.Method, res.KeysA, res.KeysB, res.DurationMS, res.Diffs)
				if res.Method != tt.want || res.KeysA != 100000 || res.KeysB != 100000 {
					t.Errorf("method %s keys %d/%d, want %s with 100000/100000", res.Method, res.KeysA, res.KeysB, tt.want)
				}
				checkDiffs(t, res, want)
			})
		}
	})
}

// TestCompareDebugDisabled compares with a server that refuses DEBUG.
func TestCompareDebugDisabled(t *testing.T) {
	ctx := context.Background()
	srvA, a := server(t, fastSync)
	srvB, b := server(t, noDebug)
	if _, err := Seed(ctx, a, SeedOptions{Keys: 5000, Seed: 3}); err != nil {
		t.Fatal(err)
	}
	replicate(t, srvA, srvB, a, b)

	res, err := Compare(ctx, a, b, CompareOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Equal || res.Method != UsedScan || res.KeysA != 5000 || res.KeysB != 5000 {
		t.Errorf("auto: %+v, want equal by scan with 5000 keys", res)
	}

	for _, tt := range []struct {
		name string
		x, y *redis.Client
		side string
	}{{"b refuses", a, b, "on b"}, {"a refuses", b, a, "on a"}} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Compare(ctx, tt.x, tt.y, CompareOptions{Method: MethodDigest})
			if !errors.Is(err, ErrDebugNotAllowed) {
				t.Fatalf("err = %v, want ErrDebugNotAllowed", err)
			}
			for _, s := range []string{"enable-debug-command", tt.side, "scan"} {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not mention %q", err, s)
				}
			}
		})
	}

	promote(t, b)
	want := mutate(t, b)
	res, err = Compare(ctx, a, b, CompareOptions{Method: MethodAuto})
	if err != nil {
		t.Fatal(err)
	}
	if res.Method != UsedScan {
		t.Errorf("method = %s, want scan", res.Method)
	}
	checkDiffs(t, res, want)
}

// TestCompareExclude writes keys under an excluded prefix on one side only.
func TestCompareExclude(t *testing.T) {
	ctx := context.Background()
	_, a := server(t)
	_, b := server(t)
	for _, c := range []*redis.Client{a, b} {
		if _, err := Seed(ctx, c, SeedOptions{Keys: 2000, Seed: 5}); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 50; i++ {
		do(t, a, "SET", fmt.Sprintf("understudy:traffic:%d", i), i)
	}
	do(t, b, "HSET", "understudy:traffic:only-b", "f", "v")
	do(t, b, "SET", "understudy:trafficker", "not excluded")
	do(t, a, "SET", "understudy:trafficker", "not excluded")

	exclude := []string{"understudy:traffic:*"}
	tests := []struct {
		name    string
		opts    CompareOptions
		method  string
		equal   bool
		keysA   int64
		keysB   int64
		minDiff int
	}{
		{"digest", CompareOptions{Method: MethodDigest, Exclude: exclude}, UsedDebugDigestValue, true, 2001, 2001, 0},
		{"scan", CompareOptions{Method: MethodScan, Exclude: exclude}, UsedScan, true, 2001, 2001, 0},
		{"auto", CompareOptions{Exclude: exclude}, UsedDebugDigestValue, true, 2001, 2001, 0},
		{"digest without exclude", CompareOptions{Method: MethodDigest}, UsedDebugDigestValue, false, 2051, 2002, 10},
		{"scan without exclude", CompareOptions{Method: MethodScan, MaxDiffs: 100}, UsedScan, false, 2051, 2002, 51},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Compare(ctx, a, b, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if res.Equal != tt.equal || res.Method != tt.method || res.KeysA != tt.keysA || res.KeysB != tt.keysB || len(res.Diffs) != tt.minDiff {
				t.Errorf("got %+v, want equal=%v method %s keys %d/%d and %d diffs", res, tt.equal, tt.method, tt.keysA, tt.keysB, tt.minDiff)
			}
			for _, d := range res.Diffs {
				if !strings.HasPrefix(d.Key, "understudy:traffic:") {
					t.Errorf("unexpected diff %+v", d)
				}
			}
		})
	}
}

// TestCompareReasons checks the verdict and reason of both methods for one
// key set up differently on two servers.
func TestCompareReasons(t *testing.T) {
	ctx := context.Background()
	_, a := server(t)
	_, b := server(t)
	long := strings.Repeat("x", 100) // beyond listpack limits: another encoding

	type cmds [][]interface{}
	tests := []struct {
		name   string
		a, b   cmds
		digest string // reason for "k", "" when equal
		scan   string
	}{
		{"equal string", cmds{{"SET", "k", "v"}}, cmds{{"SET", "k", "v"}}, "", ""},
		{"string value", cmds{{"SET", "k", "v"}}, cmds{{"SET", "k", "w"}}, "value differs", "value differs"},
		{"binary string", cmds{{"SET", "k", "\x00\xff"}}, cmds{{"SET", "k", "\x00\xfe"}}, "value differs", "value differs"},
		{"integer string", cmds{{"SET", "k", "10"}}, cmds{{"SET", "k", "9"}, {"INCR", "k"}}, "", ""},
		{"type", cmds{{"SET", "k", "v"}}, cmds{{"HSET", "k", "f", "v"}}, "type string vs hash", "type string vs hash"},
		{"missing on b", cmds{{"SET", "k", "v"}}, nil, "missing on b", "missing on b"},
		{"missing on a", nil, cmds{{"RPUSH", "k", "v"}}, "missing on a", "missing on a"},
		{"ttl missing on b", cmds{{"SET", "k", "v", "EX", "1000"}}, cmds{{"SET", "k", "v"}}, "ttl missing on b", "ttl missing on b"},
		{"ttl missing on a", cmds{{"SADD", "k", "v"}}, cmds{{"SADD", "k", "v"}, {"EXPIRE", "k", "1000"}}, "ttl missing on a", "ttl missing on a"},
		// DEBUG DIGEST sees TTL presence only.
		{"ttl values", cmds{{"SET", "k", "v", "EX", "1000"}}, cmds{{"SET", "k", "v", "EX", "2000"}}, "", "ttl differs: 16m40s vs 33m20s"},
		{"ttl within tolerance", cmds{{"SET", "k", "v", "EX", "1000"}}, cmds{{"SET", "k", "v", "EX", "1003"}}, "", ""},
		{"hash field order", cmds{{"HSET", "k", "a", "1", "b", "2"}}, cmds{{"HSET", "k", "b", "2", "a", "1"}}, "", ""},
		{"hash encoding", cmds{{"HSET", "k", "a", "1"}}, cmds{{"HSET", "k", "a", "1", "b", long}, {"HDEL", "k", "b"}}, "", ""},
		{"hash value", cmds{{"HSET", "k", "a", "1"}}, cmds{{"HSET", "k", "a", "2"}}, "value differs", "value differs"},
		{"list order", cmds{{"RPUSH", "k", "a", "b"}}, cmds{{"RPUSH", "k", "b", "a"}}, "value differs", "value differs"},
		{"set order", cmds{{"SADD", "k", "x", "y", "z"}}, cmds{{"SADD", "k", "z", "y", "x"}}, "", ""},
		{"set encoding", cmds{{"SADD", "k", "1", "2"}}, cmds{{"SADD", "k", "1", "2", "x"}, {"SREM", "k", "x"}}, "", ""},
		{"set member", cmds{{"SADD", "k", "1", "2"}}, cmds{{"SADD", "k", "1", "3"}}, "value differs", "value differs"},
		{"zset integer score", cmds{{"ZADD", "k", "1", "m"}}, cmds{{"ZADD", "k", "2", "m"}}, "value differs", "value differs"},
		{"zset score 0.1", cmds{{"ZADD", "k", "0.1", "m", "2", "n"}}, cmds{{"ZADD", "k", "2", "n", "0.1", "m"}}, "", ""},
		{"zset score 0.1 written long", cmds{{"ZADD", "k", "0.1", "m"}}, cmds{{"ZADD", "k", "0.10000000000000001", "m"}}, "", ""},
		{"zset score 0.1 vs 0.2", cmds{{"ZADD", "k", "0.1", "m"}}, cmds{{"ZADD", "k", "0.2", "m"}}, "value differs", "value differs"},
		{"zset score -0", cmds{{"ZADD", "k", "0", "m"}}, cmds{{"ZADD", "k", "-0", "m"}}, "", ""},
		{"zset encoding", cmds{{"ZADD", "k", "1", "m"}}, cmds{{"ZADD", "k", "1", "m", "2", long}, {"ZREM", "k", long}}, "", ""},
		{"stream equal", cmds{{"XADD", "k", "1-1", "f", "v"}}, cmds{{"XADD", "k", "1-1", "f", "v"}}, "", ""},
		{"stream id", cmds{{"XADD", "k", "1-1", "f", "v"}}, cmds{{"XADD", "k", "1-2", "f", "v"}}, "value differs", "value differs"},
		{"stream field order", cmds{{"XADD", "k", "1-1", "a", "1", "b", "2"}}, cmds{{"XADD", "k", "1-1", "b", "2", "a", "1"}}, "value differs", "value differs"},
		{"stream empty", cmds{{"XADD", "k", "1-1", "f", "v"}, {"XDEL", "k", "1-1"}}, cmds{{"XADD", "k", "1-1", "f", "v"}, {"XDEL", "k", "1-1"}}, "", ""},
		{"stream empty vs missing", cmds{{"XADD", "k", "1-1", "f", "v"}, {"XDEL", "k", "1-1"}}, nil, "missing on b", "missing on b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, s := range []struct {
				c    *redis.Client
				cmds cmds
			}{{a, tt.a}, {b, tt.b}} {
				do(t, s.c, "FLUSHALL")
				for _, cmd := range s.cmds {
					do(t, s.c, cmd...)
				}
			}
			for _, m := range []struct {
				method Method
				want   string
			}{{MethodDigest, tt.digest}, {MethodScan, tt.scan}} {
				res, err := Compare(ctx, a, b, CompareOptions{Method: m.method})
				if err != nil {
					t.Fatalf("%s: %v", m.method, err)
				}
				if m.want == "" {
					if !res.Equal || len(res.Diffs) != 0 {
						t.Errorf("%s: got %+v, want equal", m.method, res)
					}
					continue
				}
				checkDiffs(t, res, map[string]string{"k": m.want})
			}
		})
	}
}

// TestCompareDB compares one database while another differs.
func TestCompareDB(t *testing.T) {
	ctx := context.Background()
	_, a := server(t)
	_, b := server(t)
	for _, c := range []*redis.Client{a, b} {
		if _, err := Seed(ctx, c, SeedOptions{Keys: 500, DB: 3, Seed: 9}); err != nil {
			t.Fatal(err)
		}
	}
	do(t, a, "SET", "only:a", "1")

	tests := []struct {
		db     int
		equal  bool
		method string
		keysA  int64
		keysB  int64
	}{
		// DEBUG DIGEST covers every database: Compare must not use it here.
		{db: 3, equal: true, method: UsedDebugDigestValue, keysA: 500, keysB: 500},
		{db: 0, equal: false, method: UsedDebugDigestValue, keysA: 1, keysB: 0},
	}
	for _, tt := range tests {
		for _, m := range []Method{MethodAuto, MethodScan} {
			t.Run(fmt.Sprintf("db%d/%s", tt.db, m), func(t *testing.T) {
				res, err := Compare(ctx, a, b, CompareOptions{DB: tt.db, Method: m})
				if err != nil {
					t.Fatal(err)
				}
				method := tt.method
				if m == MethodScan {
					method = UsedScan
				}
				if res.Equal != tt.equal || res.Method != method || res.KeysA != tt.keysA || res.KeysB != tt.keysB {
					t.Errorf("got %+v, want equal=%v by %s with %d/%d keys", res, tt.equal, method, tt.keysA, tt.keysB)
				}
			})
		}
	}
	if n := a.DBSize(ctx).Val(); n != 1 {
		t.Errorf("client a sees %d keys in db 0 after Compare, want 1", n)
	}
}

// TestCompareMaxDiffs checks that reporting stops at MaxDiffs while keys are
// still counted.
func TestCompareMaxDiffs(t *testing.T) {
	ctx := context.Background()
	_, a := server(t)
	_, b := server(t)
	for i := 0; i < 30; i++ {
		do(t, a, "SET", fmt.Sprintf("a:%d", i), i)
		do(t, b, "SET", fmt.Sprintf("b:%d", i), i)
	}
	tests := []struct {
		max, want int
	}{{0, 10}, {3, 3}, {100, 60}}
	for _, tt := range tests {
		for _, m := range []Method{MethodDigest, MethodScan} {
			t.Run(fmt.Sprintf("%s/%d", m, tt.max), func(t *testing.T) {
				res, err := Compare(ctx, a, b, CompareOptions{Method: m, MaxDiffs: tt.max})
				if err != nil {
					t.Fatal(err)
				}
				if res.Equal || len(res.Diffs) != tt.want || res.KeysA != 30 || res.KeysB != 30 {
					t.Errorf("got equal=%v %d diffs keys %d/%d, want %d diffs and 30/30 keys", res.Equal, len(res.Diffs), res.KeysA, res.KeysB, tt.want)
				}
			})
		}
	}
}

func TestCompareUnknownMethod(t *testing.T) {
	_, a := server(t)
	if _, err := Compare(context.Background(), a, a, CompareOptions{Method: "md5"}); err == nil || !strings.Contains(err.Error(), "md5") {
		t.Fatalf("err = %v, want unknown method", err)
	}
}

// CompareKeys looks only at the keys it is given: equal ones pass, a
// changed or missing one is named, whatever else differs.
func TestCompareKeys(t *testing.T) {
	ctx := context.Background()
	_, a := server(t)
	_, b := server(t)
	for _, c := range []*redis.Client{a, b} {
		do(t, c, "SET", "same", "1")
		do(t, c, "HSET", "h", "f", "v")
	}
	do(t, a, "SET", "changed", "a")
	do(t, b, "SET", "changed", "b")
	do(t, a, "SET", "only-a", "x")
	do(t, a, "SET", "elsewhere", "not compared")
	res, err := CompareKeys(ctx, a, b, []string{"same", "h"}, CompareOptions{})
	if err != nil || !res.Equal || res.KeysA != 2 {
		t.Fatalf("equal keys: %+v %v", res, err)
	}
	res, err = CompareKeys(ctx, a, b, []string{"same", "changed", "only-a"}, CompareOptions{})
	if err != nil {
		t.Fatal(err)
	}
	checkDiffs(t, res, map[string]string{"changed": "value differs", "only-a": "missing on b"})
	if res.DiffCount != 2 {
		t.Errorf("DiffCount %d", res.DiffCount)
	}
}
