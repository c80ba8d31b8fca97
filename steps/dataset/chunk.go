package dataset

import (
	"context"
	"fmt"
	"hash/maphash"
	"strconv"

	"github.com/redis/go-redis/v9"
)

// readBig hashes the value of a big key in chunks, one command at a time,
// so that the server serves other clients between them: GETRANGE of
// chunkBytes, LRANGE and ZRANGE by index ranges, HSCAN and SSCAN with COUNT,
// XRANGE with COUNT. Set members and hash fields that SCAN returns twice
// are counted once. A key whose length or type changes while it is read is
// marked typeChanged: the value read is not a value the key ever had.
func (r *reader) readBig(ctx context.Context, key string, rec *keyRec) error {
	var (
		err     error
		changed bool
	)
	switch rec.typ {
	case TypeString:
		changed, err = r.bigString(ctx, key, rec)
	case TypeList:
		changed, err = r.bigList(ctx, key, rec)
	case TypeZSet:
		changed, err = r.bigZSet(ctx, key, rec)
	case TypeSet:
		changed, err = r.bigSet(ctx, key, rec)
	case TypeHash:
		changed, err = r.bigHash(ctx, key, rec)
	case TypeStream:
		changed, err = r.bigStream(ctx, key, rec)
	}
	if changedErr(err) {
		changed, err = true, nil
	}
	if err != nil {
		return fmt.Errorf("read %s %q in chunks: %w", rec.typ, key, err)
	}
	if changed {
		rec.typ = typeChanged
	}
	return nil
}

// sameSize reports whether cmd, a length command sent after the last
// chunk, still gives n.
func sameSize(cmd *redis.IntCmd, n int64) (bool, error) {
	v, err := cmd.Result()
	return v == n, err
}

func (r *reader) bigString(ctx context.Context, key string, rec *keyRec) (changed bool, err error) {
	h := newStringHasher()
	for off := int64(0); off < rec.size; off += chunkBytes {
		end := min(off+chunkBytes, rec.size) - 1
		s, err := r.s.c.GetRange(ctx, key, off, end).Result()
		if err != nil {
			return false, err
		}
		if int64(len(s)) != end-off+1 {
			return true, nil
		}
		h.write(s)
	}
	rec.value = h.digest()
	same, err := sameSize(r.s.c.StrLen(ctx, key), rec.size)
	return !same, err
}

func (r *reader) bigList(ctx context.Context, key string, rec *keyRec) (changed bool, err error) {
	h, step := newSeqHash(), chunkCount(rec)
	for start := int64(0); start < rec.size; start += step {
		items, err := r.s.c.LRange(ctx, key, start, min(start+step, rec.size)-1).Result()
		if err != nil {
			return false, err
		}
		if int64(len(items)) != min(step, rec.size-start) {
			return true, nil
		}
		for _, s := range items {
			h.elem(s)
		}
	}
	rec.value = h.digest(TypeList)
	same, err := sameSize(r.s.c.LLen(ctx, key), rec.size)
	return !same, err
}

func (r *reader) bigZSet(ctx context.Context, key string, rec *keyRec) (changed bool, err error) {
	var s setSum
	step := chunkCount(rec)
	for start := int64(0); start < rec.size; start += step {
		zs, err := r.s.c.ZRangeWithScores(ctx, key, start, min(start+step, rec.size)-1).Result()
		if err != nil {
			return false, err
		}
		if int64(len(zs)) != min(step, rec.size-start) {
			return true, nil
		}
		for _, z := range zs {
			zsetAdd(&s, fmt.Sprint(z.Member), z.Score)
		}
	}
	rec.value = s.digest(TypeZSet)
	same, err := sameSize(r.s.c.ZCard(ctx, key), rec.size)
	return !same, err
}

// elemSet remembers 128-bit hashes of strings, to drop the elements a
// SCAN-family command returns more than once.
type elemSet struct {
	seeds [2]maphash.Seed
	seen  map[[2]uint64]struct{}
}

