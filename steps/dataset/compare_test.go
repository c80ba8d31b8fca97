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

// TestCompareReplica seeds keys of every kind over several databases,
// replicates them, compares master and replica, then changes the replica
// and expects exactly the changed keys.
func TestCompareReplica(t *testing.T) {
	ctx := context.Background()
	srvA, a := server(t, fastSync, samePassword)
	srvB, b := server(t, samePassword)

	start := time.Now()
	sum, err := Seed(ctx, a, SeedOptions{Keys: 30000, Seed: 7, SkipBigKeys: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("seeded %s in %v", sum, time.Since(start).Round(time.Millisecond))
	replicate(t, hostNode(srvA, a), hostNode(srvB, b))
	copyUsers(t, a, b)
	total := int64(sum.Total())

	for _, m := range []Method{MethodAuto, MethodScan} {
		res, err := Compare(ctx, a, b, CompareOptions{Method: m})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %d keys in dbs %v in %.1f ms, ttl tolerance %d ms, notes %v", res.Method, res.KeysA, res.DBs, res.DurationMS, res.TTLToleranceMS, res.Notes)
		if !res.Equal || res.Method != UsedScan || res.KeysA != total || res.KeysB != total || len(res.Diffs) != 0 || len(res.DBs) != 3 {
			t.Errorf("%s: got %+v, want equal by scan with %d keys in 3 dbs", m, res, total)
		}
		if res.TTLToleranceMS <= ttlSlack || res.TTLToleranceMS > 2000 {
			t.Errorf("ttl tolerance %d ms", res.TTLToleranceMS)
		}
	}

	start = time.Now()
	snap, err := TakeSnapshot(ctx, a, CompareOptions{Match: SeedPrefix + "*"})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("snapshot of %d keys in %v, %d KB", snap.Keys, time.Since(start).Round(time.Millisecond), snap.MemoryBytes()>>10)
	res, err := CheckSnapshot(ctx, b, snap, CompareOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Equal || res.KeysA != total || res.KeysB != total {
		t.Errorf("snapshot check on the replica: %+v, want equal with %d keys", res, total)
	}

	keys := listKeys(t, b)
	promote(t, b)
	want := mutate(t, b, keys)
	res, err = Compare(ctx, a, b, CompareOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: %d/%d keys in %.1f ms: %v", res.Method, res.KeysA, res.KeysB, res.DurationMS, res.Diffs)
	if res.KeysA != total || res.KeysB != total {
		t.Errorf("keys %d/%d, want %d", res.KeysA, res.KeysB, total)
	}
	checkDiffs(t, res, want)

	// The snapshot check ignores the added key, which is not in the
	// snapshot, and names the three others.
	res, err = CheckSnapshot(ctx, b, snap, CompareOptions{})
	if err != nil {
		t.Fatal(err)
	}
	delete(want, "extra:key")
	for k, r := range want {
		want[k] = strings.ReplaceAll(r, "on b", "on server")
	}
	checkDiffs(t, res, want)
	if res.KeysB != total-1 {
		t.Errorf("snapshot keys found %d, want %d", res.KeysB, total-1)
	}

	// CompareKeys looks again at the keys named, in their databases.
	var refs []KeyRef
	for _, d := range res.Diffs {
		refs = append(refs, KeyRef{DB: d.DB, Key: d.Key})
	}
	again, err := CompareKeys(ctx, a, b, refs, CompareOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for k, r := range want {
		want[k] = strings.ReplaceAll(r, "on server", "on b")
	}
	checkDiffs(t, again, want)
}

// TestCompareDigest checks the explicit digest method: DEBUG DIGEST for the
// whole server, DIGEST-VALUE per key with Exclude or a subset of the
// databases, ErrDebugNotAllowed from a server that refuses DEBUG.
func TestCompareDigest(t *testing.T) {
	ctx := context.Background()
	srvA, a := server(t, fastSync, samePassword)
	srvB, b := server(t, samePassword)
	_, c := server(t, noDebug, samePassword)
	sum, err := Seed(ctx, a, SeedOptions{Keys: 5000, Seed: 3, SkipBigKeys: true})
	if err != nil {
		t.Fatal(err)
	}
	replicate(t, hostNode(srvA, a), hostNode(srvB, b))
	total := int64(sum.Total())
	tests := []struct {
		name  string
		opts  CompareOptions
		want  string
		keysA int64
	}{
		{"whole", CompareOptions{Method: MethodDigest}, UsedDebugDigest, total},
		{"exclude", CompareOptions{Method: MethodDigest, Exclude: []string{"understudy:probe:*"}}, UsedDebugDigestValue, total},
		{"db 0", CompareOptions{Method: MethodDigest, DBs: []int{0}}, UsedDebugDigestValue, int64(sum.ByDB[0])},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Compare(ctx, a, b, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if !res.Equal || res.Method != tt.want || res.KeysA != tt.keysA || res.KeysB != tt.keysA {
				t.Errorf("got %+v, want equal by %s with %d keys", res, tt.want, tt.keysA)
			}
		})
	}
	for _, tt := range []struct {
		name string
		x, y *redis.Client
		side string
	}{{"b refuses", a, c, "on b"}, {"a refuses", c, a, "on a"}} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Compare(ctx, tt.x, tt.y, CompareOptions{Method: MethodDigest})
			if !errors.Is(err, ErrDebugNotAllowed) {
				t.Fatalf("err = %v, want ErrDebugNotAllowed", err)
			}
			for _, s := range []string{"enable-debug-command", tt.side, "method auto"} {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not mention %q", err, s)
				}
			}
		})
	}
	// Auto never uses DEBUG: a server that refuses it compares.
	if res, err := Compare(ctx, c, c, CompareOptions{}); err != nil || !res.Equal {
		t.Errorf("auto with DEBUG refused: %+v %v", res, err)
	}

	keys := listKeys(t, b)
	promote(t, b)
	want := mutate(t, b, keys)
	res, err := Compare(ctx, a, b, CompareOptions{Method: MethodDigest})
	if err != nil {
		t.Fatal(err)
	}
	if res.Method != UsedDebugDigestValue {
		t.Errorf("method %s", res.Method)
	}
	checkDiffs(t, res, want)
}

