package dataset

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Limits that keep every command and pipeline a comparison sends short for
// the server: a few milliseconds at most, measured in elements the server
// has to produce and bytes it has to copy. A pipeline is read by the server
// 16 KB at a time, serving other clients in between, but one read can hold
// hundreds of small commands, so pipelines are bounded too.
const (
	// chunkElems is the number of elements read per command from a big
	// collection (HSCAN/SSCAN COUNT, LRANGE/ZRANGE index ranges, XRANGE
	// COUNT, XPENDING COUNT, HPEXPIRETIME fields).
	chunkElems = 1000
	// chunkBytes is the number of bytes read per command from a big value
	// (GETRANGE), and the target for one command's reply.
	chunkBytes = 256 << 10
	// batchElems and batchBytes bound the replies of one pipeline of
	// whole-value reads of small keys.
	batchElems = 2000
	batchBytes = 256 << 10
)

const (
	// typeNone is what TYPE answers for a missing key.
	typeNone = "none"
	// typeChanged marks a key whose type or size changed while it was
	// read: a difference the caller may look at again.
	typeChanged = "changed while being read"
)

// keyRec is what a comparison knows of one key on one server: fixed-size
// hashes, no values.
type keyRec struct {
	typ string // TYPE; typeNone when missing, typeChanged
	// expireAt is the absolute expiry in milliseconds of the server's
	// clock, the server's time when PTTL was read plus PTTL; -1 without
	// TTL. slack is its uncertainty in ms (half the time the reads took on
	// the server, plus a millisecond of rounding) and readAt that time.
	expireAt int64
	readAt   int64
	slack    int64
	value    digest     // hash of the value in canonical form
	fields   *fieldTTLs // hash field TTLs; nil when not read
	stream   *streamMeta

	size  int64 // from the size round: elements, or bytes of a string
	bytes int64 // MEMORY USAGE of a collection; 0 when unknown
}

// fieldTTLs summarizes the TTLs of a hash's fields: how many fields have
// one and a hash of the fields with their absolute expiry (ms).
type fieldTTLs struct {
	n   int64
	sum digest
}

// newFieldTTLs summarizes the field TTLs added to s; the zero value when
// there are none, as for a hash known to have none.
func newFieldTTLs(s *setSum) *fieldTTLs {
	if s.n == 0 {
		return &fieldTTLs{}
	}
	return &fieldTTLs{n: s.n, sum: s.digest("hash field ttls")}
}

// readable reports whether the value of a key of type typ can be read
// and hashed.
func readable(typ string) bool {
	switch typ {
	case TypeString, TypeHash, TypeList, TypeSet, TypeZSet, TypeStream:
		return true
	}
	return false
}

// reader reads keyRecs from one server in one database.
type reader struct {
	s *side
	// hfe: hash field TTLs are compared; a hash's record has fields, zero
	// unless fieldTTLs.
	hfe bool
	// fieldTTLs: read hash field TTLs (HPEXPIRETIME); false when no hash
	// in the database has one.
	fieldTTLs bool
}

// read returns the records of keys, in order. A key deleted before its
// value is read reads as missing; one whose type or size changes while it
// is read reads as typeChanged.
func (r *reader) read(ctx context.Context, keys []string) ([]keyRec, error) {
	recs := make([]keyRec, len(keys))
	if err := r.readMeta(ctx, keys, recs); err != nil {
		return nil, err
	}
	if err := r.readSizes(ctx, keys, recs); err != nil {
		return nil, err
	}
	if err := r.readValues(ctx, keys, recs); err != nil {
		return nil, err
	}
	if err := r.readGroups(ctx, keys, recs); err != nil {
		return nil, err
	}
	return recs, nil
}

