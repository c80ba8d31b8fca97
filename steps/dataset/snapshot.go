package dataset

import (
	"context"
	"fmt"
	"slices"
	"time"
	"unsafe"

	"github.com/redis/go-redis/v9"
)

// Snapshot is what one server held at one moment, in fixed-size hashes:
// per key (in every database, or o.DBs, matching o.Match and no o.Exclude)
// its name, type, a hash of its value, its absolute expiry, a hash of its
// hash field TTLs and its stream metadata; the function libraries; the ACL
// users. CheckSnapshot proves a server still holds it. A snapshot of
// 100 000 keys takes about 6 MB (see MemoryBytes).
type Snapshot struct {
	Keys    int64     // keys in the snapshot
	Server  string    // the server's engine and version, e.g. "Redis 7.0.15"
	TakenAt time.Time // when the snapshot was finished

	opts   CompareOptions
	hfe    bool // the server has hash field TTLs
	names  []byte
	runs   []dbRun
	recs   []snapRec
	extras []snapExtra
	libs   libraries
	acl    aclUsers
}

// dbRun is the records of one database: recs[start:end].
type dbRun struct {
	db         int
	start, end int
	// fieldTTLs: some hash in the database has field TTLs.
	fieldTTLs bool
}

// snapRec is one key: 40 bytes.
type snapRec struct {
	nameOff, nameLen uint32 // the name in Snapshot.names
	expireAt         int64  // absolute, ms of the server's clock; -1 without TTL
	value            digest
	extra            int32  // index in Snapshot.extras; -1 when none
	slack            uint16 // expireAt's uncertainty, ms
	typ              uint8  // index in snapTypes
}

// snapExtra holds what only some keys have: hash field TTLs, stream
// metadata.
type snapExtra struct {
	fields *fieldTTLs
	stream *streamMeta
}

// snapTypes are the types a snapshot holds, by snapRec.typ.
var snapTypes = []string{TypeString, TypeHash, TypeList, TypeSet, TypeZSet, TypeStream}

// snapshotRetries is how often TakeSnapshot reads a key again that changed
// while it was read.
const snapshotRetries = 3

// TakeSnapshot snapshots c: the keys of o.DBs (nil: every database with
// keys) that match o.Match and no o.Exclude pattern, the function libraries
// and the ACL users. It reads like Compare, in small chunks, and fails on
// keys of types it cannot read (module types).
func TakeSnapshot(ctx context.Context, c *redis.Client, o CompareOptions) (*Snapshot, error) {
	s, err := probe(ctx, c, "snapshot")
	if err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	snap := &Snapshot{Server: s.version, opts: o, hfe: s.hfe}
	snap.opts.Exclude = slices.Clone(o.Exclude)
	dbs := o.DBs
	if dbs == nil {
		dbs = dbsWithKeys(s)
	}
	for _, db := range dbs {
		if err := snap.addDB(ctx, s, db); err != nil {
			return nil, fmt.Errorf("snapshot db %d: %w", db, err)
		}
	}
	if snap.libs, err = readLibraries(ctx, s); err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	if snap.acl, err = readACL(ctx, s); err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	snap.Keys = int64(len(snap.recs))
	snap.recs = slices.Clip(snap.recs)
	snap.names = slices.Clip(snap.names)
	snap.TakenAt = time.Now()
	return snap, nil
}

// addDB adds the keys of database db.
func (snap *Snapshot) addDB(ctx context.Context, s *side, db int) error {
	sdb, done := s.onDB(db)
	defer done()
	r := &reader{s: sdb, hfe: s.hfe, fieldTTLs: s.fieldTTLsIn(db)}
	run := dbRun{db: db, start: len(snap.recs)}
	err := newKeyScanner(sdb.c, "scan", snap.opts).each(ctx, func(keys []string) error {
		recs, err := r.read(ctx, keys)
		if err != nil {
			return err
		}
		for i := range recs {
			for try := 0; recs[i].typ == typeChanged; try++ {
				if try == snapshotRetries {
					return fmt.Errorf("key %q kept changing while it was read", keys[i])
				}
				again, err := r.read(ctx, keys[i:i+1])
				if err != nil {
					return err
				}
				recs[i] = again[0]
			}
			if recs[i].typ == typeNone {
				continue // deleted since SCAN returned it
			}
			if err := snap.add(keys[i], &recs[i], &run); err != nil {
				return err
			}
		}
		return nil
	})
	run.end = len(snap.recs)
	if run.end > run.start {
		snap.runs = append(snap.runs, run)
	}
	return err
}

// add appends one key's record.
func (snap *Snapshot) add(key string, rec *keyRec, run *dbRun) error {
	t := slices.Index(snapTypes, rec.typ)
	if t < 0 {
		return fmt.Errorf("key %q: type %s cannot be read (module types are not compared)", key, rec.typ)
	}
	sr := snapRec{
		nameOff:  uint32(len(snap.names)),
		nameLen:  uint32(len(key)),
		expireAt: rec.expireAt,
		value:    rec.value,
		extra:    -1,
		slack:    uint16(min(rec.slack, 1<<16-1)),
		typ:      uint8(t),
	}
	if rec.fields != nil || rec.stream != nil {
		sr.extra = int32(len(snap.extras))
		snap.extras = append(snap.extras, snapExtra{fields: rec.fields, stream: rec.stream})
		if rec.fields != nil && rec.fields.n > 0 {
			run.fieldTTLs = true
		}
	}
	snap.names = append(snap.names, key...)
	snap.recs = append(snap.recs, sr)
	return nil
}

// name returns the name of record i.
func (snap *Snapshot) name(i int) string {
	r := &snap.recs[i]
	return string(snap.names[r.nameOff : r.nameOff+r.nameLen])
}

