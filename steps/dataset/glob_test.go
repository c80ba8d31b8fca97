package dataset

import (
	"context"
	"slices"
	"testing"
)

// TestMatchGlobLikeRedis checks matchGlob against KEYS on a real server.
func TestMatchGlobLikeRedis(t *testing.T) {
	ctx := context.Background()
	_, c := server(t)
	keys := []string{
		"understudy:traffic:1", "understudy:traffic:", "understudy:trafficker", "seed:string:1",
		"hello", "hallo", "hbllo", "hxllo", "hllo", "heeello", "*x", "ax", "a[", "a", "ab", "abc",
		"a\\", "a-b", "a]", "x/y", "x:y:z", "[", "^", "-", "a?c", "abbbc", "aXbXc", "\x00\xff",
	}
	for _, k := range keys {
		do(t, c, "SET", k, "1")
	}
	patterns := []string{
		"*", "understudy:traffic:*", "seed:*", "h?llo", "h*llo", "h[ae]llo", "h[^e]llo", "h[a-b]llo",
		"h[b-a]llo", "\\*x", "*x", "a[", "a[\\", "a\\", "a\\\\", "a[-]b", "a[]]", "a[\\]]", "a*b*c",
		"a?c", "a\\?c", "**", "*:*:*", "x/*", "[", "[^", "[^a]", "\\", "a[b", "a[^", "*[", "?",
		"??", "a**", "*c", "\x00*", "[\x00-\x01]*", "h[a-bx-y]llo", "a[^bc]",
	}
	for _, p := range patterns {
		want, err := c.Keys(ctx, p).Result()
		if err != nil {
			t.Fatalf("KEYS %q: %v", p, err)
		}
		var got []string
		for _, k := range keys {
			if matchGlob(p, k) {
				got = append(got, k)
			}
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("pattern %q: matchGlob %q, KEYS %q", p, got, want)
		}
	}
}