func newElemSet() *elemSet {
	return &elemSet{seeds: [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}, seen: make(map[[2]uint64]struct{})}
}

// dup reports whether s was seen before, and remembers it.
func (e *elemSet) dup(s string) bool {
	h := [2]uint64{maphash.String(e.seeds[0], s), maphash.String(e.seeds[1], s)}
	if _, ok := e.seen[h]; ok {
		return true
	}
	e.seen[h] = struct{}{}
	return false
}

func (r *reader) bigSet(ctx context.Context, key string, rec *keyRec) (changed bool, err error) {
	var s setSum
	seen := newElemSet()
	var cursor uint64
	for {
		members, next, err := r.s.c.SScan(ctx, key, cursor, "", chunkCount(rec)).Result()
		if err != nil {
			return false, err
		}
		for _, m := range members {
			if !seen.dup(m) {
				s.add1(m)
			}
		}
		if next == 0 {
			break
		}
		cursor = next
	}
	rec.value = s.digest(TypeSet)
	same, err := sameSize(r.s.c.SCard(ctx, key), s.n)
	return !same || s.n != rec.size, err
}

func (r *reader) bigHash(ctx context.Context, key string, rec *keyRec) (changed bool, err error) {
	var s, ttls setSum
	seen := newElemSet()
	var cursor uint64
	for {
		kv, next, err := r.s.c.HScan(ctx, key, cursor, "", chunkCount(rec)).Result()
		if err != nil {
			return false, err
		}
		if len(kv)%2 != 0 {
			return false, fmt.Errorf("hscan: odd reply of %d elements", len(kv))
		}
		fields := make([]string, 0, len(kv)/2)
		for i := 0; i < len(kv); i += 2 {
			if !seen.dup(kv[i]) {
				s.add2(kv[i], kv[i+1])
				fields = append(fields, kv[i])
			}
		}
		if r.fieldTTLs && len(fields) > 0 {
			cmd := r.s.c.Do(ctx, hpexpiretimeArgs(key, fields)...)
			if err := r.addFieldTTLs(&ttls, rec, fields, cmd); err != nil {
				return false, fmt.Errorf("hpexpiretime: %w", err)
			}
			if rec.typ != TypeHash {
				return true, nil
			}
		}
		if next == 0 {
			break
		}
		cursor = next
	}
	rec.value = s.digest(TypeHash)
	if r.fieldTTLs {
		rec.fields = newFieldTTLs(&ttls)
	}
	same, err := sameSize(r.s.c.HLen(ctx, key), s.n)
	return !same || s.n != rec.size, err
}

func (r *reader) bigStream(ctx context.Context, key string, rec *keyRec) (changed bool, err error) {
	h, step := newSeqHash(), chunkCount(rec)
	start := "-"
	for {
		v, err := r.s.c.Do(ctx, "XRANGE", key, start, "+", "COUNT", step).Result()
		if err != nil {
			return false, err
		}
		entries, err := parseXRange(v)
		if err != nil {
			return false, err
		}
		streamAdd(h, entries)
		if int64(len(entries)) < step {
			break
		}
		if start, err = nextID(entries[len(entries)-1].id); err != nil {
			return false, err
		}
	}
	rec.value = h.digest(TypeStream)
	same, err := sameSize(r.s.c.XLen(ctx, key), h.n)
	return !same || h.n != rec.size, err
}

// nextID returns the stream ID right after id ("ms-seq"), for an exclusive
// range start that Redis 6.0 also reads (it has no "(" ranges).
func nextID(id string) (string, error) {
	var ms, seq uint64
	if _, err := fmt.Sscanf(id, "%d-%d", &ms, &seq); err != nil {
		return "", fmt.Errorf("stream id %q: %w", id, err)
	}
	if seq == ^uint64(0) {
		return strconv.FormatUint(ms+1, 10) + "-0", nil
	}
	return strconv.FormatUint(ms, 10) + "-" + strconv.FormatUint(seq+1, 10), nil
}