// readMeta reads TYPE and PTTL of keys in one pipeline between two TIME
// commands, which give the server's time of every PTTL within the time the
// pipeline took on the server. Where TIME is refused (ACL), the client's
// clock around the pipeline stands in.
func (r *reader) readMeta(ctx context.Context, keys []string, recs []keyRec) error {
	pipe := r.s.c.Pipeline()
	t0 := pipe.Time(ctx)
	types := make([]*redis.StatusCmd, len(keys))
	ttls := make([]*redis.Cmd, len(keys))
	for i, k := range keys {
		types[i] = pipe.Type(ctx, k)
		ttls[i] = pipe.Do(ctx, "PTTL", k)
	}
	t1 := pipe.Time(ctx)
	sent := time.Now()
	_, _ = pipe.Exec(ctx) // errors are looked at per command
	start, end := t0.Val().UnixMicro(), t1.Val().UnixMicro()
	if t0.Err() != nil || t1.Err() != nil {
		start, end = sent.UnixMicro(), time.Now().UnixMicro()
	}
	readAt := (start + end) / 2000
	slack := (end-start+1999)/2000 + 1
	for i := range keys {
		if err := types[i].Err(); err != nil {
			return fmt.Errorf("type %q: %w", keys[i], err)
		}
		ttl, err := ttls[i].Int64()
		if err != nil {
			return fmt.Errorf("pttl %q: %w", keys[i], err)
		}
		rec := &recs[i]
		rec.typ, rec.readAt, rec.slack, rec.expireAt = types[i].Val(), readAt, slack, -1
		if ttl >= 0 {
			rec.expireAt = readAt + ttl
		}
		if rec.typ == TypeHash && r.hfe {
			rec.fields = &fieldTTLs{}
		}
	}
	return nil
}

// readSizes reads the length of every key (elements, bytes of a string),
// the memory of collections where MEMORY USAGE is allowed, and the metadata
// of streams (XINFO STREAM, XINFO GROUPS), in one pipeline of O(1) commands.
func (r *reader) readSizes(ctx context.Context, keys []string, recs []keyRec) error {
	pipe := r.s.c.Pipeline()
	sizes := make([]*redis.IntCmd, len(keys))
	mems := make([]*redis.Cmd, len(keys))
	infos := make([][2]*redis.Cmd, len(keys))
	for i, k := range keys {
		switch recs[i].typ {
		case TypeString:
			sizes[i] = pipe.StrLen(ctx, k)
		case TypeHash:
			sizes[i] = pipe.HLen(ctx, k)
		case TypeList:
			sizes[i] = pipe.LLen(ctx, k)
		case TypeSet:
			sizes[i] = pipe.SCard(ctx, k)
		case TypeZSet:
			sizes[i] = pipe.ZCard(ctx, k)
		case TypeStream:
			infos[i] = [2]*redis.Cmd{pipe.Do(ctx, "XINFO", "STREAM", k), pipe.Do(ctx, "XINFO", "GROUPS", k)}
		default:
			continue
		}
		if recs[i].typ != TypeString && r.s.memory {
			mems[i] = pipe.Do(ctx, "MEMORY", "USAGE", k)
		}
	}
	if pipe.Len() == 0 {
		return nil
	}
	_, _ = pipe.Exec(ctx) // errors are looked at per command
	for i, k := range keys {
		rec := &recs[i]
		if sizes[i] != nil {
			if err := sizes[i].Err(); err != nil {
				if changedErr(err) {
					rec.typ = typeChanged
					continue
				}
				return fmt.Errorf("size of %q: %w", k, err)
			}
			rec.size = sizes[i].Val()
		}
		if infos[i][0] != nil {
			sm, err := parseStreamInfo(infos[i][0], infos[i][1])
			switch {
			case changedErr(err):
				rec.typ = typeChanged
				continue
			case err != nil:
				return fmt.Errorf("xinfo %q: %w", k, err)
			}
			rec.stream, rec.size = sm, sm.length
		}
		if mems[i] != nil {
			if n, err := mems[i].Int64(); err == nil {
				rec.bytes = n
			}
		}
	}
	return nil
}

// changedErr reports whether err says a key is not (any more) of the type
// it was read as: WRONGTYPE, or XINFO's "no such key".
func changedErr(err error) bool {
	var rerr redis.Error
	if !errors.As(err, &rerr) {
		return false
	}
	msg := rerr.Error()
	return strings.HasPrefix(msg, "WRONGTYPE") || strings.HasPrefix(msg, "ERR no such key")
}

// big reports whether a key's value is read in chunks.
func big(rec *keyRec) bool {
	if rec.typ == TypeString {
		return rec.size > chunkBytes
	}
	return rec.size > chunkElems || rec.bytes > chunkBytes
}

