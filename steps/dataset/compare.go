package dataset

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Method selects how Compare compares two servers.
type Method string

// Methods accepted by Compare.
const (
	// MethodAuto reads and compares every key (type, value, TTL, hash field
	// TTLs, stream metadata), the function libraries and the ACL users,
	// in small chunks. It is the default.
	MethodAuto Method = "auto"
	// MethodScan is MethodAuto.
	MethodScan Method = "scan"
	// MethodDigest uses DEBUG DIGEST, or DEBUG DIGEST-VALUE per key: it
	// blocks each server for the whole digest and sees neither TTL values,
	// stream groups, functions nor ACL users. Only used when asked for.
	MethodDigest Method = "digest"
)

// Values of Result.Method: what was used.
const (
	UsedDebugDigest      = "debug-digest"
	UsedDebugDigestValue = "debug-digest-value"
	UsedScan             = "scan"
	UsedSnapshot         = "snapshot"
)

const defaultMaxDiffs = 10

// CompareOptions configures Compare, CompareKeys and TakeSnapshot.
type CompareOptions struct {
	// Method is how to compare; "" means MethodAuto.
	Method Method
	// Match, when set, limits the keys to those matching this Redis glob
	// pattern (SCAN MATCH), e.g. the seeded keys "seed:*".
	Match string
	// Exclude lists Redis glob patterns (KEYS / SCAN MATCH syntax, e.g.
	// "understudy:traffic:*") of keys to leave out, e.g. a live writer's.
	Exclude []string
	// DBs are the logical databases to compare; nil means every database
	// that holds keys on either server (INFO keyspace).
	DBs []int
	// MaxDiffs is the number of differences to report, default 10.
	MaxDiffs int
}

// DiffKind says what a Diff is about.
type DiffKind string

// Kinds of Diff.
const (
	DiffKey      DiffKind = "key"
	DiffFunction DiffKind = "function library"
	DiffACLUser  DiffKind = "acl user"
)

// Diff is one key, function library or ACL user that differs.
type Diff struct {
	Kind DiffKind
	DB   int    // the key's database; 0 for other kinds
	Key  string // the key, library or user name
	// Reason is e.g. "missing on b", "type string vs hash", "value
	// differs", "ttl missing on b", "ttl differs: 24h0m0s vs 1m0s",
	// `stream group "g1" last-delivered-id 5-0 vs 7-0`, "passwords differ".
	Reason string
}

// String names the object and what differs: `db3 "seed:x": ttl differs:
// 24h0m0s vs 1m0s`, `function library "lib": missing on b`, `acl user
// "app": key patterns differ: ...`.
func (d Diff) String() string {
	if d.Kind == DiffKey || d.Kind == "" {
		return fmt.Sprintf("db%d %q: %s", d.DB, d.Key, d.Reason)
	}
	return fmt.Sprintf("%s %q: %s", d.Kind, d.Key, d.Reason)
}

// KeyRef is a key in a database.
type KeyRef struct {
	DB  int
	Key string
}

// Result is the outcome of Compare, CompareKeys or CheckSnapshot.
type Result struct {
	// Method is what was used: "scan", "debug-digest",
	// "debug-digest-value" or "snapshot".
	Method string
	Equal  bool
	KeysA  int64 // keys compared on a (after Match and Exclude), or in the snapshot
	KeysB  int64 // keys compared on b, or snapshot keys found on the server
	DBs    []int // databases compared
	Diffs  []Diff
	// DiffCount is how many keys and objects differ; Diffs lists the first
	// MaxDiffs.
	DiffCount int
	// TTLToleranceMS is the largest difference between the absolute
	// expiries of a key on the two sides that was taken as equal: half the
	// time the reads took on each server, plus ttlSlack.
	TTLToleranceMS int64
	// Notes say what could not be compared, and why (e.g. a server without
	// FUNCTION).
	Notes      []string
	DurationMS float64
}

// Compare reports whether a and b hold the same data: for every database
// in o.DBs (every database with keys on either side when nil), the keys
// that match o.Match and no o.Exclude pattern, each with its type, value,
// TTL, hash field TTLs and stream metadata; then the function libraries
// and the ACL users. See the package documentation for what is compared
// and what is not. No command it sends keeps a server busy for more than a
// few milliseconds. Once o.MaxDiffs differences are found, Compare stops
// comparing values and only counts the remaining keys.
//
// Compare uses short-lived clients with a's and b's options for databases
// other than theirs.
func Compare(ctx context.Context, a, b *redis.Client, o CompareOptions) (Result, error) {
	start := time.Now()
	if o.MaxDiffs <= 0 {
		o.MaxDiffs = defaultMaxDiffs
	}
	switch o.Method {
	case "", MethodAuto, MethodScan, MethodDigest:
	default:
		return Result{}, fmt.Errorf("compare: unknown method %q (want auto, digest or scan)", o.Method)
	}
	sa, sb, err := probeBoth(ctx, a, b, "a", "b")
	if err != nil {
		return Result{}, fmt.Errorf("compare: %w", err)
	}
	res := Result{DBs: o.DBs}
	if res.DBs == nil {
		res.DBs = dbsWithKeys(sa, sb)
	}
	d := &diffs{max: o.MaxDiffs}
	if o.Method == MethodDigest {
		err = compareDigest(ctx, sa, sb, o, &res, d)
	} else {
		res.Method = UsedScan
		err = compareAll(ctx, sa, sb, o, &res, d)
	}
	if err != nil {
		return Result{}, err
	}
	d.finish(&res, start)
	return res, nil
}

