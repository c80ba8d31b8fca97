package dataset

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"slices"
	"time"

	"github.com/redis/go-redis/v9"
)

const (
	// batchSize is the number of keys read per round trip; SCAN COUNT hint.
	batchSize = 1000
	// ttlTolerance is how far the TTLs of a key on two servers may be apart:
	// they are read at different moments, and seeded on different servers
	// at different moments.
	ttlTolerance = 5 * time.Second
	// typeNone is what TYPE answers for a missing key.
	typeNone = "none"
)

// keyScanner walks one database with SCAN and hands out batches of keys that
// no Exclude pattern matches. SCAN may return a key more than once; the
// scanner remembers a 128-bit hash of every key to hand each out once.
type keyScanner struct {
	c       *redis.Client
	label   string // for errors, e.g. "scan a"
	match   string // SCAN MATCH pattern; "" for every key
	exclude []string
	seeds   [2]maphash.Seed
	seen    map[[2]uint64]struct{}
	n       int64 // keys handed out
}

func newKeyScanner(c *redis.Client, label string, o CompareOptions) *keyScanner {
	return &keyScanner{
		c:       c,
		label:   label,
		match:   o.Match,
		exclude: o.Exclude,
		seeds:   [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()},
		seen:    make(map[[2]uint64]struct{}),
	}
}

// each calls fn with successive batches of unique, not excluded keys until
// SCAN is done or fn fails. fn must not keep the slice.
func (s *keyScanner) each(ctx context.Context, fn func(keys []string) error) error {
	var cursor uint64
	batch := make([]string, 0, batchSize)
	for {
		keys, next, err := s.c.Scan(ctx, cursor, s.match, batchSize).Result()
		if err != nil {
			return fmt.Errorf("%s: %w", s.label, err)
		}
		for _, k := range keys {
			if excluded(k, s.exclude) || s.dup(k) {
				continue
			}
			batch = append(batch, k)
			s.n++
		}
		if len(batch) >= batchSize || (next == 0 && len(batch) > 0) {
			if err := fn(batch); err != nil {
				return err
			}
			batch = batch[:0]
		}
		if next == 0 {
			return nil
		}
		cursor = next
	}
}

// dup reports whether k was seen before, and remembers it.
func (s *keyScanner) dup(k string) bool {
	h := [2]uint64{maphash.String(s.seeds[0], k), maphash.String(s.seeds[1], k)}
	if _, ok := s.seen[h]; ok {
		return true
	}
	s.seen[h] = struct{}{}
	return false
}

// excluded reports whether key matches one of the glob patterns.
func excluded(key string, patterns []string) bool {
	for _, p := range patterns {
		if matchGlob(p, key) {
			return true
		}
	}
	return false
}

// keyMeta is the type and TTL of a key.
type keyMeta struct {
	typ  string // TYPE; "none" when the key does not exist
	pttl int64  // PTTL in milliseconds; negative without TTL
}

// keyValue is a key's type, TTL and value in canonical form.
type keyValue struct {
	keyMeta
	enc []byte // canonical encoding; nil for types that have none (modules)
}

// readMeta reads the type and TTL of keys in one round trip.
func readMeta(ctx context.Context, c *redis.Client, keys []string) ([]keyMeta, error) {
	pipe := c.Pipeline()
	types := make([]*redis.StatusCmd, len(keys))
	ttls := make([]*redis.Cmd, len(keys))
	for i, k := range keys {
		types[i] = pipe.Type(ctx, k)
		ttls[i] = pipe.Do(ctx, "PTTL", k)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("type and pttl: %w", err)
	}
	meta := make([]keyMeta, len(keys))
	for i := range keys {
		ttl, err := ttls[i].Int64()
		if err != nil {
			return nil, fmt.Errorf("pttl %q: %w", keys[i], err)
		}
		meta[i] = keyMeta{typ: types[i].Val(), pttl: ttl}
	}
	return meta, nil
}

