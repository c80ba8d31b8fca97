package dataset

import (
	"bufio"
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/understudy/understudy/internal/redistest"
	rv "github.com/understudy/understudy/steps/redis"
	"github.com/understudy/understudy/steps/rehearsal/container"
)

// server starts a redis-server and returns it with a client closed at the
// end of the test.
func server(t *testing.T, opts ...redistest.Option) (*redistest.Server, *redis.Client) {
	t.Helper()
	s := redistest.Start(t, opts...)
	c := s.Client()
	t.Cleanup(func() { _ = c.Close() })
	return s, c
}

// fastSync makes a master start a full sync without the default 5 s wait
// for more replicas.
var fastSync = redistest.WithArgs("--repl-diskless-sync-delay", "0")

// noDebug starts a server that refuses DEBUG, as production 7.0+ does.
var noDebug = redistest.WithArgs("--enable-debug-command", "no")

// testPassword is the password of servers compared with each other: the
// default ACL user's password is compared too.
const testPassword = "understudy-dataset-test"

var samePassword = redistest.WithPassword(testPassword)

// node is a server of some version: the host's redis-server (7.0) or a
// container of a local image.
type node struct {
	c       *redis.Client
	host    string
	port    int
	version string
}

// startNode starts a server of version v ("7.0" runs the host's
// redis-server, others understudy's local images) with testPassword.
func startNode(t *testing.T, v string) *node {
	t.Helper()
	if v == "7.0" {
		s, c := server(t, samePassword, fastSync)
		return &node{c: c, host: s.Host, port: s.Port, version: v}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	n, err := container.Run(ctx, "dataset", rv.MustParseVersion(v),
		container.WithSession("test-"+container.NewSessionID()),
		container.WithPassword(testPassword),
		container.WithCatalog(container.Catalog{Source: container.SourceLocal}))
	if err != nil {
		t.Fatalf("start %s (build the images with make images): %v", v, err)
	}
	t.Cleanup(func() {
		if err := n.Terminate(context.Background()); err != nil {
			t.Errorf("terminate %s: %v", v, err)
		}
	})
	c := n.Client()
	t.Cleanup(func() { _ = c.Close() })
	do(t, c, "CONFIG", "SET", "repl-diskless-sync-delay", "0")
	return &node{c: c, host: n.Host(), port: n.Port(), version: v}
}

// do runs a command and fails the test on error.
func do(t *testing.T, c *redis.Client, args ...interface{}) interface{} {
	t.Helper()
	v, err := c.Do(context.Background(), args...).Result()
	if err != nil && err != redis.Nil {
		t.Fatalf("%v: %v", args, err)
	}
	return v
}

// doDB runs a command in database db.
func doDB(t *testing.T, c *redis.Client, db int, args ...interface{}) {
	t.Helper()
	cl, done := onDB(c, db)
	defer done()
	do(t, cl, args...)
}

// info returns the fields of one INFO section.
func info(t *testing.T, c *redis.Client, section string) map[string]string {
	t.Helper()
	s, err := c.Info(context.Background(), section).Result()
	if err != nil {
		t.Fatalf("info %s: %v", section, err)
	}
	m := make(map[string]string)
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		if k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), ":"); ok {
			m[k] = v
		}
	}
	return m
}

// replicate makes replica a replica of master and waits until it has
// everything master had when replicate was called.
func replicate(t *testing.T, master, replica *node) {
	t.Helper()
	start := time.Now()
	do(t, replica.c, "CONFIG", "SET", "masterauth", testPassword)
	do(t, replica.c, "REPLICAOF", master.host, strconv.Itoa(master.port))
	waitSync(t, master.c, replica.c)
	t.Logf("%s replica of %s in sync after %v", replica.version, master.version, time.Since(start).Round(time.Millisecond))
}

// copyUsers copies the ACL users but default from one server to another,
// as the copy_users step does: replication does not carry them.
func copyUsers(t *testing.T, from, to *redis.Client) {
	t.Helper()
	ctx := context.Background()
	users, err := rv.ACLUsers(ctx, from)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range users {
		if err := rv.SetACLUser(ctx, to, "to", u); err != nil {
			t.Fatal(err)
		}
	}
}

// hostNode wraps a redistest server as a node.
func hostNode(s *redistest.Server, c *redis.Client) *node {
	return &node{c: c, host: s.Host, port: s.Port, version: "7.0"}
}

// waitSync waits, by polling INFO, until the replica's link is up, no sync
// is in progress, it follows the master's current replication ID and its
// offset has reached the master offset read first. (A master without a
// backlog takes a new replication ID when its first replica attaches, so the
// ID must be read again on each check.)
func waitSync(t *testing.T, mc, rc *redis.Client) {
	t.Helper()
	mi := info(t, mc, "replication")
	target, err := strconv.ParseInt(mi["master_repl_offset"], 10, 64)
	if err != nil {
		t.Fatalf("master_repl_offset %q: %v", mi["master_repl_offset"], err)
	}
	deadline := time.Now().Add(60 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		ri := info(t, rc, "replication")
		replid := info(t, mc, "replication")["master_replid"]
		off, _ := strconv.ParseInt(ri["slave_repl_offset"], 10, 64)
		if ri["master_link_status"] == "up" && ri["master_sync_in_progress"] == "0" &&
			ri["master_replid"] == replid && off >= target {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("replica not in sync after 60s: master offset %d replid %s, replica %v", target, replid, ri)
		}
		<-tick.C
	}
}