// probeBoth probes two servers at once.
func probeBoth(ctx context.Context, a, b *redis.Client, la, lb string) (sa, sb *side, err error) {
	var errA, errB error
	parallel(
		func() { sa, errA = probe(ctx, a, la) },
		func() { sb, errB = probe(ctx, b, lb) },
	)
	return sa, sb, sideErrors(errA, errB)
}

// compareAll compares every database of res.DBs key by key, then the
// function libraries and the ACL users.
func compareAll(ctx context.Context, sa, sb *side, o CompareOptions, res *Result, d *diffs) error {
	for _, db := range res.DBs {
		if err := compareDB(ctx, sa, sb, db, o, res, d); err != nil {
			return fmt.Errorf("compare db %d: %w", db, err)
		}
	}
	if sa.hfe != sb.hfe {
		with, without := sa, sb
		if sb.hfe {
			with, without = sb, sa
		}
		res.Notes = append(res.Notes, fmt.Sprintf("hash field TTLs not compared: %s (%s) has no hash field expiration (Redis 7.4+, Valkey 9.0+), %s (%s) has",
			without.label, without.version, with.label, with.version))
	}
	var la, lb libraries
	var errA, errB error
	parallel(
		func() { la, errA = readLibraries(ctx, sa) },
		func() { lb, errB = readLibraries(ctx, sb) },
	)
	if err := sideErrors(errA, errB); err != nil {
		return fmt.Errorf("compare functions: %w", err)
	}
	res.Notes = append(res.Notes, libraryDiffs(la, lb, d)...)
	var ua, ub aclUsers
	parallel(
		func() { ua, errA = readACL(ctx, sa) },
		func() { ub, errB = readACL(ctx, sb) },
	)
	if err := sideErrors(errA, errB); err != nil {
		return fmt.Errorf("compare acl users: %w", err)
	}
	res.Notes = append(res.Notes, aclDiffs(ua, ub, d)...)
	return nil
}

// readersFor returns readers of database db on two servers, and a function
// that closes their clients. Hash field TTLs are read when both servers
// have them and either may hold one in db.
func readersFor(sa, sb *side, db int) (ra, rb *reader, done func()) {
	a, doneA := sa.onDB(db)
	b, doneB := sb.onDB(db)
	hfe := sa.hfe && sb.hfe
	ft := hfe && (sa.fieldTTLsIn(db) || sb.fieldTTLsIn(db))
	return &reader{s: a, hfe: hfe, fieldTTLs: ft}, &reader{s: b, hfe: hfe, fieldTTLs: ft}, func() { doneA(); doneB() }
}

// compareDB compares the keys of database db: those of a batch by batch,
// then the keys of b missing on a.
func compareDB(ctx context.Context, sa, sb *side, db int, o CompareOptions, res *Result, d *diffs) error {
	ra, rb, done := readersFor(sa, sb, db)
	defer done()
	scanA := newKeyScanner(ra.s.c, "scan a", o)
	err := scanA.each(ctx, func(keys []string) error {
		if d.full() {
			return nil
		}
		return compareRecords(ctx, ra, rb, db, keys, res, d)
	})
	if err != nil {
		return err
	}
	res.KeysA += scanA.n
	return missingOnA(ctx, ra, rb, db, o, res, d)
}

// compareRecords reads keys from both sides at once and adds those that
// differ to d.
func compareRecords(ctx context.Context, ra, rb *reader, db int, keys []string, res *Result, d *diffs) error {
	var va, vb []keyRec
	var errA, errB error
	parallel(
		func() { va, errA = ra.read(ctx, keys) },
		func() { vb, errB = rb.read(ctx, keys) },
	)
	if err := sideErrors(errA, errB); err != nil {
		return err
	}
	for i, k := range keys {
		a, b := &va[i], &vb[i]
		if a.expireAt >= 0 && b.expireAt >= 0 {
			res.TTLToleranceMS = max(res.TTLToleranceMS, ttlTolerance(a, b))
		}
		r := recordDiff(a, b, ra.s.label, rb.s.label)
		if r == "" {
			continue
		}
		if strings.HasPrefix(r, "hash field ttls differ") && !d.full() {
			if why, err := explainFieldTTLs(ctx, ra, rb, k); err != nil {
				return err
			} else if why != "" {
				r = why
			}
		}
		d.add(Diff{Kind: DiffKey, DB: db, Key: k, Reason: r})
	}
	return nil
}