// replyElems estimates the number of elements a whole-value read of rec
// returns.
func replyElems(rec *keyRec) int64 {
	switch rec.typ {
	case TypeString:
		return 1
	case TypeHash, TypeZSet:
		return 2 * rec.size
	case TypeStream:
		return 4 * rec.size
	}
	return rec.size
}

// chunkCount is the number of elements to read per command from a big
// collection: chunkElems, fewer when its elements are big.
func chunkCount(rec *keyRec) int64 {
	n := int64(chunkElems)
	if rec.bytes > 0 && rec.size > 0 {
		if per := rec.bytes / rec.size; per > 0 {
			n = min(n, max(16, chunkBytes/per))
		}
	}
	return n
}

// readValues hashes the value of every key: small keys whole, in pipelines
// bounded by batchElems and batchBytes; big ones in chunks.
func (r *reader) readValues(ctx context.Context, keys []string, recs []keyRec) error {
	var (
		batch        []int
		elems, bytes int64
	)
	flush := func() error {
		err := r.readWhole(ctx, keys, recs, batch)
		batch, elems, bytes = batch[:0], 0, 0
		return err
	}
	for i := range keys {
		rec := &recs[i]
		if !readable(rec.typ) {
			continue
		}
		if big(rec) {
			if err := r.readBig(ctx, keys[i], rec); err != nil {
				return err
			}
			continue
		}
		e, b := replyElems(rec), rec.bytes
		if rec.typ == TypeString {
			b = rec.size
		}
		if len(batch) > 0 && (elems+e > batchElems || bytes+b > batchBytes) {
			if err := flush(); err != nil {
				return err
			}
		}
		batch = append(batch, i)
		elems += e
		bytes += b
	}
	if len(batch) > 0 {
		return flush()
	}
	return nil
}

// readWhole reads the values of the keys at idx in one pipeline, then the
// field TTLs of its hashes.
func (r *reader) readWhole(ctx context.Context, keys []string, recs []keyRec, idx []int) error {
	pipe := r.s.c.Pipeline()
	cmds := make([]redis.Cmder, len(idx))
	for j, i := range idx {
		k := keys[i]
		switch recs[i].typ {
		case TypeString:
			cmds[j] = pipe.Get(ctx, k)
		case TypeHash:
			cmds[j] = pipe.HGetAll(ctx, k)
		case TypeList:
			cmds[j] = pipe.LRange(ctx, k, 0, -1)
		case TypeSet:
			cmds[j] = pipe.SMembers(ctx, k)
		case TypeZSet:
			cmds[j] = pipe.ZRangeWithScores(ctx, k, 0, -1)
		case TypeStream:
			cmds[j] = pipe.Do(ctx, "XRANGE", k, "-", "+")
		}
	}
	_, _ = pipe.Exec(ctx) // errors are looked at per command
	var hashes []hashFields
	for j, i := range idx {
		rec, cmd := &recs[i], cmds[j]
		if err := cmd.Err(); errors.Is(err, redis.Nil) {
			rec.typ = typeNone
			continue
		} else if changedErr(err) {
			rec.typ = typeChanged
			continue
		} else if err != nil {
			return fmt.Errorf("read %s %q: %w", rec.typ, keys[i], err)
		}
		empty := false
		switch cmd := cmd.(type) {
		case *redis.StringCmd:
			rec.value = stringDigest(cmd.Val())
		case *redis.MapStringStringCmd:
			m := cmd.Val()
			empty = len(m) == 0
			rec.value = hashDigest(m)
			if r.fieldTTLs && len(m) > 0 {
				hf := hashFields{rec: rec, key: keys[i], fields: make([]string, 0, len(m))}
				for f := range m {
					hf.fields = append(hf.fields, f)
				}
				hashes = append(hashes, hf)
			}
		case *redis.StringSliceCmd:
			l := cmd.Val()
			empty = len(l) == 0
			if rec.typ == TypeSet {
				rec.value = setDigest(l)
			} else {
				rec.value = listDigest(l)
			}
		case *redis.ZSliceCmd:
			var s setSum
			for _, z := range cmd.Val() {
				zsetAdd(&s, fmt.Sprint(z.Member), z.Score)
			}
			empty = s.n == 0
			rec.value = s.digest(TypeZSet)
		case *redis.Cmd:
			entries, err := parseXRange(cmd.Val())
			if err != nil {
				return fmt.Errorf("read stream %q: %w", keys[i], err)
			}
			h := newSeqHash()
			streamAdd(h, entries)
			rec.value = h.digest(TypeStream)
		}
		if empty {
			// Only a stream can exist empty: the key went away.
			rec.typ = typeNone
		}
	}
	return r.readFieldTTLs(ctx, hashes)
}

