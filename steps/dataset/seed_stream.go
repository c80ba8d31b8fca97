package dataset

import (
	"context"
	"strconv"

	"github.com/redis/go-redis/v9"
)

// stream writes a stream the way an application's queue looks: 4 to 23
// entries with explicit IDs, a few of them deleted (XDEL), one to three
// consumer groups whose consumers have read entries (XREADGROUP) and
// acknowledged some of them (XACK), so that each group has a pending
// entries list, and a last ID set past the last entry (XSETID), as after
// trimming or deleting the newest entries. Only commands of Redis 6.0 are
// used. The first stream always has two entries read by its first consumer,
// one acknowledged and one pending.
//
// The entries each consumer gets are computed here, not read from the
// replies, so the summary can count them while the pipeline is queued.
func (g *generator) stream(ctx context.Context, pipe redis.Pipeliner, key string, first bool) {
	st := &g.sum.Streams
	st.Streams++
	ms := 1700000000000 + int64(g.rng.IntN(1000000))
	n := 4 + g.rng.IntN(20)
	ids := make([]string, n)
	for e := 0; e < n; e++ {
		ids[e] = strconv.FormatInt(ms+int64(e), 10) + "-" + strconv.Itoa(g.rng.IntN(3))
		args := []interface{}{"XADD", key, ids[e]}
		for f, nf := 0, 1+g.rng.IntN(3); f < nf; f++ {
			args = append(args, g.count("f"+strconv.Itoa(f)), g.count(g.text(1, 32)))
		}
		g.sum.Bytes += int64(len(ids[e]))
		pipe.Do(ctx, args...)
	}

	// Delete 1 to n/4 entries, anywhere (the last one too).
	deleted := make([]bool, n)
	for d, nd := 0, 1+g.rng.IntN(n/4); d < nd; {
		if e := g.rng.IntN(n); !deleted[e] {
			deleted[e] = true
			d++
		}
	}
	args := []interface{}{"XDEL", key}
	var live []int // indexes of the entries left
	for e := range ids {
		if deleted[e] {
			args = append(args, ids[e])
		} else {
			live = append(live, e)
		}
	}
	pipe.Do(ctx, args...)
	st.Deleted += len(args) - 2
	st.Entries += len(live)

	for gi, ng := 0, 1+g.rng.IntN(3); gi < ng; gi++ {
		group := "group-" + strconv.Itoa(gi+1)
		st.Groups++
		// The first group reads from the start; others from the start or
		// after a live entry.
		start, startID := 0, "0"
		if gi > 0 && g.rng.IntN(2) == 0 {
			p := g.rng.IntN(len(live))
			start, startID = p+1, ids[live[p]]
		}
		pipe.Do(ctx, "XGROUP", "CREATE", key, group, startID)
		avail := len(live) - start
		nc := min(1+g.rng.IntN(3), avail)
		forced := first && gi == 0
		if forced {
			nc = min(nc, 2) // at least 3 entries live: the first consumer can read 2
		}
		pos := start
		for ci := 0; ci < nc; ci++ {
			consumer := "consumer-" + strconv.Itoa(ci+1)
			st.Consumers++
			// Leave at least one entry for each consumer still to come.
			maxK := min(4, len(live)-pos-(nc-1-ci))
			k := 1 + g.rng.IntN(maxK)
			if forced && ci == 0 {
				k = max(k, 2)
			}
			pipe.Do(ctx, "XREADGROUP", "GROUP", group, consumer, "COUNT", k, "STREAMS", key, ">")
			ack := []interface{}{"XACK", key, group}
			for j := 0; j < k; j++ {
				if (g.rng.IntN(2) == 0 && !(forced && ci == 0)) || (forced && ci == 0 && j == 0) {
					ack = append(ack, ids[live[pos+j]])
				}
			}
			pos += k
			if acked := len(ack) - 3; acked > 0 {
				st.Acked += acked
				st.Pending += k - acked
				pipe.Do(ctx, ack...)
			} else {
				st.Pending += k
			}
		}
	}

	// The last ID goes past the last entry, deleted or not.
	last := strconv.FormatInt(ms+int64(n)+int64(g.rng.IntN(1000)), 10) + "-0"
	pipe.Do(ctx, "XSETID", key, last)
}