// promote turns a replica into a master.
func promote(t *testing.T, c *redis.Client) {
	t.Helper()
	do(t, c, "REPLICAOF", "NO", "ONE")
	if role := info(t, c, "replication")["role"]; role != "master" {
		t.Fatalf("role after REPLICAOF NO ONE: %s", role)
	}
}

// reset empties a server: keys of every database, function libraries (7.0+)
// and ACL users other than default.
func reset(t *testing.T, c *redis.Client) {
	t.Helper()
	ctx := context.Background()
	do(t, c, "FLUSHALL")
	if err := c.Do(ctx, "FUNCTION", "FLUSH").Err(); err != nil && !strings.Contains(err.Error(), "unknown command") {
		t.Fatal(err)
	}
	users, err := c.Do(ctx, "ACL", "USERS").StringSlice()
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range users {
		if u != "default" {
			do(t, c, "ACL", "DELUSER", u)
		}
	}
}

// diffID names what a Diff is about: the key ("k"; "db3:k" outside db 0),
// "function:<library>" or "acl:<user>".
func diffID(d Diff) string {
	switch d.Kind {
	case DiffFunction:
		return "function:" + d.Key
	case DiffACLUser:
		return "acl:" + d.Key
	}
	if d.DB != 0 {
		return fmt.Sprintf("db%d:%s", d.DB, d.Key)
	}
	return d.Key
}

// checkDiffs fails unless res is not Equal and reports exactly want: by
// diffID, a regular expression the reason must match.
func checkDiffs(t *testing.T, res Result, want map[string]string) {
	t.Helper()
	if res.Equal == (len(want) > 0) {
		t.Errorf("Equal = %v, want differences %v", res.Equal, want)
	}
	got := make(map[string]string)
	for _, d := range res.Diffs {
		got[diffID(d)] = d.Reason
	}
	if len(got) != len(want) || len(res.Diffs) != len(want) || res.DiffCount != len(want) {
		t.Errorf("diffs = %v (%d), want %v", res.Diffs, res.DiffCount, want)
	}
	for k, r := range want {
		if g, ok := got[k]; !ok || !regexp.MustCompile("^(?:"+r+")$").MatchString(g) {
			t.Errorf("diff for %q = %q, want %q", k, g, r)
		}
	}
}

// mutate changes a seeded server in four ways and returns the Diff reasons
// Compare(original, mutated) must report, by diffID: one string changed
// (its TTL kept), one key deleted, one key added and one sorted set score
// changed.
func mutate(t *testing.T, c *redis.Client, keys seededKeys) map[string]string {
	t.Helper()
	ctx := context.Background()
	str, hash, zset := keys.first(TypeString), keys.first(TypeHash), keys.first(TypeZSet)
	sc, done := onDB(c, str.DB)
	defer done()
	if err := sc.Set(ctx, str.Key, "changed", redis.KeepTTL).Err(); err != nil {
		t.Fatal(err)
	}
	doDB(t, c, hash.DB, "DEL", hash.Key)
	do(t, c, "SET", "extra:key", "x")
	zc, done2 := onDB(c, zset.DB)
	defer done2()
	zs, err := zc.ZRangeWithScores(ctx, zset.Key, 0, 0).Result()
	if err != nil || len(zs) != 1 {
		t.Fatalf("zrange %v: %v %v", zset, zs, err)
	}
	if err := zc.ZIncrBy(ctx, zset.Key, 1, zs[0].Member.(string)).Err(); err != nil {
		t.Fatal(err)
	}
	return map[string]string{
		diffID(Diff{DB: str.DB, Key: str.Key}):   "value differs",
		diffID(Diff{DB: hash.DB, Key: hash.Key}): "missing on b",
		"extra:key":                              "missing on a",
		diffID(Diff{DB: zset.DB, Key: zset.Key}): "value differs",
	}
}

// seededKeys lists keys of a server by type.
type seededKeys map[string][]KeyRef

// listKeys returns up to 50 keys per type of every database of c.
func listKeys(t *testing.T, c *redis.Client) seededKeys {
	t.Helper()
	ctx := context.Background()
	out := make(seededKeys)
	for db := range parseKeyspace(c.Info(ctx, "keyspace").Val()) {
		cl, done := onDB(c, db)
		keys, _, err := cl.Scan(ctx, 0, SeedPrefix+"*", 2000).Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			typ := cl.Type(ctx, k).Val()
			if len(out[typ]) < 50 {
				out[typ] = append(out[typ], KeyRef{DB: db, Key: k})
			}
		}
		done()
	}
	return out
}

func (s seededKeys) first(typ string) KeyRef {
	if len(s[typ]) == 0 {
		panic("no seeded key of type " + typ)
	}
	return s[typ][0]
}