// CompareKeys compares only the given keys on a and b, like Compare (by
// type, value, TTL, hash field TTLs and stream metadata, whatever
// o.Method), but neither functions nor ACL users. Verify uses it to look
// again at keys that differed while writes were in flight.
func CompareKeys(ctx context.Context, a, b *redis.Client, keys []KeyRef, o CompareOptions) (Result, error) {
	start := time.Now()
	if o.MaxDiffs <= 0 {
		o.MaxDiffs = defaultMaxDiffs
	}
	sa, sb, err := probeBoth(ctx, a, b, "a", "b")
	if err != nil {
		return Result{}, fmt.Errorf("compare keys: %w", err)
	}
	res := Result{Method: UsedScan, KeysA: int64(len(keys)), KeysB: int64(len(keys))}
	d := &diffs{max: o.MaxDiffs}
	for _, db := range keyDBs(keys) {
		var names []string
		for _, k := range keys {
			if k.DB == db {
				names = append(names, k.Key)
			}
		}
		res.DBs = append(res.DBs, db)
		ra, rb, done := readersFor(sa, sb, db)
		for batch := range slices.Chunk(names, batchSize) {
			if err := compareRecords(ctx, ra, rb, db, batch, &res, d); err != nil {
				done()
				return Result{}, fmt.Errorf("compare keys: %w", err)
			}
		}
		done()
	}
	d.finish(&res, start)
	return res, nil
}

// keyDBs returns the databases of keys, sorted.
func keyDBs(keys []KeyRef) []int {
	var dbs []int
	for _, k := range keys {
		if !slices.Contains(dbs, k.DB) {
			dbs = append(dbs, k.DB)
		}
	}
	slices.Sort(dbs)
	return dbs
}

// Keys returns the keys among r.Diffs, and whether every difference found
// is listed there and is a key: then comparing those keys again covers
// everything that differed.
func (r Result) Keys() (keys []KeyRef, all bool) {
	all = r.DiffCount == len(r.Diffs)
	for _, d := range r.Diffs {
		if d.Kind != DiffKey {
			all = false
			continue
		}
		keys = append(keys, KeyRef{DB: d.DB, Key: d.Key})
	}
	return keys, all
}

// diffs collects the first max differences and counts all it is told of.
type diffs struct {
	max  int
	n    int
	list []Diff
}

func (d *diffs) add(x Diff) {
	d.n++
	if len(d.list) < d.max {
		d.list = append(d.list, x)
	}
}

// full reports whether no more differences will be reported, so values need
// not be compared any more.
func (d *diffs) full() bool { return len(d.list) >= d.max }

// finish fills in the verdict, the differences and the duration.
func (d *diffs) finish(res *Result, start time.Time) {
	res.Equal = d.n == 0
	res.Diffs, res.DiffCount = d.list, d.n
	res.DurationMS = float64(time.Since(start).Microseconds()) / 1000
}

// onDB returns a client for database db: c itself when it is configured for
// db, otherwise a new client with c's options and db, which done closes.
// Selecting the database on a pooled connection of c instead would leave
// that connection on the wrong database for c's other users.
func onDB(c *redis.Client, db int) (_ *redis.Client, done func()) {
	if c.Options().DB == db {
		return c, func() {}
	}
	return newClient(c, db)
}

// newClient returns a new client with c's options and database db, which
// done closes.
func newClient(c *redis.Client, db int) (_ *redis.Client, done func()) {
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

// missingOnA scans database db of b and adds the keys a lacks to d; it
// counts b's keys in res.
func missingOnA(ctx context.Context, ra, rb *reader, db int, o CompareOptions, res *Result, d *diffs) error {
	scanB := newKeyScanner(rb.s.c, "scan b", o)
	err := scanB.each(ctx, func(keys []string) error {
		if d.full() {
			return nil
		}
		pipe := ra.s.c.Pipeline()
		cmds := make([]*redis.IntCmd, len(keys))
		for i, k := range keys {
			cmds[i] = pipe.Exists(ctx, k)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return fmt.Errorf("exists on a: %w", err)
		}
		for i, cmd := range cmds {
			if cmd.Val() == 0 {
				d.add(Diff{Kind: DiffKey, DB: db, Key: keys[i], Reason: "missing on a"})
			}
		}
		return nil
	})
	res.KeysB += scanB.n
	return err
}
