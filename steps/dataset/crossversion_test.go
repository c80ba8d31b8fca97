package dataset

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	rv "github.com/understudy/understudy/steps/redis"
)

// writeMediumKeys writes keys big enough to be read in chunks (more than
// chunkElems elements, more than chunkBytes bytes), with non-integer
// scores, a consumer group with more than chunkElems pending entries, and
// TTLs; only commands Redis 6.0 knows.
func writeMediumKeys(t *testing.T, c *redis.Client) {
	t.Helper()
	ctx := context.Background()
	pipe := c.Pipeline()
	for i := 0; i < 3000; i++ {
		pipe.HSet(ctx, "mid:hash", fmt.Sprintf("f%d", i), fmt.Sprintf("v%d", i))
		pipe.RPush(ctx, "mid:list", fmt.Sprintf("e%d", i%700))
		pipe.SAdd(ctx, "mid:set", fmt.Sprintf("m%d", i))
		pipe.ZAdd(ctx, "mid:zset", redis.Z{Score: float64(i)/10 - 7.3, Member: fmt.Sprintf("m%d", i)})
		pipe.Do(ctx, "XADD", "mid:stream", fmt.Sprintf("%d-%d", 1700000000000+i/3, i%3), "f", i, "g", "x")
	}
	pipe.Set(ctx, "mid:string", strings.Repeat("0123456789", 60_000)+"end", 0)
	pipe.Do(ctx, "XGROUP", "CREATE", "mid:stream", "g1", "0")
	pipe.Do(ctx, "XGROUP", "CREATE", "mid:stream", "g2", "$")
	pipe.Do(ctx, "XREADGROUP", "GROUP", "g1", "c1", "COUNT", "1500", "STREAMS", "mid:stream", ">")
	pipe.Do(ctx, "XREADGROUP", "GROUP", "g1", "c2", "COUNT", "300", "STREAMS", "mid:stream", ">")
	pipe.Do(ctx, "XACK", "mid:stream", "g1", "1700000000000-0", "1700000000001-2")
	pipe.PExpire(ctx, "mid:hash", 30*time.Hour+123*time.Millisecond)
	pipe.Expire(ctx, "mid:zset", 25*time.Hour)
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
}

// copyUsersAsStep copies ACL users like the copy_users step: a user of a
// server without channel permissions (6.0) gets every channel. Rules the
// target does not know are left out: 6.0 lists the pseudo-commands "post"
// and "host:", which 7.0 refuses.
func copyUsersAsStep(t *testing.T, from, to *redis.Client) {
	t.Helper()
	ctx := context.Background()
	users, err := rv.ACLUsers(ctx, from)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range users {
		if !rv.HasChannelRules(u.Rules) {
			u.Rules = append(u.Rules, "allchannels")
		}
		var dropped []string
		for {
			err := rv.SetACLUser(ctx, to, "to", u)
			if err == nil {
				break
			}
			i := slices.IndexFunc(u.Rules, func(r string) bool { return r == "+post" || r == "+host:" })
			if i < 0 {
				t.Fatal(err)
			}
			dropped = append(dropped, u.Rules[i])
			u.Rules = slices.Delete(u.Rules, i, i+1)
		}
		if len(dropped) > 0 {
			t.Logf("copy user %s: left out %v, which the target refuses", u.Name, dropped)
		}
	}
}

