package dataset

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"math/bits"
	"strconv"
)

// A value is reduced to a 128-bit digest that is the same for equal logical
// content on every server version and protocol, and whether the value was
// read whole or in chunks:
//
//   - strings, lists and stream entries are hashed in order (SHA-256 over
//     length-prefixed elements, the element count last);
//   - set members, hash fields and sorted set members are hashed one by one
//     and the element hashes added modulo 2^256, so their order does not
//     matter; sorted set scores are formatted from their float64 value.
//
// Every digest starts from the type name, so a list and a set of the same
// elements differ.

// digest is a 128-bit hash of a value or of metadata.
type digest [16]byte

func (d digest) String() string { return hex.EncodeToString(d[:]) }

// partHasher hashes a few length-prefixed parts at a time, reusing a buffer.
type partHasher struct{ buf []byte }

func (p *partHasher) start() { p.buf = p.buf[:0] }

func (p *partHasher) add(s string) {
	p.buf = binary.AppendUvarint(p.buf, uint64(len(s)))
	p.buf = append(p.buf, s...)
}

func (p *partHasher) sum() [sha256.Size]byte { return sha256.Sum256(p.buf) }

// setSum is an order-independent hash of distinct elements: the sum of
// their SHA-256 hashes modulo 2^256, and their number.
type setSum struct {
	sum [4]uint64
	n   int64
	ph  partHasher
}

// add1 adds an element made of one part (a set member).
func (s *setSum) add1(a string) {
	s.ph.start()
	s.ph.add(a)
	s.addHash(s.ph.sum())
}

// add2 adds an element made of two parts (a hash field and its value, a
// sorted set member and its score).
func (s *setSum) add2(a, b string) {
	s.ph.start()
	s.ph.add(a)
	s.ph.add(b)
	s.addHash(s.ph.sum())
}

func (s *setSum) addHash(h [sha256.Size]byte) {
	var carry uint64
	for i := range s.sum {
		s.sum[i], carry = bits.Add64(s.sum[i], binary.LittleEndian.Uint64(h[8*i:]), carry)
	}
	s.n++
}

// digest returns the digest of a value of type typ made of the elements
// added.
func (s *setSum) digest(typ string) digest {
	var b [32]byte
	for i, w := range s.sum {
		binary.LittleEndian.PutUint64(b[8*i:], w)
	}
	return finish(typ, s.n, b[:])
}

// seqHash hashes elements in order.
type seqHash struct {
	h   hash.Hash
	n   int64
	buf []byte
}

func newSeqHash() *seqHash { return &seqHash{h: sha256.New()} }

// part writes one length-prefixed part without counting an element.
func (s *seqHash) part(p string) {
	s.buf = binary.AppendUvarint(s.buf[:0], uint64(len(p)))
	s.buf = append(s.buf, p...)
	s.h.Write(s.buf)
}

// elem writes one element of one part and counts it.
func (s *seqHash) elem(p string) {
	s.part(p)
	s.n++
}

// raw writes bytes as they are (string chunks); n counts bytes.
func (s *seqHash) raw(b []byte) {
	s.h.Write(b)
	s.n += int64(len(b))
}

func (s *seqHash) digest(typ string) digest { return finish(typ, s.n, s.h.Sum(nil)) }

// finish hashes a type name, an element count and a body into a digest.
func finish(typ string, n int64, body []byte) digest {
	h := sha256.New()
	var buf [binary.MaxVarintLen64]byte
	h.Write(binary.AppendUvarint(buf[:0], uint64(len(typ))))
	h.Write([]byte(typ))
	h.Write(binary.AppendUvarint(buf[:0], uint64(n)))
	h.Write(body)
	var d digest
	copy(d[:], h.Sum(nil))
	return d
}

// stringHasher hashes a string value, whole or in chunks from offset 0 on.
type stringHasher struct{ seqHash }

func newStringHasher() *stringHasher { return &stringHasher{seqHash{h: sha256.New()}} }

// write adds the next chunk of the value. The cached cardinality of a
// HyperLogLog (bytes 8 to 15 of its header, which PFCOUNT rewrites) is left
// out: it is derived from the registers, which are compared.
func (s *stringHasher) write(chunk string) {
	b := []byte(chunk)
	if s.n == 0 && isHLL(b) {
		b = append([]byte(nil), b...)
		clear(b[8:16])
	}
	s.raw(b)
}

func (s *stringHasher) digest() digest { return s.seqHash.digest(TypeString) }

// isHLL reports whether b starts with a HyperLogLog header: "HYLL", the
// encoding (0 dense, 1 sparse), three unused bytes and the cached
// cardinality.
func isHLL(b []byte) bool {
	return len(b) >= 16 && string(b[:4]) == "HYLL" && b[4] <= 1 && b[5] == 0 && b[6] == 0 && b[7] == 0
}

// stringDigest is the digest of a string value read whole.
func stringDigest(v string) digest {
	h := newStringHasher()
	h.write(v)
	return h.digest()
}

// listDigest is the digest of a list read whole.
func listDigest(items []string) digest {
	h := newSeqHash()
	for _, s := range items {
		h.elem(s)
	}
	return h.digest(TypeList)
}

// setDigest is the digest of a set read whole.
func setDigest(members []string) digest {
	var s setSum
	for _, m := range members {
		s.add1(m)
	}
	return s.digest(TypeSet)
}

// hashDigest is the digest of a hash read whole.
func hashDigest(m map[string]string) digest {
	var s setSum
	for f, v := range m {
		s.add2(f, v)
	}
	return s.digest(TypeHash)
}

// zsetAdd adds a sorted set member to s.
func zsetAdd(s *setSum, member string, score float64) {
	s.add2(member, canonicalScore(score))
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

// streamAdd adds entries, in ID order, to the hash of a stream.
func streamAdd(h *seqHash, entries []streamEntry) {
	for _, x := range entries {
		h.part(x.id)
		h.part(strconv.Itoa(len(x.fields)))
		for _, f := range x.fields {
			h.part(f)
		}
		h.n++
	}
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