// readValues reads the type, TTL and value of keys in two round trips and
// puts the values in canonical form. A key deleted in between reads as
// missing.
func readValues(ctx context.Context, c *redis.Client, keys []string) ([]keyValue, error) {
	meta, err := readMeta(ctx, c, keys)
	if err != nil {
		return nil, err
	}
	pipe := c.Pipeline()
	cmds := make([]redis.Cmder, len(keys))
	for i, k := range keys {
		switch meta[i].typ {
		case TypeString:
			cmds[i] = pipe.Get(ctx, k)
		case TypeHash:
			cmds[i] = pipe.HGetAll(ctx, k)
		case TypeList:
			cmds[i] = pipe.LRange(ctx, k, 0, -1)
		case TypeSet:
			cmds[i] = pipe.SMembers(ctx, k)
		case TypeZSet:
			cmds[i] = pipe.ZRangeWithScores(ctx, k, 0, -1)
		case TypeStream:
			cmds[i] = pipe.Do(ctx, "XRANGE", k, "-", "+")
		}
	}
	// Errors are checked per command below.
	_, _ = pipe.Exec(ctx)
	vals := make([]keyValue, len(keys))
	for i, cmd := range cmds {
		vals[i].keyMeta = meta[i]
		if cmd == nil {
			continue
		}
		if err := cmd.Err(); errors.Is(err, redis.Nil) {
			vals[i].typ = typeNone
			continue
		} else if err != nil {
			return nil, fmt.Errorf("read %s %q: %w", meta[i].typ, keys[i], err)
		}
		enc, empty, err := encodeReply(meta[i].typ, cmd)
		if err != nil {
			return nil, fmt.Errorf("read %s %q: %w", meta[i].typ, keys[i], err)
		}
		if empty && meta[i].typ != TypeStream {
			// Only a stream can exist empty: the key went away.
			vals[i].typ = typeNone
			continue
		}
		vals[i].enc = enc
	}
	return vals, nil
}

// compareScan compares a and b with the scan method: it reads the keys of a
// batch by batch from both servers, then looks for keys of b missing on a.
func compareScan(ctx context.Context, a, b *redis.Client, o CompareOptions, res *Result, d *diffs) error {
	return compareByKey(ctx, a, b, o, res, d, func(keys []string) error {
		return compareValues(ctx, a, b, keys, d)
	})
}

// compareValues reads keys from a and b at once and adds those whose type
// or value differ to d.
func compareValues(ctx context.Context, a, b *redis.Client, keys []string, d *diffs) error {
	va, vb, err := readBoth(ctx, a, b, keys, readValues)
	if err != nil {
		return err
	}
	for i, k := range keys {
		if r := valueDiff(va[i], vb[i]); r != "" {
			d.add(k, r)
		}
	}
	return nil
}

// compareByKey walks the keys of a in batches and hands each to batch until
// enough differences are found, then looks for keys of b missing on a; it
// fills res.KeysA and res.KeysB.
func compareByKey(ctx context.Context, a, b *redis.Client, o CompareOptions, res *Result, d *diffs, batch func(keys []string) error) error {
	sa := newKeyScanner(a, "scan a", o)
	err := sa.each(ctx, func(keys []string) error {
		if d.full() {
			return nil
		}
		return batch(keys)
	})
	if err != nil {
		return fmt.Errorf("compare: %w", err)
	}
	res.KeysA = sa.n
	if res.KeysB, err = checkMissingOnA(ctx, a, b, o, d); err != nil {
		return fmt.Errorf("compare: %w", err)
	}
	return nil
}

// readBoth runs read on the same keys of a and b at once; an error names
// its side.
func readBoth[T any](ctx context.Context, a, b *redis.Client, keys []string, read func(context.Context, *redis.Client, []string) ([]T, error)) (va, vb []T, err error) {
	var errA, errB error
	parallel(
		func() { va, errA = read(ctx, a, keys) },
		func() { vb, errB = read(ctx, b, keys) },
	)
	return va, vb, sideErrors(errA, errB)
}

