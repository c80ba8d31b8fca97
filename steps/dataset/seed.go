package dataset

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"

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

// The kinds Seed writes besides the Redis types: HyperLogLogs and bitmaps
// are strings, geo sets are sorted sets; a function library and an ACL user
// are not keys.
const (
	kindHyperLogLog = "hyperloglog"
	kindGeo         = "geo"
	kindBitmap      = "bitmap"
	kindFunction    = "function"
	kindACLUser     = "acl_user"
)

const (
	defaultSeedKeys = 100000
	// SeedPrefix is the prefix of the keys Seed writes by default.
	SeedPrefix = "seed:"
	// seedBatch is the number of commands sent per pipeline.
	seedBatch = 1000
	// seedTTL is the shortest TTL in seconds (EXPIRE) Seed sets; a random
	// part of up to an hour is added so that TTLs differ.
	seedTTL = 86400
	// seedTTLMillis is the shortest TTL in milliseconds (PEXPIRE): 30 h, so
	// that a TTL set in ms is told from one set in seconds by its size.
	seedTTLMillis = 30 * 3600 * 1000
	// seedFieldTTLMillis is the shortest hash field TTL (HPEXPIRE): 12 h.
	seedFieldTTLMillis = 12 * 3600 * 1000
)

// SeedOptions configures Seed. The zero value seeds 100 000 keys named
// "seed:<kind>:<n>" of every kind over the databases 0, 1 and 3, the big
// keys, a function library and an ACL user, with PRNG seed 0.
type SeedOptions struct {
	// Keys is the number of ordinary keys (big keys not counted), spread
	// over the selected key kinds and DBs; default 100000. None are
	// written when Types selects no key kind.
	Keys   int
	Prefix string // default "seed:"
	Seed   int64  // PRNG seed so a run is reproducible
	// DBs are the databases the keys are spread over; nil: DefaultSeedDBs.
	// The first one gets half the keys and the big keys, the others share
	// the rest.
	DBs []int
	// Types is the mix, names from SeedTypes; nil: every one of them.
	// Ordinary keys go to the selected key kinds only; the big hash needs
	// "hash", the big string "string".
	Types []string
	// SkipBigKeys leaves out the big keys (a 1M-field hash, a 10 MB string).
	SkipBigKeys bool
	// Keep, when set, selects the keys written: a key (ordinary or big)
	// for which it returns false is left out, the others are named and
	// counted as without it. Seeding a Redis Cluster master by master,
	// it keeps the keys whose slots the master serves, so that seeding
	// every master with the same options writes each key once.
	Keep func(key string) bool
}

// DefaultSeedDBs are the databases Seed spreads keys over by default.
var DefaultSeedDBs = []int{0, 1, 3}

// SeedTypes names what Seed can write, for SeedOptions.Types: key types
// (Redis TYPE names and the string- and zset-based kinds), a function
// library (7.0+) and an ACL user.
var SeedTypes = []string{"string", "hash", "list", "set", "zset", "stream", "hyperloglog", "geo", "bitmap", "function", "acl_user"}

// seedMix is the share of each key kind in every block of 200 keys; the
// first keys of a block are one of each kind, in this order.
var seedMix = []mixEntry{
	{TypeString, 90}, {TypeHash, 28}, {TypeList, 18}, {TypeSet, 18}, {TypeZSet, 26},
	{TypeStream, 2}, {kindHyperLogLog, 6}, {kindGeo, 6}, {kindBitmap, 6},
}

type mixEntry struct {
	kind   string
	weight int
}

// SeedSummary describes what Seed wrote. Counts of keys are of the ordinary
// keys; the big keys are listed in BigKeys only.
type SeedSummary struct {
	Server  string         // engine and version seeded, e.g. "Redis 7.0.15"
	Keys    int            // ordinary keys written
	ByType  map[string]int // ordinary keys per kind, names from SeedTypes
	ByDB    map[int]int    // ordinary keys per database
	WithTTL int            // keys given a TTL, in seconds or milliseconds
	// WithTTLMillis is how many of WithTTL were set in milliseconds
	// (PEXPIRE, a TTL of 30 to 31 hours); the others have 24 to 25 hours.
	WithTTLMillis int
	// HashFieldTTLs is the number of hash fields given a TTL (HPEXPIRE, 12
	// to 13 hours); 0 on servers without hash field expiration.
	HashFieldTTLs int
	Streams       SeedStreams
	BigKeys       []SeedBigKey
	Functions     []string // functions loaded, "library.function"
	ACLUsers      []string // ACL users created
	// Skipped names what was selected but the server lacks, with the
	// version that has it.
	Skipped []string
	Bytes   int64 // payload bytes sent: key names, fields, members, values, scores
}

