package dataset

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"

	"github.com/redis/go-redis/v9"
)

// Redis type names, as TYPE answers them.
const (
	TypeString = "string"
	TypeHash   = "hash"
	TypeList   = "list"
	TypeSet    = "set"
	TypeZSet   = "zset"
	TypeStream = "stream"
)

const (
	defaultSeedKeys = 100000
	// SeedPrefix is the prefix of the keys Seed writes by default.
	SeedPrefix = "seed:"
	// seedBatch is the number of commands sent per pipeline.
	seedBatch = 1000
	// seedTTL is the shortest TTL Seed sets; a random part of up to an hour
	// is added so that TTLs differ.
	seedTTL = 86400
)

// SeedOptions configures Seed. The zero value seeds 100 000 keys named
// "seed:<type>:<n>" in database 0 with PRNG seed 0.
type SeedOptions struct {
	Keys   int    // total keys, default 100000
	Prefix string // default "seed:"
	DB     int    // default 0
	Seed   int64  // PRNG seed so a run is reproducible
}

// SeedSummary describes what Seed wrote.
type SeedSummary struct {
	Keys    int            // keys written
	ByType  map[string]int // keys per Redis type name
	WithTTL int            // keys given a TTL
	Bytes   int64          // payload bytes sent: key names, fields, members and values
}

// Seed writes o.Keys keys of every common type into database o.DB, pipelined
// in batches of 1 000 commands. Key names depend on o.Prefix and o.Keys only,
// content on o.Seed only: collections are deleted before they are written,
// so seeding again with the same options gives the same data.
//
// If o.DB is not the database c is configured for, Seed uses a short-lived
// client with c's options and o.DB.
func Seed(ctx context.Context, c *redis.Client, o SeedOptions) (SeedSummary, error) {
	if o.Keys < 0 {
		return SeedSummary{}, errors.New("seed: negative key count")
	}
	if o.Keys == 0 {
		o.Keys = defaultSeedKeys
	}
	if o.Prefix == "" {
		o.Prefix = SeedPrefix
	}
	c, done := onDB(c, o.DB)
	defer done()

	g := &generator{
		rng: rand.New(rand.NewPCG(uint64(o.Seed), 0x756e64657273)),
		sum: SeedSummary{ByType: make(map[string]int)},
	}
	pipe := c.Pipeline()
	for i := 0; i < o.Keys; i++ {
		typ := seedType(i)
		key := o.Prefix + typ + ":" + strconv.Itoa(i)
		g.write(ctx, pipe, typ, key)
		if pipe.Len() >= seedBatch || i == o.Keys-1 {
			if _, err := pipe.Exec(ctx); err != nil {
				return g.sum, fmt.Errorf("seed: write batch ending at %q: %w", key, err)
			}
		}
	}
	return g.sum, nil
}

// seedType returns the type of the i-th seeded key. The first six keys
// cover every type; after that, in every 200 keys, 100 are strings, 30
// hashes, 20 lists, 20 sets, 29 sorted sets and one a stream.
func seedType(i int) string {
	switch n := i % 200; {
	case n < 6:
		return [...]string{TypeString, TypeHash, TypeList, TypeSet, TypeZSet, TypeStream}[n]
	case n < 105:
		return TypeString
	case n < 134:
		return TypeHash
	case n < 153:
		return TypeList
	case n < 172:
		return TypeSet
	default:
		return TypeZSet
	}
}

// generator draws seeded content from one PRNG, so that content depends only
// on the order of calls.
type generator struct {
	rng *rand.Rand
	sum SeedSummary
}