// TestCompareExclude writes keys under an excluded prefix on one side only.
func TestCompareExclude(t *testing.T) {
	ctx := context.Background()
	_, a := server(t, samePassword)
	_, b := server(t, samePassword)
	for i := 0; i < 300; i++ {
		for _, c := range []*redis.Client{a, b} {
			do(t, c, "HSET", fmt.Sprintf("h:%d", i), "f", i)
			doDB(t, c, 2, "SET", fmt.Sprintf("s:%d", i), i)
		}
	}
	for i := 0; i < 50; i++ {
		do(t, a, "SET", fmt.Sprintf("understudy:probe:%d", i), i)
	}
	doDB(t, b, 2, "HSET", "understudy:probe:only-b", "f", "v")
	do(t, b, "SET", "understudy:prober", "not excluded")
	do(t, a, "SET", "understudy:prober", "not excluded")

	exclude := []string{"understudy:probe:*"}
	tests := []struct {
		name    string
		opts    CompareOptions
		method  string
		equal   bool
		keysA   int64
		keysB   int64
		minDiff int
	}{
		{"auto", CompareOptions{Exclude: exclude}, UsedScan, true, 601, 601, 0},
		{"digest", CompareOptions{Method: MethodDigest, Exclude: exclude}, UsedDebugDigestValue, true, 601, 601, 0},
		{"auto without exclude", CompareOptions{MaxDiffs: 100}, UsedScan, false, 651, 602, 51},
		{"digest without exclude", CompareOptions{Method: MethodDigest}, UsedDebugDigestValue, false, 651, 602, 10},
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
				if !strings.HasPrefix(d.Key, "understudy:probe:") {
					t.Errorf("unexpected diff %+v", d)
				}
			}
		})
	}
}

