package dataset

import (
	"bytes"
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

func TestEncodeOrderFree(t *testing.T) {
	tests := []struct {
		name string
		x, y []byte
		same bool
	}{
		{"set order", encodeSet([]string{"a", "b"}), encodeSet([]string{"b", "a"}), true},
		{"list order", encodeList([]string{"a", "b"}), encodeList([]string{"b", "a"}), false},
		{"set vs list", encodeSet([]string{"a"}), encodeList([]string{"a"}), false},
		{"hash", encodeHash(map[string]string{"a": "1", "b": "2"}), encodeHash(map[string]string{"b": "2", "a": "1"}), true},
		{"hash field boundary", encodeHash(map[string]string{"ab": "c"}), encodeHash(map[string]string{"a": "bc"}), false},
		{"zset order", encodeZSet([]redis.Z{{Score: 1, Member: "a"}, {Score: 0.1, Member: "b"}}),
			encodeZSet([]redis.Z{{Score: 0.10000000000000001, Member: "b"}, {Score: 1, Member: "a"}}), true},
		{"zset score", encodeZSet([]redis.Z{{Score: 1, Member: "a"}}), encodeZSet([]redis.Z{{Score: 2, Member: "a"}}), false},
		{"stream fields", encodeStream([]streamEntry{{"1-1", []string{"a", "1", "b", "2"}}}),
			encodeStream([]streamEntry{{"1-1", []string{"b", "2", "a", "1"}}}), false},
		{"string", encodeString("ab"), encodeString("ab"), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := bytes.Equal(tt.x, tt.y); got != tt.same {
				t.Errorf("equal = %v, want %v", got, tt.same)
			}
		})
	}
}
