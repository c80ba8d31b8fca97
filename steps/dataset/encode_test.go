package dataset

import (
	"strconv"
	"testing"

	"github.com/redis/go-redis/v9"
)

// TestCanonicalScore checks that the forms different server versions print
// for one double give one canonical score.
func TestCanonicalScore(t *testing.T) {
	tests := []struct {
		printed []string // forms servers print for one score
		want    string
	}{
		{[]string{"0.1", "0.10000000000000001"}, "0.1"}, // 7.2+ and 7.0
		{[]string{"1", "1.0", "1e0"}, "1"},              // integer scores
		{[]string{"-1000000"}, "-1e+06"},                // seeded range
		{[]string{"0", "-0"}, "0"},                      // one score in Redis
		{[]string{"3.3333333333333335", "3.33333333333333348"}, "3.3333333333333335"},
		{[]string{"inf", "+inf", "Inf"}, "+Inf"},
		{[]string{"-inf"}, "-Inf"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			for _, p := range tt.printed {
				f, err := strconv.ParseFloat(p, 64)
				if err != nil {
					t.Fatal(err)
				}
				if got := canonicalScore(f); got != tt.want {
					t.Errorf("canonicalScore(%s) = %s, want %s", p, got, tt.want)
				}
			}
		})
	}
}

func zsetDigest(zs []redis.Z) digest {
	var s setSum
	for _, z := range zs {
		zsetAdd(&s, z.Member.(string), z.Score)
	}
	return s.digest(TypeZSet)
}

func streamDigest(entries []streamEntry) digest {
	h := newSeqHash()
	streamAdd(h, entries)
	return h.digest(TypeStream)
}

func chunked(s string, n int) digest {
	h := newStringHasher()
	for len(s) > n {
		h.write(s[:n])
		s = s[n:]
	}
	h.write(s)
	return h.digest()
}

func TestDigestOrderFree(t *testing.T) {
	hll := "HYLL\x01\x00\x00\x00" + "\x02\x00\x00\x00\x00\x00\x00\x00" + "registers"
	hllCached := "HYLL\x01\x00\x00\x00" + "\x02\x00\x00\x00\x00\x00\x00\x80" + "registers"
	tests := []struct {
		name string
		x, y digest
		same bool
	}{
		{"set order", setDigest([]string{"a", "b"}), setDigest([]string{"b", "a"}), true},
		{"set member", setDigest([]string{"a", "b"}), setDigest([]string{"a", "c"}), false},
		{"set size", setDigest([]string{"a"}), setDigest([]string{"a", "a"}), false},
		{"list order", listDigest([]string{"a", "b"}), listDigest([]string{"b", "a"}), false},
		{"list boundary", listDigest([]string{"ab", "c"}), listDigest([]string{"a", "bc"}), false},
		{"set vs list", setDigest([]string{"a"}), listDigest([]string{"a"}), false},
		{"hash", hashDigest(map[string]string{"a": "1", "b": "2"}), hashDigest(map[string]string{"b": "2", "a": "1"}), true},
		{"hash field boundary", hashDigest(map[string]string{"ab": "c"}), hashDigest(map[string]string{"a": "bc"}), false},
		{"hash vs set", hashDigest(map[string]string{}), setDigest(nil), false},
		{"zset order", zsetDigest([]redis.Z{{Score: 1, Member: "a"}, {Score: 0.1, Member: "b"}}),
			zsetDigest([]redis.Z{{Score: 0.10000000000000001, Member: "b"}, {Score: 1, Member: "a"}}), true},
		{"zset score", zsetDigest([]redis.Z{{Score: 1, Member: "a"}}), zsetDigest([]redis.Z{{Score: 2, Member: "a"}}), false},
		{"stream fields", streamDigest([]streamEntry{{"1-1", []string{"a", "1", "b", "2"}}}),
			streamDigest([]streamEntry{{"1-1", []string{"b", "2", "a", "1"}}}), false},
		{"stream in pages", streamDigest([]streamEntry{{"1-1", []string{"a", "1"}}, {"2-1", []string{"b"}}}),
			func() digest {
				h := newSeqHash()
				streamAdd(h, []streamEntry{{"1-1", []string{"a", "1"}}})
				streamAdd(h, []streamEntry{{"2-1", []string{"b"}}})
				return h.digest(TypeStream)
			}(), true},
		{"string", stringDigest("ab"), stringDigest("ab"), true},
		{"string vs list", stringDigest("a"), listDigest([]string{"a"}), false},
		{"string in chunks", stringDigest("abcdefghij"), chunked("abcdefghij", 3), true},
		{"string in chunks differs", stringDigest("abcdefghij"), chunked("abcdefghiJ", 3), false},
		{"hyperloglog cached cardinality", stringDigest(hll), stringDigest(hllCached), true},
		{"hyperloglog in chunks", stringDigest(hll), chunked(hllCached, 16), true},
		{"hyperloglog registers", stringDigest(hll), stringDigest(hll + "x"), false},
		{"not a hyperloglog", stringDigest("HYLL\x05" + hll[5:]), stringDigest("HYLL\x05" + hllCached[5:]), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.x == tt.y; got != tt.same {
				t.Errorf("equal = %v, want %v", got, tt.same)
			}
		})
	}
}

func TestNextID(t *testing.T) {
	for in, want := range map[string]string{"1-1": "1-2", "5-0": "5-1", "7-18446744073709551615": "8-0"} {
		if got, err := nextID(in); err != nil || got != want {
			t.Errorf("nextID(%s) = %s %v, want %s", in, got, err, want)
		}
	}
	if _, err := nextID("x"); err == nil {
		t.Error("nextID(x): no error")
	}
}