// rec returns record i as a keyRec.
func (snap *Snapshot) rec(i int) keyRec {
	r := &snap.recs[i]
	k := keyRec{typ: snapTypes[r.typ], expireAt: r.expireAt, slack: int64(r.slack), value: r.value}
	if r.extra >= 0 {
		x := snap.extras[r.extra]
		k.fields, k.stream = x.fields, x.stream
	}
	return k
}

// Sum is a hex SHA-256 of the snapshot's keys: database, name, type, value
// and whether the key has a TTL, in any order; neither TTL values, hash
// field TTLs, stream metadata, functions nor ACL users. It is the same for
// the same data written at different times, on every server version, where
// CheckSnapshot would see TTLs differ.
func (snap *Snapshot) Sum() string {
	var s setSum
	var ph partHasher
	for _, run := range snap.runs {
		for i := run.start; i < run.end; i++ {
			r := &snap.recs[i]
			ph.start()
			ph.add(fmt.Sprint(run.db))
			ph.add(snap.name(i))
			ph.add(snapTypes[r.typ])
			ph.add(string(r.value[:]))
			ph.add(fmt.Sprint(r.expireAt >= 0))
			s.addHash(ph.sum())
		}
	}
	return s.digest("snapshot").String()
}

// MemoryBytes is about how much memory the snapshot holds.
func (snap *Snapshot) MemoryBytes() int64 {
	n := int64(cap(snap.names)) + int64(cap(snap.recs))*int64(unsafe.Sizeof(snapRec{})) +
		int64(cap(snap.extras))*int64(unsafe.Sizeof(snapExtra{}))
	for _, x := range snap.extras {
		if x.fields != nil {
			n += int64(unsafe.Sizeof(fieldTTLs{}))
		}
		if x.stream != nil {
			n += int64(unsafe.Sizeof(streamMeta{})) + int64(len(x.stream.groups))*int64(unsafe.Sizeof(groupMeta{}))
			for _, g := range x.stream.groups {
				n += int64(len(g.consumers)) * int64(unsafe.Sizeof(consumerMeta{}))
			}
		}
	}
	return n
}

// CheckSnapshot proves that c still holds what snap holds: every key of
// the snapshot present with the same type, value, TTL (within a tolerance),
// hash field TTLs and stream metadata; the same function libraries and ACL
// users. Keys that are not in the snapshot (written by a workload or an
// outside client) are not looked at. Of o only MaxDiffs counts. In the
// Result, a is the snapshot and b is c (reasons say "snapshot" and
// "server"); KeysA counts the snapshot's keys and KeysB those found on c.
func CheckSnapshot(ctx context.Context, c *redis.Client, snap *Snapshot, o CompareOptions) (Result, error) {
	start := time.Now()
	if o.MaxDiffs <= 0 {
		o.MaxDiffs = defaultMaxDiffs
	}
	s, err := probe(ctx, c, "server")
	if err != nil {
		return Result{}, fmt.Errorf("check snapshot: %w", err)
	}
	res := Result{Method: UsedSnapshot, KeysA: snap.Keys}
	d := &diffs{max: o.MaxDiffs}
	for _, run := range snap.runs {
		res.DBs = append(res.DBs, run.db)
		if err := snap.checkDB(ctx, s, run, &res, d); err != nil {
			return Result{}, fmt.Errorf("check snapshot db %d: %w", run.db, err)
		}
	}
	if snap.hfe != s.hfe {
		res.Notes = append(res.Notes, fmt.Sprintf("hash field TTLs not compared: the snapshot's server (%s) %s them, the server (%s) %s",
			snap.Server, has(snap.hfe), s.version, has(s.hfe)))
	}
	libs, err := readLibraries(ctx, s)
	if err != nil {
		return Result{}, fmt.Errorf("check snapshot: %w", err)
	}
	res.Notes = append(res.Notes, libraryDiffs(snap.libs, libs, d)...)
	users, err := readACL(ctx, s)
	if err != nil {
		return Result{}, fmt.Errorf("check snapshot: %w", err)
	}
	res.Notes = append(res.Notes, aclDiffs(snap.acl, users, d)...)
	d.finish(&res, start)
	return res, nil
}

func has(ok bool) string {
	if ok {
		return "has"
	}
	return "does not have"
}

// checkDB compares the records of one database with what s holds now.
func (snap *Snapshot) checkDB(ctx context.Context, s *side, run dbRun, res *Result, d *diffs) error {
	sdb, done := s.onDB(run.db)
	defer done()
	hfe := snap.hfe && s.hfe
	r := &reader{s: sdb, hfe: hfe, fieldTTLs: hfe && (run.fieldTTLs || s.fieldTTLsIn(run.db))}
	for start := run.start; start < run.end; start += batchSize {
		end := min(start+batchSize, run.end)
		keys := make([]string, 0, end-start)
		for i := start; i < end; i++ {
			keys = append(keys, snap.name(i))
		}
		now, err := r.read(ctx, keys)
		if err != nil {
			return err
		}
		for j := range keys {
			was := snap.rec(start + j)
			cur := &now[j]
			if cur.typ != typeNone {
				res.KeysB++
			}
			if was.expireAt >= 0 && cur.expireAt >= 0 {
				res.TTLToleranceMS = max(res.TTLToleranceMS, ttlTolerance(&was, cur))
			}
			if !hfe {
				was.fields, cur.fields = nil, nil
			}
			if reason := recordDiff(&was, cur, "snapshot", "server"); reason != "" {
				d.add(Diff{Kind: DiffKey, DB: run.db, Key: keys[j], Reason: reason})
			}
		}
	}
	return nil
}
