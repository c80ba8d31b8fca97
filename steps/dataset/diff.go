package dataset

import (
	"fmt"
	"time"
)

// ttlSlack is added to the TTL tolerance derived from how long the reads
// took: a millisecond of PTTL rounding on each side, and the time a replica
// of a 6.0 master takes to apply an EXPIRE, which 6.0 propagates as a
// relative TTL.
const ttlSlack = 10 // ms

// ttlTolerance is how far the absolute expiries of a key on two sides may
// be apart, in ms.
func ttlTolerance(a, b *keyRec) int64 { return a.slack + b.slack + ttlSlack }

// recordDiff returns why the records of one key on sides la and lb differ,
// or "" when they are equal: presence and type, value, TTL, hash field
// TTLs (when both sides read them), stream metadata. Only the first
// difference is named.
func recordDiff(a, b *keyRec, la, lb string) string {
	switch {
	case a.typ == typeChanged:
		return typeChanged + " on " + la
	case b.typ == typeChanged:
		return typeChanged + " on " + lb
	case a.typ == b.typ:
	case b.typ == typeNone:
		return "missing on " + lb
	case a.typ == typeNone:
		return "missing on " + la
	default:
		return fmt.Sprintf("type %s vs %s", a.typ, b.typ)
	}
	if a.typ == typeNone {
		return ""
	}
	if !readable(a.typ) {
		return fmt.Sprintf("type %s not comparable", a.typ)
	}
	if a.value != b.value {
		return "value differs"
	}
	if r := ttlDiff(a, b, la, lb); r != "" {
		return r
	}
	if a.fields != nil && b.fields != nil && *a.fields != *b.fields {
		return fmt.Sprintf("hash field ttls differ (%d vs %d fields with a ttl)", a.fields.n, b.fields.n)
	}
	return streamDiff(a.stream, b.stream, la, lb)
}

// ttlDiff returns why the TTLs of a key on two sides differ, or "".
// Absolute expiries are compared, within ttlTolerance. Remaining TTLs are
// shown as of b's read.
func ttlDiff(a, b *keyRec, la, lb string) string {
	switch {
	case a.expireAt >= 0 && b.expireAt < 0:
		return "ttl missing on " + lb
	case a.expireAt < 0 && b.expireAt >= 0:
		return "ttl missing on " + la
	case a.expireAt >= 0 && abs(a.expireAt-b.expireAt) > ttlTolerance(a, b):
		ra, rb := a.expireAt-b.readAt, b.expireAt-b.readAt
		return fmt.Sprintf("ttl differs: %s vs %s", fmtTTL(ra, rb), fmtTTL(rb, ra))
	}
	return ""
}

// fmtTTL formats a remaining TTL in ms: to the second when both TTLs are
// ten seconds or more and seconds apart, else to the millisecond.
func fmtTTL(ms, other int64) string {
	round := time.Millisecond
	if ms >= 10000 && other >= 10000 && abs(ms-other) >= 2000 {
		round = time.Second
	}
	return duration(ms, round)
}

func abs(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}
