package dataset

import (
	"cmp"
	"context"
	"crypto/sha256"
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	rv "github.com/understudy/understudy/steps/redis"
	"github.com/understudy/understudy/steps/rehearsal/container"
)

// seedVersion is a server version the seed tests run against, with what
// the seed must find on it beyond Redis 6.0.
type seedVersion struct {
	version      string // "7.0" runs the host's redis-server, others a local image
	functions    bool   // FUNCTION (7.0+, Valkey)
	hashFieldTTL bool   // HPEXPIRE (Redis 7.4+, Valkey 9.0+)
	aclChannels  bool   // &pattern (6.2+)
}

var seedVersions = []seedVersion{
	{version: "6.0"},
	{version: "7.0", functions: true, aclChannels: true},
	{version: "8.0", functions: true, hashFieldTTL: true, aclChannels: true},
	{version: "valkey:8.1", functions: true, aclChannels: true},
}

// seedServer starts a server of version v: the host's redis-server for
// "7.0" (internal/redistest), a container of the local image otherwise.
func seedServer(t *testing.T, v string) *redis.Client {
	t.Helper()
	if v == "7.0" {
		_, c := server(t)
		return c
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	n, err := container.Run(ctx, "seed", rv.MustParseVersion(v),
		container.WithSession("test-"+container.NewSessionID()),
		container.WithCatalog(container.Catalog{Source: container.SourceLocal}))
	if err != nil {
		t.Fatalf("start %s: %v", v, err)
	}
	t.Cleanup(func() {
		if err := n.Terminate(context.Background()); err != nil {
			t.Errorf("terminate %s: %v", v, err)
		}
	})
	c := n.Client()
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// TestSeedVersions seeds every version and finds each type and feature
// with the counts the summary gives, the version-gated ones exactly where
// the server has them. Seeding again with another PRNG seed changes the
// data, with the first seed again restores it, and every version holds the
// same keys and values.
func TestSeedVersions(t *testing.T) {
	ctx := context.Background()
	opts := SeedOptions{Keys: 2000, Seed: 1, SkipBigKeys: true}
	contents := make(map[string]map[int]string)
	for _, v := range seedVersions {
		t.Run(v.version, func(t *testing.T) {
			c := seedServer(t, v.version)
			start := time.Now()
			sum, err := Seed(ctx, c, opts)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("seeded in %v: %s", time.Since(start).Round(time.Millisecond), sum)
			// Before checkSeed: its PFCOUNTs write the cached cardinality
			// into the HyperLogLogs.
			first := takeSeedState(t, c, opts.DBs)
			checkSeed(t, c, v, opts, sum)

			contents[v.version] = first.contents
			other := opts
			other.Seed = 2
			if _, err := Seed(ctx, c, other); err != nil {
				t.Fatal(err)
			}
			changed := takeSeedState(t, c, opts.DBs)
			for _, db := range DefaultSeedDBs {
				if changed.contents[db] == first.contents[db] {
					t.Errorf("db %d: seeds 1 and 2 gave the same content %s", db, first.contents[db])
				}
			}
			if changed.acl == first.acl {
				t.Errorf("seeds 1 and 2 gave the same ACL user %q", first.acl)
			}
			if _, err := Seed(ctx, c, opts); err != nil {
				t.Fatal(err)
			}
			again := takeSeedState(t, c, opts.DBs)
			first.equal(t, again)
		})
	}
	// Same options, same data on every version (the content digests leave
	// out hash field TTLs and stream groups, which the versions differ in).
	ref, ok := contents["7.0"]
	for v, f := range contents {
		if !ok {
			break
		}
		if !maps.Equal(f, ref) {
			t.Errorf("%s: content %v, 7.0 has %v", v, f, ref)
		}
	}
}

// seedSeen is what a seeded server holds, read key by key.
type seedSeen struct {
	byType        map[string]int
	byDB          map[int]int
	withTTL       int
	ttlMillis     int
	hashFieldTTLs int
	nonIntScores  int
	streams       SeedStreams
}

// checkSeed reads every key of the seeded databases and compares with sum
// and with what version v offers.
func checkSeed(t *testing.T, c *redis.Client, v seedVersion, o SeedOptions, sum SeedSummary) {
	t.Helper()
	dbs := o.DBs
	if dbs == nil {
		dbs = DefaultSeedDBs
	}
	if sum.Keys != o.Keys {
		t.Errorf("summary: %d keys, want %d", sum.Keys, o.Keys)
	}
	seen := seedSeen{byType: make(map[string]int), byDB: make(map[int]int)}
	w := newDBWriter(context.Background(), c)
	defer w.close()
	for _, db := range dbs {
		seen.readDB(t, w.client(db), db, v)
	}

	// Keys per type and per database, every database used and no other.
	if !maps.Equal(seen.byType, sum.ByType) {
		t.Errorf("keys by type: %v on the server, %v in the summary", seen.byType, sum.ByType)
	}
	for _, m := range seedMix {
		if seen.byType[m.kind] == 0 {
			t.Errorf("no key of kind %s", m.kind)
		}
	}
	if !maps.Equal(seen.byDB, sum.ByDB) {
		t.Errorf("keys by db: %v on the server, %v in the summary", seen.byDB, sum.ByDB)
	}
	ks := info(t, c, "keyspace")
	expires := 0
	for _, db := range dbs {
		if seen.byDB[db] == 0 {
			t.Errorf("db %d holds no seeded key", db)
		}
		k := rv.ParseKeyspace(ks["db"+strconv.Itoa(db)])
		expires += int(k.Expires)
	}
	for f := range ks {
		if n, err := strconv.Atoi(strings.TrimPrefix(f, "db")); err == nil && !slices.Contains(dbs, n) {
			t.Errorf("INFO keyspace has %s: %s, want only %v", f, ks[f], dbs)
		}
	}
	if d := seen.byDB[dbs[0]]; len(dbs) > 1 && (d < sum.Keys*2/5 || d > sum.Keys*3/5) {
		t.Errorf("db %d holds %d of %d keys, want about half", dbs[0], d, sum.Keys)
	}

	// TTLs in seconds and in milliseconds.
	if seen.withTTL != sum.WithTTL || seen.ttlMillis != sum.WithTTLMillis || expires != sum.WithTTL {
		t.Errorf("TTLs: %d keys (%d in ms) on the server, INFO expires %d, summary %d (%d in ms)",
			seen.withTTL, seen.ttlMillis, expires, sum.WithTTL, sum.WithTTLMillis)
	}
	if seen.ttlMillis == 0 || seen.withTTL-seen.ttlMillis == 0 {
		t.Errorf("TTLs: %d in s and %d in ms, want both", seen.withTTL-seen.ttlMillis, seen.ttlMillis)
	}
	if lo, hi := sum.Keys/20, sum.Keys/6; seen.withTTL < lo || seen.withTTL > hi {
		t.Errorf("%d keys with a TTL, want about a tenth of %d", seen.withTTL, sum.Keys)
	}

	// Sorted sets with non-integer scores.
	if seen.nonIntScores == 0 {
		t.Error("no sorted set member with a non-integer score")
	}

	// Hash field TTLs where the server has them.
	if seen.hashFieldTTLs != sum.HashFieldTTLs {
		t.Errorf("hash fields with a TTL: %d on the server, %d in the summary", seen.hashFieldTTLs, sum.HashFieldTTLs)
	}
	if v.hashFieldTTL != (sum.HashFieldTTLs > 0) {
		t.Errorf("%d hash fields with a TTL on %s, want some: %v", sum.HashFieldTTLs, v.version, v.hashFieldTTL)
	}
	if skipped := strings.Join(sum.Skipped, "; "); v.hashFieldTTL == strings.Contains(skipped, "hash field TTL") ||
		v.functions == strings.Contains(skipped, "functions") || v.aclChannels == strings.Contains(skipped, "channel") {
		t.Errorf("Skipped = %q on %s", skipped, v.version)
	}

	// Streams: groups, consumers and pending entries as written. XINFO
	// STREAM counts deleted entries from 7.0 only (entries-added).
	st := sum.Streams
	if seen.streams.Streams != st.Streams || seen.streams.Entries != st.Entries || seen.streams.Groups != st.Groups ||
		seen.streams.Consumers != st.Consumers || seen.streams.Pending != st.Pending ||
		(v.version != "6.0" && seen.streams.Deleted != st.Deleted) {
		t.Errorf("streams on the server %+v, summary %+v", seen.streams, st)
	}
	if st.Deleted == 0 || st.Groups == 0 || st.Consumers == 0 || st.Pending == 0 || st.Acked == 0 {
		t.Errorf("streams %+v: want deleted entries, groups, consumers, pending and acknowledged entries", st)
	}

	checkFunctions(t, c, v, sum)
	checkACLUser(t, c, v, o, sum)
}

// readDB reads every key of one database.
func (s *seedSeen) readDB(t *testing.T, c *redis.Client, db int, v seedVersion) {
	t.Helper()
	ctx := context.Background()
	keys := sortedKeys(t, c)
	wantType := map[string]string{kindHyperLogLog: TypeString, kindBitmap: TypeString, kindGeo: TypeZSet}
	for _, key := range keys {
		parts := strings.Split(key, ":")
		if len(parts) != 3 || parts[0] != "seed" {
			t.Errorf("db %d: unexpected key %q", db, key)
			continue
		}
		kind := parts[1]
		s.byType[kind]++
		s.byDB[db]++
		typ := c.Type(ctx, key).Val()
		if want := cmp.Or(wantType[kind], kind); typ != want {
			t.Errorf("%s: type %s, want %s", key, typ, want)
		}
		pttl := time.Duration(c.PTTL(ctx, key).Val())
		switch {
		case pttl < 0:
		case pttl > 30*time.Hour-time.Minute && pttl <= 31*time.Hour:
			s.withTTL++
			s.ttlMillis++
		case pttl > 24*time.Hour-time.Minute && pttl <= 25*time.Hour:
			s.withTTL++
		default:
			t.Errorf("%s: TTL %v, want 24 to 25 h (s) or 30 to 31 h (ms)", key, pttl)
		}
		switch kind {
		case kindHyperLogLog:
			if n := c.PFCount(ctx, key).Val(); n == 0 {
				t.Errorf("%s: PFCOUNT 0", key)
			}
		case kindBitmap:
			if n := c.BitCount(ctx, key, nil).Val(); n == 0 {
				t.Errorf("%s: BITCOUNT 0", key)
			}
		case kindGeo:
			m := c.ZRange(ctx, key, 0, 0).Val()
			if pos := c.GeoPos(ctx, key, m...).Val(); len(pos) != 1 || pos[0] == nil {
				t.Errorf("%s: GEOPOS %v", key, pos)
			}
		case TypeZSet:
			for _, z := range c.ZRangeWithScores(ctx, key, 0, -1).Val() {
				if z.Score != math.Trunc(z.Score) {
					s.nonIntScores++
				}
			}
		case TypeHash:
			if !v.hashFieldTTL {
				continue
			}
			fields := c.HKeys(ctx, key).Val()
			ttls, err := c.HPTTL(ctx, key, fields...).Result()
			if err != nil {
				t.Fatalf("HPTTL %s: %v", key, err)
			}
			for _, ms := range ttls {
				if d := time.Duration(ms) * time.Millisecond; d > 0 {
					s.hashFieldTTLs++
					if d < 12*time.Hour-time.Minute || d > 13*time.Hour {
						t.Errorf("%s: field TTL %v, want 12 to 13 h", key, d)
					}
				}
			}
		case TypeStream:
			s.readStream(t, c, key, v)
		}
	}
}

// readStream counts a stream's entries, groups, consumers and pending
// entries, and checks that its last ID lies past its last entry.
func (s *seedSeen) readStream(t *testing.T, c *redis.Client, key string, v seedVersion) {
	t.Helper()
	ctx := context.Background()
	xi, err := c.XInfoStream(ctx, key).Result()
	if err != nil {
		t.Fatalf("XINFO STREAM %s: %v", key, err)
	}
	s.streams.Streams++
	s.streams.Entries += int(xi.Length)
	if v.version != "6.0" {
		s.streams.Deleted += int(xi.EntriesAdded - xi.Length)
	}
	if seedCompareIDs(xi.LastGeneratedID, xi.LastEntry.ID) <= 0 {
		t.Errorf("%s: last ID %s not past the last entry %s", key, xi.LastGeneratedID, xi.LastEntry.ID)
	}
	groups, err := c.XInfoGroups(ctx, key).Result()
	if err != nil {
		t.Fatalf("XINFO GROUPS %s: %v", key, err)
	}
	s.streams.Groups += len(groups)
	for _, g := range groups {
		s.streams.Pending += int(g.Pending)
		cs, err := c.XInfoConsumers(ctx, key, g.Name).Result()
		if err != nil {
			t.Fatalf("XINFO CONSUMERS %s %s: %v", key, g.Name, err)
		}
		s.streams.Consumers += len(cs)
		n := int64(0)
		for _, cs := range cs {
			n += cs.Pending
		}
		if n != g.Pending || int64(len(cs)) != g.Consumers {
			t.Errorf("%s group %s: %+v, consumers %+v", key, g.Name, g, cs)
		}
	}
}

// seedCompareIDs orders two stream IDs.
func seedCompareIDs(a, b string) int {
	split := func(id string) (uint64, uint64) {
		ms, seq, _ := strings.Cut(id, "-")
		m, _ := strconv.ParseUint(ms, 10, 64)
		s, _ := strconv.ParseUint(seq, 10, 64)
		return m, s
	}
	am, as := split(a)
	bm, bs := split(b)
	if am != bm {
		return cmp.Compare(am, bm)
	}
	return cmp.Compare(as, bs)
}

// checkFunctions finds the library where the server has functions.
func checkFunctions(t *testing.T, c *redis.Client, v seedVersion, sum SeedSummary) {
	t.Helper()
	if !v.functions {
		if len(sum.Functions) != 0 {
			t.Errorf("functions %v on %s", sum.Functions, v.version)
		}
		return
	}
	libs, err := c.FunctionList(context.Background(), redis.FunctionListQuery{LibraryNamePattern: seedLibrary}).Result()
	if err != nil || len(libs) != 1 {
		t.Fatalf("FUNCTION LIST: %v %v", libs, err)
	}
	var names, readOnly []string
	for _, f := range libs[0].Functions {
		names = append(names, seedLibrary+"."+f.Name)
		if slices.Contains(f.Flags, "no-writes") {
			readOnly = append(readOnly, f.Name)
		}
	}
	slices.Sort(names)
	want := slices.Sorted(slices.Values(sum.Functions))
	if !slices.Equal(names, want) || len(names) != 3 || !slices.Equal(readOnly, []string{"understudy_seed_get"}) {
		t.Errorf("library %s: functions %v (no-writes: %v), summary %v", seedLibrary, names, readOnly, sum.Functions)
	}
	// The functions run.
	if err := c.FCall(context.Background(), "understudy_seed_get", []string{"seed:string:0"}).Err(); err != nil && err != redis.Nil {
		t.Errorf("FCALL understudy_seed_get: %v", err)
	}
}

var seedACLHash = regexp.MustCompile(` #[0-9a-f]{64}( |$)`)

// checkACLUser finds the seed's user with its rules and tries them: it
// logs in, reads and writes seeded keys, and is refused other keys,
// dangerous commands and (from 6.2) other channels.
func checkACLUser(t *testing.T, c *redis.Client, v seedVersion, o SeedOptions, sum SeedSummary) {
	t.Helper()
	ctx := context.Background()
	if !slices.Equal(sum.ACLUsers, []string{seedACLUser}) {
		t.Errorf("ACL users %v", sum.ACLUsers)
	}
	line := aclLine(t, c)
	pw := seedACLPassword(o.Seed)
	if !seedACLHash.MatchString(line) || strings.Contains(line, pw) || !strings.Contains(line, " on ") ||
		!strings.Contains(line, " ~seed:* ") || v.aclChannels != strings.Contains(line, " &seed:* ") {
		t.Errorf("ACL LIST: %q", line)
	}
	opt := *c.Options()
	opt.Username, opt.Password = seedACLUser, pw
	opt.PushNotificationProcessor, opt.MaintNotificationsConfig = nil, nil
	app := redis.NewClient(&opt)
	defer app.Close()
	if err := app.Set(ctx, "seed:acl-check", "1", time.Minute).Err(); err != nil {
		t.Fatalf("seed user writes a seeded key: %v", err)
	}
	if err := app.Get(ctx, "seed:acl-check").Err(); err != nil {
		t.Errorf("seed user reads a seeded key: %v", err)
	}
	_ = c.Del(ctx, "seed:acl-check")
	for _, cmd := range [][]interface{}{{"GET", "other:key"}, {"FLUSHALL"}, {"KEYS", "*"}, {"CONFIG", "GET", "maxmemory"}} {
		if err := app.Do(ctx, cmd...).Err(); err == nil || !strings.Contains(err.Error(), "NOPERM") {
			t.Errorf("seed user %v: %v, want NOPERM", cmd, err)
		}
	}
	if v.aclChannels {
		if err := app.Publish(ctx, "seed:events", "x").Err(); err != nil {
			t.Errorf("seed user publishes on seed:events: %v", err)
		}
		if err := app.Publish(ctx, "other", "x").Err(); err == nil {
			t.Error("seed user publishes on another channel")
		}
	}
}

// aclLine is the seed user's line of ACL LIST.
func aclLine(t *testing.T, c *redis.Client) string {
	t.Helper()
	users, err := c.Do(context.Background(), "ACL", "LIST").StringSlice()
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range users {
		if strings.HasPrefix(u, "user "+seedACLUser+" ") {
			return u
		}
	}
	t.Fatalf("ACL LIST has no %s: %v", seedACLUser, users)
	return ""
}

// seedState is what reseeding must restore: content digests per database,
// stream groups, consumers and pending entries, hash field TTL presence,
// the ACL user and the function library.
type seedState struct {
	contents  map[int]string
	streams   map[string]string
	fieldTTLs map[string]string
	acl       string
	functions string
}

func takeSeedState(t *testing.T, c *redis.Client, dbs []int) seedState {
	t.Helper()
	ctx := context.Background()
	if dbs == nil {
		dbs = DefaultSeedDBs
	}
	s := seedState{contents: make(map[int]string), streams: make(map[string]string), fieldTTLs: make(map[string]string)}
	w := newDBWriter(context.Background(), c)
	defer w.close()
	for _, db := range dbs {
		dc := w.client(db)
		s.contents[db] = seedContent(t, dc)
		iter := dc.Scan(ctx, 0, "seed:*", 1000).Iterator()
		for iter.Next(ctx) {
			key := iter.Val()
			switch dc.Type(ctx, key).Val() {
			case TypeStream:
				s.streams[key] = streamState(t, dc, key)
			case TypeHash:
				if ttls, err := dc.HPTTL(ctx, key, dc.HKeys(ctx, key).Val()...).Result(); err == nil {
					s.fieldTTLs[key] = fmt.Sprint(slices.Collect(func(yield func(bool) bool) {
						for _, ms := range ttls {
							yield(ms > 0)
						}
					}))
				}
			}
		}
		if err := iter.Err(); err != nil {
			t.Fatal(err)
		}
	}
	// 7.0 lists the categories command by command, in no stable order.
	acl := strings.Fields(aclLine(t, c))
	slices.Sort(acl)
	s.acl = strings.Join(acl, " ")
	s.functions = fmt.Sprint(c.FunctionList(ctx, redis.FunctionListQuery{WithCode: true}).Val())
	return s
}

// seedContent hashes one database's keys: name, type, TTL presence and
// value (hash fields and set members sorted, scores as numbers, stream
// entries), in key order.
func seedContent(t *testing.T, c *redis.Client) string {
	t.Helper()
	ctx := context.Background()
	keys := sortedKeys(t, c)
	h := sha256.New()
	for _, key := range keys {
		typ := c.Type(ctx, key).Val()
		fmt.Fprintf(h, "%q %s ttl=%v ", key, typ, c.PTTL(ctx, key).Val() > 0)
		var v interface{}
		var err error
		switch typ {
		case TypeString:
			v, err = c.Get(ctx, key).Result()
		case TypeHash:
			var m map[string]string
			m, err = c.HGetAll(ctx, key).Result()
			v = slices.Sorted(func(yield func(string) bool) {
				for f, x := range m {
					yield(fmt.Sprintf("%q=%q", f, x))
				}
			})
		case TypeList:
			v, err = c.LRange(ctx, key, 0, -1).Result()
		case TypeSet:
			var m []string
			m, err = c.SMembers(ctx, key).Result()
			slices.Sort(m)
			v = m
		case TypeZSet:
			v, err = c.ZRangeWithScores(ctx, key, 0, -1).Result()
		case TypeStream:
			v, err = c.XRange(ctx, key, "-", "+").Result()
		default:
			t.Fatalf("%s: type %s", key, typ)
		}
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		fmt.Fprintf(h, "%q\n", fmt.Sprint(v))
	}
	return fmt.Sprintf("%d keys %x", len(keys), h.Sum(nil))
}

// streamState describes a stream's metadata without the times: last ID,
// deleted entries, groups with their consumers and pending entries.
func streamState(t *testing.T, c *redis.Client, key string) string {
	t.Helper()
	ctx := context.Background()
	xi, err := c.XInfoStream(ctx, key).Result()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "len=%d last=%s maxdel=%s added=%d;", xi.Length, xi.LastGeneratedID, xi.MaxDeletedEntryID, xi.EntriesAdded)
	for _, g := range c.XInfoGroups(ctx, key).Val() {
		fmt.Fprintf(&b, " group %s consumers=%d pending=%d last=%s read=%d:", g.Name, g.Consumers, g.Pending, g.LastDeliveredID, g.EntriesRead)
		for _, p := range c.XPendingExt(ctx, &redis.XPendingExtArgs{Stream: key, Group: g.Name, Start: "-", End: "+", Count: 1000}).Val() {
			fmt.Fprintf(&b, " %s@%s×%d", p.ID, p.Consumer, p.RetryCount)
		}
	}
	return b.String()
}

func (a seedState) equal(t *testing.T, b seedState) {
	t.Helper()
	if !maps.Equal(a.contents, b.contents) {
		t.Errorf("reseeded: content %v, first %v", b.contents, a.contents)
	}
	if !maps.Equal(a.streams, b.streams) {
		for k, v := range a.streams {
			if b.streams[k] != v {
				t.Errorf("reseeded: stream %s\n%s\nfirst\n%s", k, b.streams[k], v)
				break
			}
		}
		t.Errorf("reseeded: %d streams, first %d", len(b.streams), len(a.streams))
	}
	if !maps.Equal(a.fieldTTLs, b.fieldTTLs) {
		t.Errorf("reseeded: hash field TTLs differ")
	}
	if a.acl != b.acl || a.functions != b.functions {
		t.Errorf("reseeded: ACL user %q, functions %s; first %q, %s", b.acl, b.functions, a.acl, a.functions)
	}
}

// TestSeedOptions checks option handling on one server, flushed between
// cases: the databases, the type mix and the prefix select what is written.
func TestSeedOptions(t *testing.T) {
	ctx := context.Background()
	_, c := server(t)
	tests := []struct {
		name      string
		opts      SeedOptions
		wantErr   string
		byDB      map[int]int // exact keys per database, nil: not checked
		kinds     []string    // kinds present, in SeedTypes order
		bigKeys   []string    // big keys written
		functions bool        // the library is loaded
		aclUser   bool        // the user exists
		check     func(*testing.T, SeedSummary)
	}{
		{name: "negative keys", opts: SeedOptions{Keys: -1}, wantErr: "negative key count"},
		{name: "unknown type", opts: SeedOptions{Types: []string{"hash", "json"}}, wantErr: `unknown type "json"`},
		{name: "same db twice", opts: SeedOptions{DBs: []int{0, 0}}, wantErr: "distinct"},
		{name: "negative db", opts: SeedOptions{DBs: []int{-1}}, wantErr: "distinct"},
		{
			name:      "prefix and one db",
			opts:      SeedOptions{Keys: 9, Prefix: "p:", DBs: []int{0}, SkipBigKeys: true},
			byDB:      map[int]int{0: 9},
			kinds:     []string{"string", "hash", "list", "set", "zset", "stream", "hyperloglog", "geo", "bitmap"},
			functions: true, aclUser: true,
			check: func(t *testing.T, s SeedSummary) {
				if !strings.Contains(aclLine(t, c), " ~p:* ") {
					t.Errorf("ACL user %q, want keys ~p:*", aclLine(t, c))
				}
				st := s.Streams
				if st.Streams != 1 || st.Groups == 0 || st.Pending == 0 || st.Acked == 0 || st.Deleted == 0 {
					t.Errorf("the only stream: %+v, want groups, pending, acked and deleted entries", st)
				}
			},
		},
		{
			name:  "other dbs",
			opts:  SeedOptions{Keys: 400, DBs: []int{5, 2}, SkipBigKeys: true, Types: []string{"string", "zset"}},
			kinds: []string{"string", "zset"},
			check: func(t *testing.T, s SeedSummary) {
				if len(s.ByDB) != 2 || s.ByDB[5] < 250 || s.ByDB[2] < 110 {
					t.Errorf("ByDB = %v, want db 5 with about two thirds, db 2 the rest", s.ByDB)
				}
			},
		},
		{
			name:  "three dbs",
			opts:  SeedOptions{Keys: 800, SkipBigKeys: true, Types: []string{"hash"}},
			byDB:  map[int]int{0: 400, 1: 200, 3: 200},
			kinds: []string{"hash"},
		},
		{
			name:    "big string only",
			opts:    SeedOptions{Keys: 10, Types: []string{"string", "acl_user"}},
			kinds:   []string{"string"},
			bigKeys: []string{"seed:big:string"},
			aclUser: true,
			check: func(t *testing.T, s SeedSummary) {
				if n := c.StrLen(ctx, "seed:big:string").Val(); n != 10<<20 {
					t.Errorf("STRLEN seed:big:string = %d", n)
				}
				if s.Bytes < 10<<20 {
					t.Errorf("Bytes = %d, want the big string counted", s.Bytes)
				}
			},
		},
		{
			name:      "no keys",
			opts:      SeedOptions{Types: []string{"function"}},
			byDB:      map[int]int{},
			functions: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			do(t, c, "FLUSHALL")
			do(t, c, "FUNCTION", "FLUSH")
			do(t, c, "ACL", "DELUSER", seedACLUser)
			sum, err := Seed(ctx, c, tt.opts)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s", sum)
			var kinds []string
			for _, k := range SeedTypes {
				if sum.ByType[k] > 0 {
					kinds = append(kinds, k)
				}
			}
			if !slices.Equal(kinds, tt.kinds) {
				t.Errorf("kinds %v, want %v", kinds, tt.kinds)
			}
			var big []string
			for _, k := range sum.BigKeys {
				big = append(big, k.Key)
			}
			if !slices.Equal(big, tt.bigKeys) {
				t.Errorf("big keys %v, want %v", big, tt.bigKeys)
			}
			if tt.byDB != nil && !maps.Equal(sum.ByDB, tt.byDB) {
				t.Errorf("ByDB = %v, want %v", sum.ByDB, tt.byDB)
			}
			// The server holds what the summary says, db by db.
			want := maps.Clone(sum.ByDB)
			for _, k := range sum.BigKeys {
				want[k.DB]++
			}
			w := newDBWriter(context.Background(), c)
			defer w.close()
			for db := 0; db < 16; db++ {
				if n := w.client(db).DBSize(ctx).Val(); n != int64(want[db]) {
					t.Errorf("DBSIZE of db %d = %d, want %d", db, n, want[db])
				}
			}
			prefix := cmp.Or(tt.opts.Prefix, SeedPrefix)
			for db := range sum.ByDB {
				if keys := w.client(db).Keys(ctx, "*").Val(); len(keys) > 0 && !strings.HasPrefix(keys[0], prefix) {
					t.Errorf("db %d: key %q without prefix %q", db, keys[0], prefix)
				}
			}
			libs := c.FunctionList(ctx, redis.FunctionListQuery{}).Val()
			if (len(libs) == 1) != tt.functions || (len(sum.Functions) > 0) != tt.functions {
				t.Errorf("libraries %v, summary %v, want functions: %v", libs, sum.Functions, tt.functions)
			}
			users := c.Do(ctx, "ACL", "USERS").String()
			if strings.Contains(users, seedACLUser) != tt.aclUser || (len(sum.ACLUsers) > 0) != tt.aclUser {
				t.Errorf("ACL USERS %s, summary %v, want the user: %v", users, sum.ACLUsers, tt.aclUser)
			}
			if tt.check != nil {
				tt.check(t, sum)
			}
		})
	}
	// c stays on db 0.
	if db := c.Options().DB; db != 0 {
		t.Errorf("client moved to db %d", db)
	}
}