// SeedStreams counts what the seeded streams hold.
type SeedStreams struct {
	Streams   int // stream keys
	Entries   int // entries left after XDEL
	Deleted   int // entries removed with XDEL
	Groups    int // consumer groups
	Consumers int // consumers, each with at least one delivered entry
	Pending   int // entries delivered and not acknowledged (the PELs)
	Acked     int // entries delivered and acknowledged
}

// SeedBigKey is one big key.
type SeedBigKey struct {
	Key  string
	DB   int
	Type string // Redis type name
	Len  int    // hash fields or string bytes
}

// Total is the number of keys written: the ordinary and the big ones.
func (s SeedSummary) Total() int { return s.Keys + len(s.BigKeys) }

// String is a one-line account of the seed for a log.
func (s SeedSummary) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d keys", s.Keys)
	var parts []string
	for _, db := range seedSortedDBs(s.ByDB) {
		parts = append(parts, fmt.Sprintf("db%d %d", db, s.ByDB[db]))
	}
	for _, k := range SeedTypes {
		if n := s.ByType[k]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", k, n))
		}
	}
	if len(parts) > 0 {
		fmt.Fprintf(&b, " (%s)", strings.Join(parts, ", "))
	}
	fmt.Fprintf(&b, ", %d with a TTL (%d set in ms)", s.WithTTL, s.WithTTLMillis)
	if s.HashFieldTTLs > 0 {
		fmt.Fprintf(&b, ", %d hash fields with a TTL", s.HashFieldTTLs)
	}
	if st := s.Streams; st.Streams > 0 {
		fmt.Fprintf(&b, ", streams: %d entries (%d deleted), %d groups, %d consumers, %d pending",
			st.Entries, st.Deleted, st.Groups, st.Consumers, st.Pending)
	}
	for _, k := range s.BigKeys {
		unit := "bytes"
		if k.Type == TypeHash {
			unit = "fields"
		}
		fmt.Fprintf(&b, ", big key %s in db%d (%d %s)", k.Key, k.DB, k.Len, unit)
	}
	if len(s.Functions) > 0 {
		fmt.Fprintf(&b, ", functions %s", strings.Join(s.Functions, " "))
	}
	if len(s.ACLUsers) > 0 {
		fmt.Fprintf(&b, ", ACL users %s", strings.Join(s.ACLUsers, " "))
	}
	fmt.Fprintf(&b, ", %.1f MB", float64(s.Bytes)/1e6)
	if len(s.Skipped) > 0 {
		fmt.Fprintf(&b, "; not on %s: %s", s.Server, strings.Join(s.Skipped, ", "))
	}
	return b.String()
}

