package dataset

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math/bits"

	"github.com/redis/go-redis/v9"
)

// Fingerprint identifies the logical content of one database.
type Fingerprint struct {
	Keys int64  // keys hashed (after Exclude)
	Sum  string // hex SHA-256; equal data gives an equal Sum on every server version
}

// Take fingerprints database o.DB of c: the keys that match o.Match (all
// when empty), leaving out keys that match o.Exclude (Method and MaxDiffs
// are ignored). Every key contributes a
// SHA-256 of its name, its value in canonical form (see readValues) and
// whether it has a TTL; the contributions are added modulo 2^256, so the
// order SCAN returns keys in does not matter. TTL values are left out: they
// shrink as time passes.
//
// Take fails on keys of types without a canonical form (module types). It
// reads every value, like Compare's scan method, and holds one batch of
// values at a time.
func Take(ctx context.Context, c *redis.Client, o CompareOptions) (Fingerprint, error) {
	c, done := onDB(c, o.DB)
	defer done()

	var (
		sum  [4]uint64 // 256-bit sum of the per-key hashes, little-endian words
		keys int64
	)
	s := newKeyScanner(c, "scan", o)
	err := s.each(ctx, func(batch []string) error {
		vals, err := readValues(ctx, c, batch)
		if err != nil {
			return err
		}
		for i, v := range vals {
			if v.typ == typeNone {
				continue // deleted while scanning
			}
			if v.enc == nil {
				return fmt.Errorf("key %q: type %s has no canonical form", batch[i], v.typ)
			}
			addHash(&sum, keyHash(batch[i], v))
			keys++
		}
		return nil
	})
	if err != nil {
		return Fingerprint{}, fmt.Errorf("fingerprint: %w", err)
	}

	h := sha256.New()
	h.Write([]byte("understudy dataset fingerprint v1\x00"))
	var buf [8]byte
	binary.BigEndian.PutUint64(buf[:], uint64(keys))
	h.Write(buf[:])
	for _, w := range sum {
		binary.BigEndian.PutUint64(buf[:], w)
		h.Write(buf[:])
	}
	return Fingerprint{Keys: keys, Sum: hex.EncodeToString(h.Sum(nil))}, nil
}

// keyHash hashes one key's name, TTL presence and canonical value.
func keyHash(key string, v keyValue) [sha256.Size]byte {
	var e encoder
	e.str(key)
	if v.pttl >= 0 {
		e = append(e, 1)
	} else {
		e = append(e, 0)
	}
	e = append(e, v.enc...)
	return sha256.Sum256(e)
}

// addHash adds h, read as a little-endian 256-bit number, to sum.
func addHash(sum *[4]uint64, h [sha256.Size]byte) {
	var carry uint64
	for i := range sum {
		sum[i], carry = bits.Add64(sum[i], binary.LittleEndian.Uint64(h[8*i:]), carry)
	}
}