// TestCrossVersion replicates seeded data (every kind, TTLs, non-integer
// scores, streams with groups and pending entries, keys read in chunks)
// from an older master to a newer replica, copies the ACL users as the
// copy_users step does and sets one more user with the same rules on both,
// and expects Compare and the snapshot check to find both equal, with
// notes for what the older version cannot hold.
func TestCrossVersion(t *testing.T) {
	ctx := context.Background()
	for _, p := range []struct {
		master, replica string
		notes           []string // substrings of the notes expected
	}{
		{"6.0", "7.0", []string{
			"function libraries not compared: a (Redis 6.0.16) has no FUNCTION (Redis 7.0+), so no library; b (Redis 7.0.15) has none",
			"acl channel patterns not compared: a (Redis 6.0.16) has no channel permissions",
			"acl command rules compared for the commands both servers know",
			// 6.0 put ECHO and TIME in @read (from their read-only flag), 7.0
			// in @connection and @fast.
			`acl user "same": command rules differ in effect (2 allowed on a only (echo time)) only for commands in other ACL categories on Redis 6.0.16 than on Redis 7.0.15`,
			// 7.0 adds PFDEBUG to @hyperloglog: copied 6.0 rules allow it.
			`acl user "understudy-seed-app": command rules differ in effect (1 allowed on b only (pfdebug)) only for commands in other ACL categories`,
		}},
		{"7.0", "8.0", []string{
			"hash field TTLs not compared: a (Redis 7.0.15) has no hash field expiration",
			// 7.0 lists the seed user's rules as +@blocking among others;
			// 7.2+ puts WAIT in @blocking.
			`acl user "understudy-seed-app": command rules differ in effect (1 allowed on b only (wait)) only for commands in other ACL categories`,
		}},
		{"7.0", "valkey:8.1", []string{
			`acl user "understudy-seed-app": command rules differ in effect (1 allowed on b only (wait)) only for commands in other ACL categories`,
		}},
	} {
		t.Run(p.master+"-"+p.replica, func(t *testing.T) {
			m, r := startNode(t, p.master), startNode(t, p.replica)
			sum, err := Seed(ctx, m.c, SeedOptions{Keys: 5000, Seed: 9, SkipBigKeys: true})
			if err != nil {
				t.Fatal(err)
			}
			writeMediumKeys(t, m.c)
			replicate(t, m, r)
			copyUsersAsStep(t, m.c, r.c)
			rules := []interface{}{"ACL", "SETUSER", "same", "on", ">pw", "~app:*", "~other:*", "+@read", "+@write", "-@dangerous", "+client|setname"}
			if p.master != "6.0" {
				rules = append(rules, "%R~ro:*", "&news:*", "(~sel:* +get)")
			}
			do(t, m.c, rules...)
			do(t, r.c, rules...)
			total := int64(sum.Total() + 6)

			res, err := Compare(ctx, m.c, r.c, CompareOptions{})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s → %s: %d/%d keys in %.0f ms, tolerance %d ms, diffs %v, notes %q", p.master, p.replica, res.KeysA, res.KeysB, res.DurationMS, res.TTLToleranceMS, res.Diffs, res.Notes)
			if !res.Equal || res.KeysA != total || res.KeysB != total {
				t.Errorf("compare: equal %v keys %d/%d, want equal with %d keys: %v", res.Equal, res.KeysA, res.KeysB, total, res.Diffs)
			}
			checkNotes(t, res.Notes, p.notes)

			snap, err := TakeSnapshot(ctx, m.c, CompareOptions{})
			if err != nil {
				t.Fatal(err)
			}
			cres, err := CheckSnapshot(ctx, r.c, snap, CompareOptions{})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("snapshot check: %v, notes %q", cres.Diffs, cres.Notes)
			replacer := strings.NewReplacer("a (", "snapshot (", "b (", "server (", "on a", "on snapshot", "on b", "on server",
				"function libraries not compared: snapshot (Redis 6.0.16)", "function libraries not compared: snapshot (Redis 6.0.16)")
			var snapNotes []string
			for _, n := range p.notes {
				if strings.HasPrefix(n, "hash field TTLs") {
					n = "hash field TTLs not compared: the snapshot's server (Redis 7.0.15) does not have them"
				}
				snapNotes = append(snapNotes, replacer.Replace(n))
			}
			checkNotes(t, cres.Notes, snapNotes)
			if !cres.Equal || cres.KeysB != total {
				t.Errorf("snapshot check: equal %v keys %d: %v", cres.Equal, cres.KeysB, cres.Diffs)
			}

			// A change on the replica shows across versions too.
			promote(t, r.c)
			do(t, r.c, "ZINCRBY", "mid:zset", "0.1", "m7")
			do(t, r.c, "XACK", "mid:stream", "g1", "1700000000002-0")
			do(t, r.c, "ACL", "SETUSER", "same", "-get")
			res, err = Compare(ctx, m.c, r.c, CompareOptions{})
			if err != nil {
				t.Fatal(err)
			}
			checkDiffs(t, res, map[string]string{
				"mid:zset":   "value differs",
				"mid:stream": `stream group "g1" pending entries differ \(1798 vs 1797\)`,
				"acl:same":   `command rules differ: 1 allowed on a only \(get\)`,
			})
		})
	}
}

// TestChunkedEqualsWhole reads the same keys whole and in chunks and
// expects the same digests.
func TestChunkedEqualsWhole(t *testing.T) {
	ctx := context.Background()
	_, c := server(t)
	writeMediumKeys(t, c)
	do(t, c, "SET", "small:string", "abc")
	do(t, c, "HSET", "small:hash", "a", "1", "b", "2")
	do(t, c, "SADD", "small:set", "1", "2", "3")
	do(t, c, "XADD", "small:stream", "1-1", "f", "v")
	keys := []string{"mid:hash", "mid:list", "mid:set", "mid:zset", "mid:stream", "mid:string", "small:string", "small:hash", "small:set", "small:stream"}
	s, err := probe(ctx, c, "a")
	if err != nil {
		t.Fatal(err)
	}
	r := &reader{s: s}
	for _, k := range keys {
		recs := make([]keyRec, 1)
		if err := r.readMeta(ctx, []string{k}, recs); err != nil {
			t.Fatal(err)
		}
		if err := r.readSizes(ctx, []string{k}, recs); err != nil {
			t.Fatal(err)
		}
		chunked := recs[0]
		w := []keyRec{recs[0]}
		if err := r.readWhole(ctx, []string{k}, w, []int{0}); err != nil {
			t.Fatal(err)
		}
		if err := r.readBig(ctx, k, &chunked); err != nil {
			t.Fatal(err)
		}
		if w[0].typ != chunked.typ || w[0].value != chunked.value || w[0].value == (digest{}) {
			t.Errorf("%s: whole %s %s, chunked %s %s", k, w[0].typ, w[0].value, chunked.typ, chunked.value)
		}
		if big(&recs[0]) != strings.HasPrefix(k, "mid:") {
			t.Errorf("%s: big = %v (size %d, %d bytes)", k, big(&recs[0]), recs[0].size, recs[0].bytes)
		}
	}
}

// checkNotes fails unless every note contains the matching want, in order.
func checkNotes(t *testing.T, notes, want []string) {
	t.Helper()
	if len(notes) != len(want) {
		t.Errorf("notes %q, want %q", notes, want)
		return
	}
	for i, n := range want {
		if !strings.Contains(notes[i], n) {
			t.Errorf("note %q, want %q", notes[i], n)
		}
	}
}
