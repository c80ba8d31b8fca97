package dataset

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// maxExplainFields bounds the fields with a TTL explainFieldTTLs holds per
// side.
const maxExplainFields = 100000

// explainFieldTTLs reads the field TTLs of one hash on both sides again and
// names the first field whose TTL differs, or returns "" when it cannot
// (the hash changed, too many fields have a TTL). Field expiries are
// compared exactly (HPEXPIRETIME is absolute and replicated as such); the
// remaining TTLs shown are as of the client's clock.
func explainFieldTTLs(ctx context.Context, ra, rb *reader, key string) (string, error) {
	var ea, eb map[string]int64
	var errA, errB error
	parallel(
		func() { ea, errA = fieldExpiries(ctx, ra, key) },
		func() { eb, errB = fieldExpiries(ctx, rb, key) },
	)
	if err := sideErrors(errA, errB); err != nil {
		return "", err
	}
	if ea == nil || eb == nil {
		return "", nil
	}
	names := make([]string, 0, len(ea)+len(eb))
	for f := range ea {
		names = append(names, f)
	}
	for f := range eb {
		if _, ok := ea[f]; !ok {
			names = append(names, f)
		}
	}
	slices.Sort(names)
	for _, f := range names {
		a, okA := ea[f]
		b, okB := eb[f]
		switch {
		case okA && !okB:
			return fmt.Sprintf("hash field %q ttl missing on %s", f, rb.s.label), nil
		case !okA && okB:
			return fmt.Sprintf("hash field %q ttl missing on %s", f, ra.s.label), nil
		case a != b:
			now := time.Now().UnixMilli()
			return fmt.Sprintf("hash field %q ttl differs: %s vs %s", f, fmtTTL(a-now, b-now), fmtTTL(b-now, a-now)), nil
		}
	}
	return "", nil
}

// fieldExpiries returns the absolute expiry (ms) of every field with a TTL
// of a hash, read with HSCAN and HPEXPIRETIME in chunks; nil when the key
// is no hash any more or too many fields have a TTL.
func fieldExpiries(ctx context.Context, r *reader, key string) (map[string]int64, error) {
	out := make(map[string]int64)
	var cursor uint64
	for {
		kv, next, err := r.s.c.HScan(ctx, key, cursor, "", chunkElems).Result()
		if changedErr(err) {
			return nil, nil
		} else if err != nil {
			return nil, fmt.Errorf("hscan %q: %w", key, err)
		}
		fields := make([]string, 0, len(kv)/2)
		for i := 0; i+1 < len(kv); i += 2 {
			fields = append(fields, kv[i])
		}
		if len(fields) > 0 {
			l, err := r.s.c.Do(ctx, hpexpiretimeArgs(key, fields)...).Int64Slice()
			if changedErr(err) {
				return nil, nil
			} else if err != nil {
				return nil, fmt.Errorf("hpexpiretime %q: %w", key, err)
			}
			for i, at := range l {
				if at >= 0 && i < len(fields) {
					out[fields[i]] = at
				}
			}
			if len(out) > maxExplainFields {
				return nil, nil
			}
		}
		if next == 0 {
			return out, nil
		}
		cursor = next
	}
}