// TestCompareDBs compares chosen databases while another differs, and
// every database by default.
func TestCompareDBs(t *testing.T) {
	ctx := context.Background()
	_, a := server(t, samePassword)
	_, b := server(t, samePassword)
	for _, c := range []*redis.Client{a, b} {
		for i := 0; i < 100; i++ {
			doDB(t, c, 3, "SET", fmt.Sprintf("k%d", i), i)
		}
	}
	do(t, a, "SET", "only:a", "1")
	doDB(t, b, 5, "SET", "only:b", "1")

	tests := []struct {
		dbs   []int
		equal bool
		keysA int64
		keysB int64
		want  map[string]string
	}{
		{dbs: []int{3}, equal: true, keysA: 100, keysB: 100},
		{dbs: []int{0}, keysA: 1, keysB: 0, want: map[string]string{"only:a": "missing on b"}},
		{dbs: nil, keysA: 101, keysB: 101, want: map[string]string{"only:a": "missing on b", "db5:only:b": "missing on a"}},
	}
	for _, tt := range tests {
		for _, m := range []Method{MethodAuto, MethodDigest} {
			t.Run(fmt.Sprintf("%v/%s", tt.dbs, m), func(t *testing.T) {
				res, err := Compare(ctx, a, b, CompareOptions{DBs: tt.dbs, Method: m})
				if err != nil {
					t.Fatal(err)
				}
				if res.KeysA != tt.keysA || res.KeysB != tt.keysB {
					t.Errorf("keys %d/%d, want %d/%d", res.KeysA, res.KeysB, tt.keysA, tt.keysB)
				}
				checkDiffs(t, res, tt.want)
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
	_, a := server(t, samePassword)
	_, b := server(t, samePassword)
	for i := 0; i < 30; i++ {
		do(t, a, "SET", fmt.Sprintf("a:%d", i), i)
		do(t, b, "SET", fmt.Sprintf("b:%d", i), i)
	}
	tests := []struct {
		max, want int
	}{{0, 10}, {3, 3}, {100, 60}}
	for _, tt := range tests {
		for _, m := range []Method{MethodDigest, MethodAuto} {
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

// CompareKeys looks only at the keys it is given, in their databases:
// equal ones pass, a changed or missing one is named, whatever else
// differs.
func TestCompareKeys(t *testing.T) {
	ctx := context.Background()
	_, a := server(t, samePassword)
	_, b := server(t, samePassword)
	for _, c := range []*redis.Client{a, b} {
		do(t, c, "SET", "same", "1")
		doDB(t, c, 2, "HSET", "h", "f", "v")
	}
	do(t, a, "SET", "changed", "a")
	do(t, b, "SET", "changed", "b")
	doDB(t, a, 2, "SET", "only-a", "x")
	do(t, a, "SET", "elsewhere", "not compared")
	res, err := CompareKeys(ctx, a, b, []KeyRef{{0, "same"}, {2, "h"}}, CompareOptions{})
	if err != nil || !res.Equal || res.KeysA != 2 {
		t.Fatalf("equal keys: %+v %v", res, err)
	}
	res, err = CompareKeys(ctx, a, b, []KeyRef{{0, "same"}, {0, "changed"}, {2, "only-a"}}, CompareOptions{})
	if err != nil {
		t.Fatal(err)
	}
	checkDiffs(t, res, map[string]string{"changed": "value differs", "db2:only-a": "missing on b"})
	keys, all := res.Keys()
	if !all || len(keys) != 2 {
		t.Errorf("Keys() = %v %v", keys, all)
	}
}

// TestCompareReasons checks the verdict and reason of Compare, of the
// snapshot check and of the digest method for one key set up differently
// on two servers.
func TestCompareReasons(t *testing.T) {
	ctx := context.Background()
	_, a := server(t, samePassword)
	_, b := server(t, samePassword)
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
		{"empty string", cmds{{"SET", "k", ""}}, cmds{{"SET", "k", ""}}, "", ""},
		{"integer string", cmds{{"SET", "k", "10"}}, cmds{{"SET", "k", "9"}, {"INCR", "k"}}, "", ""},
		{"type", cmds{{"SET", "k", "v"}}, cmds{{"HSET", "k", "f", "v"}}, "type string vs hash", "type string vs hash"},
		{"missing on b", cmds{{"SET", "k", "v"}}, nil, "missing on b", "missing on b"},
		{"missing on a", nil, cmds{{"RPUSH", "k", "v"}}, "missing on a", "missing on a"},
		{"ttl missing on b", cmds{{"SET", "k", "v", "EX", "1000"}}, cmds{{"SET", "k", "v"}}, "ttl missing on b", "ttl missing on b"},
		{"ttl missing on a", cmds{{"SADD", "k", "v"}}, cmds{{"SADD", "k", "v"}, {"EXPIRE", "k", "1000"}}, "ttl missing on a", "ttl missing on a"},
		// DEBUG DIGEST sees TTL presence only.
		{"ttl values", cmds{{"SET", "k", "v", "EX", "1000"}}, cmds{{"SET", "k", "v", "EX", "2000"}}, "", "ttl differs: 16m40s vs 33m20s"},
		{"ttl 1 s apart", cmds{{"SET", "k", "v", "PXAT", "4102444800000"}}, cmds{{"SET", "k", "v", "PXAT", "4102444801000"}}, "", `ttl differs: \S+ vs \S+`},
		{"ttl same expiry", cmds{{"SET", "k", "v", "PXAT", "4102444800000"}}, cmds{{"SET", "k", "v", "PXAT", "4102444800000"}}, "", ""},
		{"hash field order", cmds{{"HSET", "k", "a", "1", "b", "2"}}, cmds{{"HSET", "k", "b", "2", "a", "1"}}, "", ""},
		{"hash encoding", cmds{{"HSET", "k", "a", "1"}}, cmds{{"HSET", "k", "a", "1", "b", long}, {"HDEL", "k", "b"}}, "", ""},
		{"hash value", cmds{{"HSET", "k", "a", "1"}}, cmds{{"HSET", "k", "a", "2"}}, "value differs", "value differs"},
		{"hash field boundary", cmds{{"HSET", "k", "ab", "c"}}, cmds{{"HSET", "k", "a", "bc"}}, "value differs", "value differs"},
		{"list order", cmds{{"RPUSH", "k", "a", "b"}}, cmds{{"RPUSH", "k", "b", "a"}}, "value differs", "value differs"},
		{"list vs set", cmds{{"RPUSH", "k", "a"}}, cmds{{"SADD", "k", "a"}}, "type list vs set", "type list vs set"},
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
		// The cached cardinality of a HyperLogLog is not content.
		{"hyperloglog cache", cmds{{"PFADD", "k", "a", "b"}, {"PFCOUNT", "k"}}, cmds{{"PFADD", "k", "a", "b"}}, "value differs", ""},
		{"hyperloglog", cmds{{"PFADD", "k", "a", "b"}}, cmds{{"PFADD", "k", "a", "c"}}, "value differs", "value differs"},
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
			}{{MethodDigest, tt.digest}, {MethodAuto, tt.scan}} {
				res, err := Compare(ctx, a, b, CompareOptions{Method: m.method})
				if err != nil {
					t.Fatalf("%s: %v", m.method, err)
				}
				want := map[string]string{}
				if m.want != "" {
					want["k"] = m.want
				}
				checkDiffs(t, res, want)
			}
			snap, err := TakeSnapshot(ctx, a, CompareOptions{})
			if err != nil {
				t.Fatal(err)
			}
			res, err := CheckSnapshot(ctx, b, snap, CompareOptions{})
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]string{}
			if tt.scan != "" && tt.scan != "missing on a" {
				r := strings.NewReplacer("on b", "on server", "on a", "on snapshot").Replace(tt.scan)
				want["k"] = r
			}
			checkDiffs(t, res, want)
		})
	}
}
