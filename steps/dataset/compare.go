package dataset

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Method selects how Compare compares two servers.
type Method string

// Methods accepted by Compare.
const (
	// MethodAuto uses MethodDigest when both servers allow DEBUG, else MethodScan.
	MethodAuto Method = "auto"
	// MethodDigest uses DEBUG DIGEST, or DEBUG DIGEST-VALUE per key.
	MethodDigest Method = "digest"
	// MethodScan reads and compares every value.
	MethodScan Method = "scan"
)

// Values of Result.Method: what Compare actually used.
const (
	UsedDebugDigest      = "debug-digest"
	UsedDebugDigestValue = "debug-digest-value"
	UsedScan             = "scan"
)

const defaultMaxDiffs = 10

// CompareOptions configures Compare and Take.
type CompareOptions struct {
	// Method is how to compare; "" means MethodAuto.
	Method Method
	// Match, when set, limits the keys to those matching this Redis glob
	// pattern (SCAN MATCH), e.g. the seeded keys "seed:*".
	Match string
	// Exclude lists Redis glob patterns (KEYS / SCAN MATCH syntax, e.g.
	// "understudy:traffic:*") of keys to leave out, e.g. a live writer's.
	Exclude []string
	// DB is the logical database to compare.
	DB int
	// MaxDiffs is the number of differing keys to report, default 10.
	MaxDiffs int
}

// Diff is one key that differs.
type Diff struct {
	Key string
	// Reason is e.g. "missing on b", "type string vs hash", "value differs",
	// "ttl missing on b" or "ttl differs: 1h0m0s vs 2h0m0s".
	Reason string
}

// Result is the outcome of Compare.
type Result struct {
	Method string // what was used: "debug-digest", "debug-digest-value" or "scan"
	Equal  bool
	KeysA  int64 // keys compared on a (after Exclude)
	KeysB  int64 // keys compared on b (after Exclude)
	Diffs  []Diff
	// DiffCount is how many keys differ; Diffs lists the first MaxDiffs.
	DiffCount  int
	DurationMS float64
}

// Compare reports whether database o.DB holds the same data on a and b,
// leaving out keys that match o.Exclude. See the package documentation for
// the methods and their limits. When the whole-server digests differ,
// Compare looks for the differing keys with DEBUG DIGEST-VALUE and reports
// that method. Once o.MaxDiffs differing keys are found, Compare stops
// comparing values and only counts the remaining keys.
//
// If o.DB is not the database a client is configured for, Compare uses a
// short-lived client with that client's options and o.DB.
func Compare(ctx context.Context, a, b *redis.Client, o CompareOptions) (Result, error) {
	start := time.Now()
	if o.MaxDiffs <= 0 {
		o.MaxDiffs = defaultMaxDiffs
	}
	a, doneA := onDB(a, o.DB)
	defer doneA()
	b, doneB := onDB(b, o.DB)
	defer doneB()

	useDigest, err := chooseMethod(ctx, a, b, o.Method)
	if err != nil {
		return Result{}, err
	}
	var (
		res Result
		d   = &diffs{max: o.MaxDiffs}
	)
	if useDigest {
		err = compareDigest(ctx, a, b, o, &res, d)
	} else {
		res.Method = UsedScan
		err = compareScan(ctx, a, b, o, &res, d)
	}
	if err != nil {
		return Result{}, err
	}
	res.Equal = d.n == 0
	res.Diffs, res.DiffCount = d.list, d.n
	res.DurationMS = float64(time.Since(start).Microseconds()) / 1000
	return res, nil
}

// chooseMethod reports whether to use the digest methods for m.
func chooseMethod(ctx context.Context, a, b *redis.Client, m Method) (bool, error) {
	switch m {
	case MethodScan:
		return false, nil
	case MethodDigest, MethodAuto, "":
	default:
		return false, fmt.Errorf("compare: unknown method %q (want auto, digest or scan)", m)
	}
	var errA, errB error
	parallel(
		func() { errA = debugAllowed(ctx, a) },
		func() { errB = debugAllowed(ctx, b) },
	)
	for _, s := range []struct {
		name string
		err  error
	}{{"a", errA}, {"b", errB}} {
		switch {
		case s.err == nil:
		case m != MethodDigest && isDebugRefused(s.err):
			return false, nil
		default:
			return false, fmt.Errorf("compare: DEBUG on %s: %w", s.name, s.err)
		}
	}
	return true, nil
}

// diffs collects the first max differing keys and counts all it is told of.
type diffs struct {
	max  int
	n    int
	list []Diff
}

func (d *diffs) add(key, reason string) {
	d.n++
	if len(d.list) < d.max {
		d.list = append(d.list, Diff{Key: key, Reason: reason})
	}
}

// full reports whether no more differences will be reported, so values need
// not be compared any more.
func (d *diffs) full() bool { return len(d.list) >= d.max }

// onDB returns a client for database db: c itself when it is configured for
// db, otherwise a new client with c's options and db, which done closes.
// Selecting the database on a pooled connection of c instead would leave
// that connection on the wrong database for c's other users.
func onDB(c *redis.Client, db int) (_ *redis.Client, done func()) {
	if c.Options().DB == db {
		return c, func() {}
	}
	opt := *c.Options()
	opt.DB = db
	// State that NewClient fills in per client and that must not be shared
	// with c: sharing c's push processor, for one, makes the new client fail
	// to register its handlers.
	opt.PushNotificationProcessor = nil
	opt.MaintNotificationsConfig = nil
	opt.ClientSideCache = nil
	opt.ClientSideCacheConfig = nil
	nc := redis.NewClient(&opt)
	return nc, func() { _ = nc.Close() }
}

// parallel runs f and g concurrently and waits for both.
func parallel(f, g func()) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		g()
	}()
	f()
	wg.Wait()
}
