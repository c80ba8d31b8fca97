package dataset

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/understudy/understudy/steps/redis"
)

// ErrDebugNotAllowed is wrapped in the error Compare returns for
// MethodDigest when a server refuses DEBUG.
var ErrDebugNotAllowed = errors.New("DEBUG not allowed " +
	"(Redis 7.0+ needs enable-debug-command yes in its configuration, or local for loopback clients, and a restart; " +
	"ACL users need +debug); use method scan instead")

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
// the compared keys, and with DEBUG DIGEST-VALUE per key otherwise or when
// the whole digests differ.
func compareDigest(ctx context.Context, a, b *goredis.Client, o CompareOptions, res *Result, d *diffs) error {
	if len(o.Exclude) == 0 {
		var ka, kb int64
		var okA, okB bool
		var errA, errB error
		parallel(
			func() { ka, okA, errA = keysOnlyIn(ctx, a, o.DB) },
			func() { kb, okB, errB = keysOnlyIn(ctx, b, o.DB) },
		)
		if err := sideErrors(errA, errB); err != nil {
			return fmt.Errorf("compare: %w", err)
		}
		if okA && okB {
			var da, db string
			parallel(
				func() { da, errA = slow(ctx, a).Do(ctx, "DEBUG", "DIGEST").Text() },
				func() { db, errB = slow(ctx, b).Do(ctx, "DEBUG", "DIGEST").Text() },
			)
			if err := sideErrors(errA, errB); err != nil {
				return fmt.Errorf("compare: debug digest: %w", err)
			}
			if da == db {
				res.Method = UsedDebugDigest
				res.KeysA, res.KeysB = ka, kb
				return nil
			}
		}
	}
	res.Method = UsedDebugDigestValue
	return compareDigestValues(ctx, a, b, o, res, d)
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

// keysOnlyIn returns the number of keys in database db and whether no other
// database holds keys (DEBUG DIGEST covers every database).
func keysOnlyIn(ctx context.Context, cl *goredis.Client, db int) (keys int64, only bool, err error) {
	info, err := redis.ReadInfo(ctx, cl, "keyspace")
	if err != nil {
		return 0, false, fmt.Errorf("info keyspace: %w", err)
	}
	only = true
	for n, ks := range redis.Databases(info) {
		if n == db {
			keys = ks.Keys
		} else if ks.Keys > 0 {
			only = false
		}
	}
	return keys, only, nil
}

// compareDigestValues compares the keys of a batch by batch with DEBUG
// DIGEST-VALUE on both servers, then looks for keys of b missing on a.
func compareDigestValues(ctx context.Context, a, b *goredis.Client, o CompareOptions, res *Result, d *diffs) error {
	slowA, slowB := slow(ctx, a), slow(ctx, b)
	return compareByKey(ctx, a, b, o, res, d, func(keys []string) error {
		da, db, err := readBoth(ctx, slowA, slowB, keys, digestValues)
		if err != nil {
			return err
		}
		var differ []string
		for i, k := range keys {
			if da[i] != db[i] {
				differ = append(differ, k)
			}
		}
		if len(differ) == 0 {
			return nil
		}
		return explain(ctx, a, b, differ, d)
	})
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
func explain(ctx context.Context, a, b *goredis.Client, keys []string, d *diffs) error {
	ma, mb, err := readBoth(ctx, a, b, keys, readMeta)
	if err != nil {
		return err
	}
	for i, k := range keys {
		if ma[i].typ == typeNone && mb[i].typ == typeNone {
			continue // deleted on both since
		}
		r := metaDiff(ma[i], mb[i])
		if r == "" {
			r = ttlDiff(ma[i].pttl, mb[i].pttl, false)
		}
		if r == "" {
			r = "value differs"
		}
		d.add(k, r)
	}
	return nil
}
