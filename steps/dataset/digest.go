package dataset

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// ErrDebugNotAllowed is wrapped in the error Compare returns for
// MethodDigest when a server refuses DEBUG.
var ErrDebugNotAllowed = errors.New("DEBUG not allowed " +
	"(Redis 7.0+ needs enable-debug-command yes in its configuration, or local for loopback clients, and a restart; " +
	"ACL users need +debug); use method auto (the default) instead")

// debugAllowed checks, at no cost to the server, that c may run DEBUG. The
// error wraps ErrDebugNotAllowed when the server refuses it.
func debugAllowed(ctx context.Context, c *goredis.Client) error {
	err := c.Do(ctx, "DEBUG", "DIGEST-VALUE").Err()
	if isDebugRefused(err) {
		return fmt.Errorf("%w: %w", ErrDebugNotAllowed, err)
	}
	return err
}

// isDebugRefused reports whether err is the server refusing DEBUG: disabled
// (7.0+), denied by ACL, or renamed away.
func isDebugRefused(err error) bool {
	var rerr goredis.Error
	if !errors.As(err, &rerr) {
		return false
	}
	msg := rerr.Error()
	for _, p := range []string{"ERR DEBUG command not allowed", "NOPERM", "ERR unknown command"} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}

// compareDigest compares a and b with DEBUG DIGEST when that covers exactly
// the compared keys (every database, no Match or Exclude), and with DEBUG
// DIGEST-VALUE per key otherwise or when the whole digests differ. Either
// blocks the server while it hashes: DEBUG DIGEST for the whole dataset,
// DIGEST-VALUE for 50 keys at a time (a big key whole).
func compareDigest(ctx context.Context, sa, sb *side, o CompareOptions, res *Result, d *diffs) error {
	var errA, errB error
	parallel(
		func() { errA = debugAllowed(ctx, sa.c) },
		func() { errB = debugAllowed(ctx, sb.c) },
	)
	if err := sideErrors(errA, errB); err != nil {
		return fmt.Errorf("compare: DEBUG on %w", err)
	}
	if len(o.Exclude) == 0 && o.Match == "" && o.DBs == nil {
		var da, db string
		parallel(
			func() { da, errA = slow(ctx, sa.c).Do(ctx, "DEBUG", "DIGEST").Text() },
			func() { db, errB = slow(ctx, sb.c).Do(ctx, "DEBUG", "DIGEST").Text() },
		)
		if err := sideErrors(errA, errB); err != nil {
			return fmt.Errorf("compare: debug digest: %w", err)
		}
		if da == db {
			res.Method = UsedDebugDigest
			for _, n := range res.DBs {
				res.KeysA += sa.dbs[n].keys
				res.KeysB += sb.dbs[n].keys
			}
			return nil
		}
	}
	res.Method = UsedDebugDigestValue
	for _, db := range res.DBs {
		if err := compareDigestValues(ctx, sa, sb, db, o, res, d); err != nil {
			return fmt.Errorf("compare db %d: %w", db, err)
		}
	}
	return nil
}

// slowTimeout is the read timeout for DEBUG DIGEST and DIGEST-VALUE when ctx
// has no deadline.
const slowTimeout = 10 * time.Minute

// slow returns a client sharing c's connections whose read timeout allows
// for DEBUG DIGEST: the server answers only once it has hashed every element
// (seconds per 100 000 keys; more on a busy machine), and a timeout would
// make go-redis send the command again to a server still busy with it. The
// timeout is what is left of ctx, or slowTimeout.
func slow(ctx context.Context, c *goredis.Client) *goredis.Client {
	d := slowTimeout
	if dl, ok := ctx.Deadline(); ok {
		d = max(time.Until(dl), time.Millisecond)
	}
	return c.WithTimeout(d)
}

// compareDigestValues compares the keys of database db of a batch by batch
// with DEBUG DIGEST-VALUE on both servers, then looks for keys of b missing
// on a.
func compareDigestValues(ctx context.Context, sa, sb *side, db int, o CompareOptions, res *Result, d *diffs) error {
	ra, rb, done := readersFor(sa, sb, db)
	defer done()
	slowA, slowB := slow(ctx, ra.s.c), slow(ctx, rb.s.c)
	scanA := newKeyScanner(ra.s.c, "scan a", o)
	err := scanA.each(ctx, func(keys []string) error {
		if d.full() {
			return nil
		}
		var da, dbv []string
		var errA, errB error
		parallel(
			func() { da, errA = digestValues(ctx, slowA, keys) },
			func() { dbv, errB = digestValues(ctx, slowB, keys) },
		)
		if err := sideErrors(errA, errB); err != nil {
			return err
		}
		var differ []string
		for i, k := range keys {
			if da[i] != dbv[i] {
				differ = append(differ, k)
			}
		}
		if len(differ) == 0 {
			return nil
		}
		return explain(ctx, ra, rb, db, differ, d)
	})
	if err != nil {
		return err
	}
	res.KeysA += scanA.n
	return missingOnA(ctx, ra, rb, db, o, res, d)
}

// digestChunk is the number of keys per DEBUG DIGEST-VALUE call. The
// calls are sent one after another, not pipelined, so that the server
// serves other clients between them: a compare on a master under traffic
// blocks it for about a millisecond at a time, not for a whole batch.
const digestChunk = 50

// digestValues returns DEBUG DIGEST-VALUE of keys: per key a hash of its
// type, value and TTL presence; forty zeros for a missing key.
func digestValues(ctx context.Context, cl *goredis.Client, keys []string) ([]string, error) {
	out := make([]string, 0, len(keys))
	for start := 0; start < len(keys); start += digestChunk {
		chunk := keys[start:min(start+digestChunk, len(keys))]
		args := make([]interface{}, 0, len(chunk)+2)
		args = append(args, "DEBUG", "DIGEST-VALUE")
		for _, k := range chunk {
			args = append(args, k)
		}
		digests, err := cl.Do(ctx, args...).StringSlice()
		if err != nil {
			return nil, fmt.Errorf("debug digest-value: %w", err)
		}
		if len(digests) != len(chunk) {
			return nil, fmt.Errorf("debug digest-value: %d digests for %d keys", len(digests), len(chunk))
		}
		out = append(out, digests...)
	}
	return out, nil
}

// explain reads type and TTL of keys whose digests differ and reports why.
// DIGEST-VALUE sees TTL presence, not TTL values.
func explain(ctx context.Context, ra, rb *reader, db int, keys []string, d *diffs) error {
	ma, mb := make([]keyRec, len(keys)), make([]keyRec, len(keys))
	var errA, errB error
	parallel(
		func() { errA = ra.readMeta(ctx, keys, ma) },
		func() { errB = rb.readMeta(ctx, keys, mb) },
	)
	if err := sideErrors(errA, errB); err != nil {
		return err
	}
	for i, k := range keys {
		a, b := &ma[i], &mb[i]
		if a.typ == typeNone && b.typ == typeNone {
			continue // deleted on both since
		}
		var r string
		switch {
		case a.typ != b.typ:
			r = recordDiff(a, b, "a", "b")
		case a.expireAt >= 0 && b.expireAt < 0:
			r = "ttl missing on b"
		case a.expireAt < 0 && b.expireAt >= 0:
			r = "ttl missing on a"
		default:
			r = "value differs"
		}
		d.add(Diff{Kind: DiffKey, DB: db, Key: k, Reason: r})
	}
	return nil
}