// checkMissingOnA scans b and reports the keys that a lacks. It returns the
// number of keys on b.
func checkMissingOnA(ctx context.Context, a, b *redis.Client, o CompareOptions, d *diffs) (int64, error) {
	sb := newKeyScanner(b, "scan b", o)
	err := sb.each(ctx, func(keys []string) error {
		if d.full() {
			return nil
		}
		pipe := a.Pipeline()
		cmds := make([]*redis.IntCmd, len(keys))
		for i, k := range keys {
			cmds[i] = pipe.Exists(ctx, k)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return fmt.Errorf("exists on a: %w", err)
		}
		for i, cmd := range cmds {
			if cmd.Val() == 0 {
				d.add(keys[i], "missing on a")
			}
		}
		return nil
	})
	return sb.n, err
}

// valueDiff returns why a and b differ, or "" when they are equal.
func valueDiff(a, b keyValue) string {
	if r := metaDiff(a.keyMeta, b.keyMeta); r != "" || a.typ == typeNone {
		return r
	}
	if a.enc == nil {
		return fmt.Sprintf("type %s not comparable by scan", a.typ)
	}
	if !bytes.Equal(a.enc, b.enc) {
		return "value differs"
	}
	return ttlDiff(a.pttl, b.pttl, true)
}

// metaDiff returns why keys with meta a and b differ in presence or type, or
// "" when they are both present with one type or both missing.
func metaDiff(a, b keyMeta) string {
	switch {
	case a.typ == b.typ:
		return ""
	case b.typ == typeNone:
		return "missing on b"
	case a.typ == typeNone:
		return "missing on a"
	default:
		return fmt.Sprintf("type %s vs %s", a.typ, b.typ)
	}
}

// ttlDiff returns why TTLs a and b (PTTL, milliseconds) differ, or "". With
// values false only the presence of a TTL counts.
func ttlDiff(a, b int64, values bool) string {
	switch {
	case a >= 0 && b < 0:
		return "ttl missing on b"
	case a < 0 && b >= 0:
		return "ttl missing on a"
	case values && a >= 0 && absDuration(time.Duration(a-b)*time.Millisecond) > ttlTolerance:
		return fmt.Sprintf("ttl differs: %v vs %v",
			(time.Duration(a) * time.Millisecond).Round(time.Second),
			(time.Duration(b) * time.Millisecond).Round(time.Second))
	}
	return ""
}

func absDuration(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// sideErrors labels the errors of servers a and b.
func sideErrors(errA, errB error) error {
	if errA != nil {
		errA = fmt.Errorf("a: %w", errA)
	}
	if errB != nil {
		errB = fmt.Errorf("b: %w", errB)
	}
	return errors.Join(errA, errB)
}

// CompareKeys compares only the given keys of database o.DB on a and b, by
// type and value (the scan method, on every server version). Verify uses it
// to look again at keys that differed while writes were in flight.
func CompareKeys(ctx context.Context, a, b *redis.Client, keys []string, o CompareOptions) (Result, error) {
	start := time.Now()
	if o.MaxDiffs <= 0 {
		o.MaxDiffs = defaultMaxDiffs
	}
	a, doneA := onDB(a, o.DB)
	defer doneA()
	b, doneB := onDB(b, o.DB)
	defer doneB()
	res := Result{Method: UsedScan, KeysA: int64(len(keys)), KeysB: int64(len(keys))}
	d := &diffs{max: o.MaxDiffs}
	for batch := range slices.Chunk(keys, batchSize) {
		if err := compareValues(ctx, a, b, batch, d); err != nil {
			return Result{}, fmt.Errorf("compare keys: %w", err)
		}
	}
	res.Equal, res.Diffs, res.DiffCount = d.n == 0, d.list, d.n
	res.DurationMS = float64(time.Since(start).Microseconds()) / 1000
	return res, nil
}