// hashFields is a hash whose field TTLs are to be read.
type hashFields struct {
	rec    *keyRec
	key    string
	fields []string
}

// readFieldTTLs reads the TTLs of the fields of hashes with HPEXPIRETIME,
// up to chunkElems fields per command and batchElems per pipeline.
func (r *reader) readFieldTTLs(ctx context.Context, hashes []hashFields) error {
	type call struct {
		h      int
		fields []string
		cmd    *redis.Cmd
	}
	sums := make([]setSum, len(hashes))
	var calls []call
	pipe := r.s.c.Pipeline()
	n := 0
	exec := func() error {
		if len(calls) == 0 {
			return nil
		}
		_, _ = pipe.Exec(ctx)
		for _, c := range calls {
			if err := r.addFieldTTLs(&sums[c.h], hashes[c.h].rec, c.fields, c.cmd); err != nil {
				return fmt.Errorf("hpexpiretime %q: %w", hashes[c.h].key, err)
			}
		}
		calls, n = calls[:0], 0
		return nil
	}
	for h, hf := range hashes {
		for start := 0; start < len(hf.fields); start += chunkElems {
			fields := hf.fields[start:min(start+chunkElems, len(hf.fields))]
			calls = append(calls, call{h: h, fields: fields, cmd: pipe.Do(ctx, hpexpiretimeArgs(hf.key, fields)...)})
			if n += len(fields); n >= batchElems {
				if err := exec(); err != nil {
					return err
				}
			}
		}
	}
	if err := exec(); err != nil {
		return err
	}
	for h, hf := range hashes {
		if hf.rec.typ == TypeHash {
			hf.rec.fields = newFieldTTLs(&sums[h])
		}
	}
	return nil
}

func hpexpiretimeArgs(key string, fields []string) []interface{} {
	args := make([]interface{}, 0, 4+len(fields))
	args = append(args, "HPEXPIRETIME", key, "FIELDS", len(fields))
	for _, f := range fields {
		args = append(args, f)
	}
	return args
}

// addFieldTTLs adds the fields with a TTL from an HPEXPIRETIME reply to s.
// A field gone since (-2) marks the hash changed.
func (r *reader) addFieldTTLs(s *setSum, rec *keyRec, fields []string, cmd *redis.Cmd) error {
	if err := cmd.Err(); err != nil {
		if changedErr(err) {
			rec.typ = typeChanged
			return nil
		}
		return err
	}
	l, err := replyList(cmd.Val())
	if err != nil {
		return err
	}
	if len(l) != len(fields) {
		return fmt.Errorf("%d replies for %d fields", len(l), len(fields))
	}
	for i, v := range l {
		at, err := replyInt(v)
		if err != nil {
			return err
		}
		switch {
		case at == -2:
			rec.typ = typeChanged
		case at >= 0:
			s.add2(fields[i], fmt.Sprint(at))
		}
	}
	return nil
}

// readGroups reads the consumers and pending entries of the consumer
// groups of the streams among recs.
func (r *reader) readGroups(ctx context.Context, keys []string, recs []keyRec) error {
	var todo []groupRead
	for i := range recs {
		if recs[i].typ != TypeStream || recs[i].stream == nil {
			continue
		}
		for g := range recs[i].stream.groups {
			todo = append(todo, groupRead{rec: &recs[i], key: keys[i], g: &recs[i].stream.groups[g], pending: newSeqHash()})
		}
	}
	return r.readGroupDetails(ctx, todo)
}

// duration formats a TTL in milliseconds for a reason.
func duration(ms int64, round time.Duration) string {
	return (time.Duration(ms) * time.Millisecond).Round(round).String()
}