// write queues the commands that create key with type typ.
func (g *generator) write(ctx context.Context, pipe redis.Pipeliner, typ, key string) {
	g.sum.Keys++
	g.sum.ByType[typ]++
	g.sum.Bytes += int64(len(key))
	if typ != TypeString {
		pipe.Del(ctx, key)
	}
	switch typ {
	case TypeString:
		pipe.Set(ctx, key, g.stringValue(), 0)
	case TypeHash:
		n := g.size()
		args := make([]interface{}, 0, 2*n)
		for i := 0; i < n; i++ {
			v := g.text(1, 32)
			if g.rng.IntN(20) == 0 {
				v = g.text(65, 128) // longer than a listpack value may be
			}
			args = append(args, g.count("f"+strconv.Itoa(i)), g.count(v))
		}
		pipe.HSet(ctx, key, args...)
	case TypeList:
		n := g.size()
		args := make([]interface{}, 0, n)
		for i := 0; i < n; i++ {
			args = append(args, g.count(g.member()))
		}
		pipe.RPush(ctx, key, args...)
	case TypeSet:
		n := g.size()
		ints := g.rng.IntN(2) == 0 // intset encoding
		args := make([]interface{}, 0, n)
		for i := 0; i < n; i++ {
			m := strconv.Itoa(g.rng.IntN(1000000))
			if !ints {
				m = g.text(1, 24)
			}
			args = append(args, g.count(m))
		}
		pipe.SAdd(ctx, key, args...)
	case TypeZSet:
		n := g.size()
		zs := make([]redis.Z, n)
		for i := range zs {
			// Integer scores only: DEBUG DIGEST of non-integer scores
			// differs between 7.0 and 7.2+.
			score := float64(g.rng.IntN(2000001) - 1000000)
			m := g.count("m" + strconv.Itoa(i) + ":" + g.text(0, 16))
			g.sum.Bytes += 8
			zs[i] = redis.Z{Score: score, Member: m}
		}
		pipe.ZAdd(ctx, key, zs...)
	case TypeStream:
		// Explicit IDs keep the content reproducible.
		ms := 1700000000000 + int64(g.rng.IntN(1000000))
		for e, n := 0, 1+g.rng.IntN(20); e < n; e++ {
			args := []interface{}{"XADD", key, strconv.FormatInt(ms+int64(e), 10) + "-" + strconv.Itoa(g.rng.IntN(3))}
			for f, nf := 0, 1+g.rng.IntN(3); f < nf; f++ {
				args = append(args, g.count("f"+strconv.Itoa(f)), g.count(g.text(1, 32)))
			}
			pipe.Do(ctx, args...)
		}
	}
	if g.rng.IntN(10) == 0 {
		g.sum.WithTTL++
		pipe.Do(ctx, "EXPIRE", key, seedTTL+g.rng.IntN(3600))
	}
}

// stringValue returns an integer, a text or a binary value, now and then a
// long one.
func (g *generator) stringValue() string {
	switch g.rng.IntN(3) {
	case 0:
		return g.count(strconv.FormatInt(g.rng.Int64N(1<<40)-1<<39, 10))
	case 1:
		if g.rng.IntN(100) == 0 {
			return g.count(g.text(1024, 4096))
		}
		return g.count(g.text(1, 64))
	default:
		b := make([]byte, 1+g.rng.IntN(64))
		for i := range b {
			b[i] = byte(g.rng.UintN(256))
		}
		return g.count(string(b))
	}
}

// size returns a collection size: mostly 1 to 16, now and then more than
// the 128 entries a listpack (ziplist on 6.0) may hold.
func (g *generator) size() int {
	if g.rng.IntN(50) == 0 {
		return 129 + g.rng.IntN(200)
	}
	return 1 + g.rng.IntN(16)
}

// member returns a list element: text or an integer.
func (g *generator) member() string {
	if g.rng.IntN(4) == 0 {
		return strconv.Itoa(g.rng.IntN(1 << 20))
	}
	return g.text(1, 24)
}

const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 -_:."

// text returns printable text of lo to hi bytes.
func (g *generator) text(lo, hi int) string {
	b := make([]byte, lo+g.rng.IntN(hi-lo+1))
	for i := range b {
		b[i] = alphabet[g.rng.IntN(len(alphabet))]
	}
	return string(b)
}

// count adds len(s) to the summary's byte count and returns s.
func (g *generator) count(s string) string {
	g.sum.Bytes += int64(len(s))
	return s
}
