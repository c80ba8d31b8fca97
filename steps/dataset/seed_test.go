package dataset

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestSeed(t *testing.T) {
	ctx := context.Background()
	_, c := server(t)

	start := time.Now()
	sum, err := Seed(ctx, c, SeedOptions{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("seeded %d keys (%d bytes, %d with TTL, %v) in %v",
		sum.Keys, sum.Bytes, sum.WithTTL, sum.ByType, time.Since(start).Round(time.Millisecond))

	if n := c.DBSize(ctx).Val(); n != 100000 || sum.Keys != 100000 {
		t.Fatalf("DBSIZE = %d, summary %d keys, want 100000", n, sum.Keys)
	}
	if sum.Bytes <= 0 {
		t.Errorf("Bytes = %d", sum.Bytes)
	}

	// Count types and TTLs on the server itself.
	types := make(map[string]int)
	withTTL := 0
	s := newKeyScanner(c, "scan", CompareOptions{})
	err = s.each(ctx, func(keys []string) error {
		meta, err := readMeta(ctx, c, keys)
		if err != nil {
			return err
		}
		for i, m := range meta {
			types[m.typ]++
			if !strings.HasPrefix(keys[i], "seed:"+m.typ+":") {
				t.Errorf("key %q has type %s", keys[i], m.typ)
			}
			if m.pttl >= 0 {
				withTTL++
				if m.pttl < 86400*1000-60000 {
					t.Errorf("key %q: TTL %d ms, want about a day", keys[i], m.pttl)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range []string{TypeString, TypeHash, TypeList, TypeSet, TypeZSet, TypeStream} {
		if types[typ] == 0 || types[typ] != sum.ByType[typ] {
			t.Errorf("type %s: %d keys on the server, %d in the summary", typ, types[typ], sum.ByType[typ])
		}
	}
	if withTTL != sum.WithTTL || withTTL < 5000 || withTTL > 15000 {
		t.Errorf("%d keys with TTL on the server, %d in the summary, want about 10000", withTTL, sum.WithTTL)
	}
	if exp := info(t, c, "keyspace")["db0"]; !strings.Contains(exp, "expires="+strconv.Itoa(sum.WithTTL)+",") {
		t.Errorf("INFO keyspace db0 = %q, want expires=%d", exp, sum.WithTTL)
	}
}

func TestSeedReproducible(t *testing.T) {
	ctx := context.Background()
	_, a := server(t)
	_, b := server(t)
	opts := SeedOptions{Keys: 3000, Seed: 42, Prefix: "seed:"}

	if _, err := Seed(ctx, a, opts); err != nil {
		t.Fatal(err)
	}
	// b is first seeded with another seed, then reseeded: collections must
	// be replaced, not appended to.
	other := opts
	other.Seed = 43
	if _, err := Seed(ctx, b, other); err != nil {
		t.Fatal(err)
	}
	fa, err := Take(ctx, a, CompareOptions{})
	if err != nil {
		t.Fatal(err)
	}
	fb, err := Take(ctx, b, CompareOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if fa.Sum == fb.Sum {
		t.Fatalf("seeds 42 and 43 gave the same fingerprint %s", fa.Sum)
	}
	if _, err := Seed(ctx, b, opts); err != nil {
		t.Fatal(err)
	}
	if fb, err = Take(ctx, b, CompareOptions{}); err != nil {
		t.Fatal(err)
	}
	if fa != fb || fa.Keys != 3000 {
		t.Fatalf("same seed: fingerprints %+v and %+v, want equal with 3000 keys", fa, fb)
	}
	res, err := Compare(ctx, a, b, CompareOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Equal || res.Method != UsedDebugDigest {
		t.Fatalf("same seed: %+v, want equal by debug-digest", res)
	}
}

func TestSeedOptions(t *testing.T) {
	ctx := context.Background()
	_, c := server(t)
	tests := []struct {
		name    string
		opts    SeedOptions
		wantErr bool
		keys    int
		prefix  string
	}{
		{name: "negative", opts: SeedOptions{Keys: -1}, wantErr: true},
		{name: "prefix", opts: SeedOptions{Keys: 7, Prefix: "p:"}, keys: 7, prefix: "p:"},
		{name: "db", opts: SeedOptions{Keys: 5, Prefix: "d:", DB: 2}, keys: 5, prefix: "d:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sum, err := Seed(ctx, c, tt.opts)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			if sum.Keys != tt.keys {
				t.Errorf("Keys = %d, want %d", sum.Keys, tt.keys)
			}
			db, done := onDB(c, tt.opts.DB)
			defer done()
			keys, err := db.Keys(ctx, tt.prefix+"*").Result()
			if err != nil || len(keys) != tt.keys {
				t.Errorf("KEYS %s* in db %d: %d keys (%v), want %d", tt.prefix, tt.opts.DB, len(keys), err, tt.keys)
			}
		})
	}
	// The DB option must not leave c's pooled connection on another DB.
	if n := c.DBSize(ctx).Val(); n != 7 {
		t.Errorf("DBSIZE of db 0 = %d, want the 7 keys of the prefix case", n)
	}
}
