package dataset

import (
	"encoding/binary"
	"fmt"
	"slices"
	"sort"
	"strconv"

	"github.com/redis/go-redis/v9"
)

// The canonical encoding of a value is the same for equal logical content on
// every server version and protocol: the type name, then the elements, each
// length-prefixed; set members and hash fields sorted; sorted set members
// sorted by member, with scores formatted from their float64 value.

// encoder appends length-prefixed strings.
type encoder []byte

func (e *encoder) int(n int) { *e = binary.AppendUvarint(*e, uint64(n)) }

func (e *encoder) str(s string) {
	e.int(len(s))
	*e = append(*e, s...)
}

// encodeReply returns the canonical encoding of the reply of a read command
// queued by readValues for a key of type typ, and whether the value was
// empty.
func encodeReply(typ string, cmd redis.Cmder) (enc []byte, empty bool, err error) {
	switch cmd := cmd.(type) {
	case *redis.StringCmd:
		return encodeString(cmd.Val()), false, nil
	case *redis.MapStringStringCmd:
		return encodeHash(cmd.Val()), len(cmd.Val()) == 0, nil
	case *redis.StringSliceCmd:
		if typ == TypeSet {
			return encodeSet(cmd.Val()), len(cmd.Val()) == 0, nil
		}
		return encodeList(cmd.Val()), len(cmd.Val()) == 0, nil
	case *redis.ZSliceCmd:
		return encodeZSet(cmd.Val()), len(cmd.Val()) == 0, nil
	case *redis.Cmd:
		entries, err := parseXRange(cmd.Val())
		if err != nil {
			return nil, false, err
		}
		return encodeStream(entries), len(entries) == 0, nil
	}
	return nil, false, fmt.Errorf("unexpected reply %T", cmd)
}

func encodeString(s string) []byte {
	var e encoder
	e.str(TypeString)
	e.str(s)
	return e
}

func encodeList(items []string) []byte {
	var e encoder
	e.str(TypeList)
	e.int(len(items))
	for _, s := range items {
		e.str(s)
	}
	return e
}

func encodeSet(members []string) []byte {
	members = slices.Clone(members)
	slices.Sort(members)
	var e encoder
	e.str(TypeSet)
	e.int(len(members))
	for _, s := range members {
		e.str(s)
	}
	return e
}

func encodeHash(m map[string]string) []byte {
	fields := make([]string, 0, len(m))
	for f := range m {
		fields = append(fields, f)
	}
	slices.Sort(fields)
	var e encoder
	e.str(TypeHash)
	e.int(len(fields))
	for _, f := range fields {
		e.str(f)
		e.str(m[f])
	}
	return e
}

func encodeZSet(zs []redis.Z) []byte {
	type member struct{ name, score string }
	ms := make([]member, len(zs))
	for i, z := range zs {
		ms[i] = member{name: fmt.Sprint(z.Member), score: canonicalScore(z.Score)}
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].name < ms[j].name })
	var e encoder
	e.str(TypeZSet)
	e.int(len(ms))
	for _, m := range ms {
		e.str(m.name)
		e.str(m.score)
	}
	return e
}

// canonicalScore formats a sorted set score as the shortest decimal that
// parses back to it, whatever form the server printed (7.0 prints 0.1 as
// 0.10000000000000001, 7.2+ as 0.1). -0 and 0 are one score.
func canonicalScore(f float64) string {
	if f == 0 {
		f = 0 // drops the sign of -0
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// streamEntry is one stream entry: its ID and its field-value pairs in order.
type streamEntry struct {
	id     string
	fields []string
}

func encodeStream(entries []streamEntry) []byte {
	var e encoder
	e.str(TypeStream)
	e.int(len(entries))
	for _, x := range entries {
		e.str(x.id)
		e.int(len(x.fields))
		for _, f := range x.fields {
			e.str(f)
		}
	}
	return e
}

// parseXRange parses an XRANGE reply as go-redis returns it for RESP2 and
// RESP3 alike: an array of [id, [field, value, ...]]. Unlike go-redis's
// XMessage it keeps the order and repetitions of fields.
func parseXRange(v interface{}) ([]streamEntry, error) {
	items, ok := v.([]interface{})
	if !ok {
		return nil, fmt.Errorf("xrange: reply is %T, want array", v)
	}
	entries := make([]streamEntry, 0, len(items))
	for _, it := range items {
		pair, ok := it.([]interface{})
		if !ok || len(pair) != 2 {
			return nil, fmt.Errorf("xrange: entry is %T, want [id, fields]", it)
		}
		id, ok := pair[0].(string)
		if !ok {
			return nil, fmt.Errorf("xrange: entry id is %T", pair[0])
		}
		raw, ok := pair[1].([]interface{})
		if !ok && pair[1] != nil {
			return nil, fmt.Errorf("xrange: entry %s fields are %T", id, pair[1])
		}
		fields := make([]string, len(raw))
		for i, f := range raw {
			if fields[i], ok = f.(string); !ok {
				return nil, fmt.Errorf("xrange: entry %s field is %T", id, f)
			}
		}
		entries = append(entries, streamEntry{id: id, fields: fields})
	}
	return entries, nil
}