func seedSortedDBs(m map[int]int) []int {
	ks := make([]int, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// seedPlan is SeedOptions with defaults applied and checked.
type seedPlan struct {
	SeedOptions
	mix   []mixEntry      // selected key kinds
	block int             // sum of the selected weights
	want  map[string]bool // selected names of SeedTypes
}

func newSeedPlan(o SeedOptions) (seedPlan, error) {
	if o.Keys < 0 {
		return seedPlan{}, errors.New("seed: negative key count")
	}
	if o.Keys == 0 {
		o.Keys = defaultSeedKeys
	}
	if o.Prefix == "" {
		o.Prefix = SeedPrefix
	}
	if len(o.DBs) == 0 {
		o.DBs = DefaultSeedDBs
	}
	seen := make(map[int]bool)
	for _, db := range o.DBs {
		if db < 0 || seen[db] {
			return seedPlan{}, fmt.Errorf("seed: databases %v: each must be a distinct number >= 0", o.DBs)
		}
		seen[db] = true
	}
	p := seedPlan{SeedOptions: o, want: make(map[string]bool)}
	if len(o.Types) == 0 {
		o.Types = SeedTypes
	}
	for _, t := range o.Types {
		if !slices.Contains(SeedTypes, t) {
			return seedPlan{}, fmt.Errorf("seed: unknown type %q, want one of %s", t, strings.Join(SeedTypes, ", "))
		}
		p.want[t] = true
	}
	for _, m := range seedMix {
		if p.want[m.kind] {
			p.mix = append(p.mix, m)
			p.block += m.weight
		}
	}
	return p, nil
}

// keeps reports whether the key is written (SeedOptions.Keep).
func (p seedPlan) keeps(key string) bool { return p.Keep == nil || p.Keep(key) }

// kindOf returns the kind of the i-th key. In every block of keys (200 with
// every kind) the first keys are one of each kind, then each kind follows
// in one run for the rest of its weight.
func (p seedPlan) kindOf(i int) string {
	n := i % p.block
	if n < len(p.mix) {
		return p.mix[n].kind
	}
	n -= len(p.mix)
	for _, m := range p.mix {
		if n < m.weight-1 {
			return m.kind
		}
		n -= m.weight - 1
	}
	panic("unreachable")
}

// dbOf returns the database of the i-th key: the first of p.DBs gets two
// shares, the others one. The rotation shifts by one with every block of
// kinds, so that each kind lands in every database.
func (p seedPlan) dbOf(i int) int {
	shares := len(p.DBs) + 1
	j := (i + i/p.block) % shares
	if j > 0 {
		j--
	}
	return p.DBs[j]
}

// Seed writes production-like data: o.Keys ordinary keys of every selected
// kind spread over o.DBs, some with TTLs; big keys; a function library and
// an ACL user, each where the server has it (see the package doc). Key
// names depend on o.Prefix, o.Keys, o.DBs and o.Types only, content on
// o.Seed and the keys o.Keep leaves out: keys other than strings are deleted (UNLINK) before they are
// written, the library is loaded with REPLACE and the user reset, so
// seeding again with the same options gives the same data.
//
// Commands go in pipelined batches of 1 000 per database, over a
// short-lived client per database other than c's, each batch sent while
// the next is generated; big keys are written in pieces, so that no single
// command holds the server long.
func Seed(ctx context.Context, c *redis.Client, o SeedOptions) (SeedSummary, error) {
	p, err := newSeedPlan(o)
	if err != nil {
		return SeedSummary{}, err
	}
	srv, err := probeServer(ctx, c)
	if err != nil {
		return SeedSummary{}, fmt.Errorf("seed: %w", err)
	}
	sum := SeedSummary{Server: srv.String(), ByType: make(map[string]int), ByDB: make(map[int]int)}
	w := newDBWriter(ctx, c)
	defer w.close()

	g := &generator{
		rng: rand.New(rand.NewPCG(uint64(p.Seed), 0x756e64657273)),
		sum: &sum,
		srv: srv,
		nth: make(map[string]int),
	}
	if len(p.mix) > 0 {
		for i := 0; i < p.Keys; i++ {
			kind, db := p.kindOf(i), p.dbOf(i)
			key := p.Prefix + kind + ":" + strconv.Itoa(i)
			if !p.keeps(key) {
				continue
			}
			pipe := w.pipe(db)
			g.write(ctx, pipe, kind, key)
			sum.ByDB[db]++
			if pipe.Len() >= seedBatch {
				if err := w.send(db); err != nil {
					return sum, fmt.Errorf("seed: %w", err)
				}
			}
		}
	}
	if !p.SkipBigKeys {
		if err := seedBigKeys(ctx, w, p, &sum); err != nil {
			return sum, fmt.Errorf("seed: %w", err)
		}
	}
	if err := w.wait(); err != nil {
		return sum, fmt.Errorf("seed: %w", err)
	}
	if err := seedServerObjects(ctx, c, p, srv, &sum); err != nil {
		return sum, fmt.Errorf("seed: %w", err)
	}
	if p.want[TypeHash] && !srv.hashFieldTTL {
		sum.Skipped = append(sum.Skipped, "hash field TTLs (Redis 7.4+, Valkey 9.0+)")
	}
	return sum, nil
}

// generator draws seeded content from one PRNG, so that content depends only
// on the order of calls. Draws never depend on the server version: what a
// server lacks is drawn and not sent.
type generator struct {
	rng *rand.Rand
	sum *SeedSummary
	srv serverCaps
	nth map[string]int // keys written so far per kind
}

// write queues the commands that create key of kind kind.
func (g *generator) write(ctx context.Context, pipe redis.Pipeliner, kind, key string) {
	first := g.nth[kind] == 0
	g.nth[kind]++
	g.sum.Keys++
	g.sum.ByType[kind]++
	g.sum.Bytes += int64(len(key))
	if kind != TypeString {
		pipe.Unlink(ctx, key)
	}
	switch kind {
	case TypeString:
		pipe.Set(ctx, key, g.stringValue(), 0)
	case TypeHash:
		g.hash(ctx, pipe, key, first)
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
		args := make([]interface{}, 0, 2+2*n)
		args = append(args, "ZADD", key)
		for i := 0; i < n; i++ {
			m := g.count("m" + strconv.Itoa(i) + ":" + g.text(0, 16))
			g.sum.Bytes += 8
			args = append(args, formatScore(g.score()), m)
		}
		pipe.Do(ctx, args...)
	case TypeStream:
		g.stream(ctx, pipe, key, first)
	case kindHyperLogLog:
		n := 1 + g.rng.IntN(200)
		if g.rng.IntN(50) == 0 {
			n = 2000 + g.rng.IntN(2000) // dense encoding
		}
		args := make([]interface{}, 0, 2+n)
		args = append(args, "PFADD", key)
		for i := 0; i < n; i++ {
			args = append(args, g.count("u"+strconv.Itoa(g.rng.IntN(10000000))))
		}
		pipe.Do(ctx, args...)
	case kindGeo:
		n := 1 + g.rng.IntN(16)
		args := make([]interface{}, 0, 2+3*n)
		args = append(args, "GEOADD", key)
		for i := 0; i < n; i++ {
			lon := -180 + 360*g.rng.Float64()
			lat := -85 + 170*g.rng.Float64()
			g.sum.Bytes += 16
			args = append(args, strconv.FormatFloat(lon, 'f', 6, 64), strconv.FormatFloat(lat, 'f', 6, 64),
				g.count("place:"+strconv.Itoa(i)+":"+g.text(1, 12)))
		}
		pipe.Do(ctx, args...)
	case kindBitmap:
		bits := 1 << 13 // 1 KB
		if g.rng.IntN(20) == 0 {
			bits = 1 << 18 // 32 KB
		}
		for i, n := 0, 1+g.rng.IntN(32); i < n; i++ {
			g.sum.Bytes += 8
			pipe.SetBit(ctx, key, int64(g.rng.IntN(bits)), 1)
		}
	}
	g.ttl(ctx, pipe, key)
}

// ttl gives a tenth of the keys a TTL: half in seconds (24 to 25 hours),
// half in milliseconds (30 to 31 hours, never a whole second).
func (g *generator) ttl(ctx context.Context, pipe redis.Pipeliner, key string) {
	switch g.rng.IntN(20) {
	case 0:
		g.sum.WithTTL++
		pipe.Do(ctx, "EXPIRE", key, seedTTL+g.rng.IntN(3600))
	case 1:
		g.sum.WithTTL++
		g.sum.WithTTLMillis++
		pipe.Do(ctx, "PEXPIRE", key, g.millis(seedTTLMillis))
	}
}

// millis returns base plus up to an hour, never a whole second.
func (g *generator) millis(base int) int {
	return base + 1000*g.rng.IntN(3600) + 1 + g.rng.IntN(999)
}

// hash writes a hash; a tenth of the hashes (and the first) get a TTL on
// one to three fields where the server has hash field expiration.
func (g *generator) hash(ctx context.Context, pipe redis.Pipeliner, key string, first bool) {
	n := g.size()
	args := make([]interface{}, 0, 2+2*n)
	args = append(args, "HSET", key)
	for i := 0; i < n; i++ {
		v := g.text(1, 32)
		if g.rng.IntN(20) == 0 {
			v = g.text(65, 128) // longer than a listpack value may be
		}
		args = append(args, g.count("f"+strconv.Itoa(i)), g.count(v))
	}
	pipe.Do(ctx, args...)
	if g.rng.IntN(10) != 0 && !first {
		return
	}
	k := 1 + g.rng.IntN(min(n, 3))
	at := g.rng.IntN(n)
	ms := g.millis(seedFieldTTLMillis)
	if !g.srv.hashFieldTTL {
		return
	}
	exp := []interface{}{"HPEXPIRE", key, ms, "FIELDS", k}
	for j := 0; j < k; j++ {
		exp = append(exp, "f"+strconv.Itoa((at+j)%n))
	}
	g.sum.HashFieldTTLs += k
	pipe.Do(ctx, exp...)
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

// score returns a sorted set score: half integers, half not (quarters such
// as -2.25, tenths such as 0.1, thousandths such as 0.001, and numbers from
// 1e-12 to 1e12 with four significant digits).
func (g *generator) score() float64 {
	switch g.rng.IntN(8) {
	case 4:
		return float64(g.rng.IntN(4001)-2000) / 4
	case 5:
		return float64(g.rng.IntN(20001)-10000) / 10
	case 6:
		return float64(g.rng.IntN(2001)-1000) / 1000
	case 7:
		m := float64(1000+g.rng.IntN(9000)) / 1000
		if g.rng.IntN(2) == 0 {
			m = -m
		}
		return m * math.Pow10(g.rng.IntN(25)-12)
	default:
		return float64(g.rng.IntN(2000001) - 1000000)
	}
}

// formatScore writes a score the way go-redis does: the shortest decimal
// that reads back as the same float64.
func formatScore(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

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
	return randText(g.rng, lo, hi)
}

func randText(rng *rand.Rand, lo, hi int) string {
	b := make([]byte, lo+rng.IntN(hi-lo+1))
	for i := range b {
		b[i] = alphabet[rng.IntN(len(alphabet))]
	}
	return string(b)
}

// count adds len(s) to the summary's byte count and returns s.
func (g *generator) count(s string) string {
	g.sum.Bytes += int64(len(s))
	return s
}