// TestSeedDefault seeds the default data set (100 000 keys, big keys) and
// again over it, timing both, and checks that no command held the server
// for long: on average no command took 10 ms (INFO commandstats), and none
// took 500 ms (the slow log; it measures wall time, so a loaded machine
// puts any command over a few tens of ms now and then).
func TestSeedDefault(t *testing.T) {
	ctx := context.Background()
	_, c := server(t)
	_, plain := server(t)

	start := time.Now()
	sum, err := Seed(ctx, plain, SeedOptions{Seed: 1, SkipBigKeys: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("100 000 keys without big keys: %v", time.Since(start).Round(time.Millisecond))

	do(t, c, "CONFIG", "SET", "slowlog-log-slower-than", "500000")
	do(t, c, "SLOWLOG", "RESET")
	do(t, c, "CONFIG", "RESETSTAT")
	for _, run := range []string{"first", "again"} {
		start := time.Now()
		sum, err = Seed(ctx, c, SeedOptions{Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s seed with big keys: %v: %s", run, time.Since(start).Round(time.Millisecond), sum)
	}
	if sum.Keys != 100000 || sum.Total() != 100002 {
		t.Errorf("summary %d keys, %d in total, want 100000 and 100002", sum.Keys, sum.Total())
	}
	if n := c.HLen(ctx, "seed:big:hash").Val(); n != 1000000 {
		t.Errorf("HLEN seed:big:hash = %d", n)
	}
	if n := c.StrLen(ctx, "seed:big:string").Val(); n != 10<<20 {
		t.Errorf("STRLEN seed:big:string = %d", n)
	}
	ks := info(t, c, "keyspace")
	total := int64(0)
	for _, db := range DefaultSeedDBs {
		total += rv.ParseKeyspace(ks["db"+strconv.Itoa(db)]).Keys
	}
	if total != 100002 {
		t.Errorf("INFO keyspace %v: %d keys, want 100002", ks, total)
	}
	slow, err := c.SlowLogGet(ctx, 10).Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range slow {
		args := fmt.Sprint(s.Args)
		if len(args) > 80 {
			args = args[:80]
		}
		t.Errorf("command took %v: %s", s.Duration, args)
	}
	for name, stat := range info(t, c, "commandstats") {
		var per float64
		for _, f := range strings.Split(stat, ",") {
			if v, ok := strings.CutPrefix(f, "usec_per_call="); ok {
				per, _ = strconv.ParseFloat(v, 64)
			}
		}
		if per > 10000 {
			t.Errorf("%s: %s, want under 10 ms per call", name, stat)
		}
		if name == "cmdstat_hset" || name == "cmdstat_append" {
			t.Logf("%s: %s", name, stat)
		}
	}
	mem := info(t, c, "memory")["used_memory_human"]
	t.Logf("used memory %s, %.1f MB sent", mem, float64(sum.Bytes)/1e6)
}

// sortedKeys returns every key of c's database, sorted, once each.
func sortedKeys(t *testing.T, c *redis.Client) []string {
	t.Helper()
	ctx := context.Background()
	var keys []string
	iter := c.Scan(ctx, 0, "*", 1000).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(keys)
	keys = slices.Compact(keys)
	return keys
}
