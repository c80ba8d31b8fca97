package container

import (
	"context"
	"encoding/json"
	"github.com/understudy/understudy/steps/redis"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"
	goredis "github.com/redis/go-redis/v9"
)

// seed writes keys of several types and returns DEBUG DIGEST, which hashes
// their content the same way on 6.0, 7.0, 8.0 and Valkey 8.1.
func seed(t *testing.T, ctx context.Context, c *goredis.Client) {
	t.Helper()
	_, err := c.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		p.Set(ctx, "s", "string value", 0)
		p.Set(ctx, "ttl", "expires", time.Hour)
		p.HSet(ctx, "h", "f1", "v1", "f2", "v2")
		p.RPush(ctx, "l", "a", "b", "c")
		p.SAdd(ctx, "set", "x", "y")
		p.ZAdd(ctx, "z", goredis.Z{Score: 1, Member: "one"}, goredis.Z{Score: 2, Member: "two"})
		p.XAdd(ctx, &goredis.XAddArgs{Stream: "st", ID: "1-1", Values: []any{"k", "v"}})
		return nil
	})
	if err != nil {
		t.Fatalf("seed: %v", err)
	}
}

// checkSeed verifies the keys written by seed.
func checkSeed(t *testing.T, ctx context.Context, c *goredis.Client) {
	t.Helper()
	if v, err := c.Get(ctx, "s").Result(); err != nil || v != "string value" {
		t.Errorf("GET s = %q, %v", v, err)
	}
	if d, err := c.TTL(ctx, "ttl").Result(); err != nil || d <= 0 || d > time.Hour {
		t.Errorf("TTL ttl = %v, %v", d, err)
	}
	if v, err := c.HGet(ctx, "h", "f2").Result(); err != nil || v != "v2" {
		t.Errorf("HGET h f2 = %q, %v", v, err)
	}
	if v, err := c.LRange(ctx, "l", 0, -1).Result(); err != nil || strings.Join(v, "") != "abc" {
		t.Errorf("LRANGE l = %q, %v", v, err)
	}
	if v, err := c.SCard(ctx, "set").Result(); err != nil || v != 2 {
		t.Errorf("SCARD set = %d, %v", v, err)
	}
	if v, err := c.ZScore(ctx, "z", "two").Result(); err != nil || v != 2 {
		t.Errorf("ZSCORE z two = %v, %v", v, err)
	}
	if v, err := c.XLen(ctx, "st").Result(); err != nil || v != 1 {
		t.Errorf("XLEN st = %d, %v", v, err)
	}
}

func digest(t *testing.T, ctx context.Context, c *goredis.Client) string {
	t.Helper()
	d, err := c.Do(ctx, "DEBUG", "DIGEST").Text()
	if err != nil {
		t.Fatalf("DEBUG DIGEST: %v", err)
	}
	return d
}

// TestReplaceChain upgrades one node 6.0 → 7.0 → 8.0 and checks that the
// address and the data survive and that DEBUG works on each version.
func TestReplaceChain(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	n := runNode(t, ctx, "chain", "6.0")
	addr, dataDir := n.Addr(), n.DataDir()

	c := n.Client()
	defer c.Close()
	mustContain(t, info(t, ctx, c, "server", "redis_version"), "6.0.")
	seed(t, ctx, c)
	want := digest(t, ctx, c)
	addUser(t, ctx, c)

	for _, to := range []string{"7.0", "8.0"} {
		oldID := n.ContainerID()
		start := time.Now()
		if err := n.Replace(ctx, redis.MustParseVersion(to)); err != nil {
			t.Fatalf("Replace → %s: %v", to, err)
		}
		t.Logf("Replace → %s took %s", to, time.Since(start).Round(time.Millisecond))
		if n.Addr() != addr || n.DataDir() != dataDir {
			t.Fatalf("after Replace the node moved: %s %s, was %s %s", n.Addr(), n.DataDir(), addr, dataDir)
		}
		if n.ContainerID() == oldID || n.ContainerID() == "" {
			t.Fatalf("Replace kept container %.12s", oldID)
		}
		if got := n.Version().String(); got != to {
			t.Fatalf("Version() = %s, want %s", got, to)
		}
		if img := n.Image(); img != "understudy/redis:"+to {
			t.Fatalf("Image() = %s", img)
		}
		// The old client reconnects to the new server on the same address.
		if v := info(t, ctx, c, "server", "redis_version"); !strings.HasPrefix(v, to+".") {
			t.Fatalf("redis_version = %s, want %s.x", v, to)
		}
		checkSeed(t, ctx, c)
		checkUser(t, ctx, c)
		// enable-debug-command took effect: DEBUG DIGEST is allowed and
		// the content is unchanged.
		if got := digest(t, ctx, c); got != want {
			t.Fatalf("DEBUG DIGEST on %s = %s, was %s on 6.0", to, got, want)
		}
	}
	if _, err := os.Stat(filepath.Join(dataDir, "dump.rdb")); err != nil {
		t.Fatalf("no dump.rdb in the data dir: %v", err)
	}
}

// TestReplaceToValkey moves a Redis 7.0 node to Valkey 8.1, which reads
// its RDB.
func TestReplaceToValkey(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	n := runNode(t, ctx, "tovalkey", "7.0")
	c := n.Client()
	defer c.Close()
	seed(t, ctx, c)
	if got := info(t, ctx, c, "server", "server_name"); got == "valkey" {
		t.Fatal("a Redis 7.0 node reports server_name:valkey")
	}

	if err := n.Replace(ctx, redis.MustParseVersion("valkey:8.1")); err != nil {
		t.Fatal(err)
	}
	if got := info(t, ctx, c, "server", "server_name"); got != "valkey" {
		t.Fatalf("server_name = %q, want valkey", got)
	}
	if got := info(t, ctx, c, "server", "valkey_version"); !strings.HasPrefix(got, "8.1.") {
		t.Fatalf("valkey_version = %q, want 8.1.x", got)
	}
	if n.Image() != "understudy/valkey:8.1" || n.Version().String() != "valkey:8.1" {
		t.Fatalf("Image() = %s, Version() = %s", n.Image(), n.Version())
	}
	checkSeed(t, ctx, c)
	digest(t, ctx, c)
}

// TestReplaceRefusedThenRollback downgrades 8.0 to 6.0, which cannot read
// the RDB: the error carries the server's log, and Replace back to 8.0
// finds the data intact.
func TestReplaceRefusedThenRollback(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	n := runNode(t, ctx, "downgrade", "8.0")
	c := n.Client()
	defer c.Close()
	seed(t, ctx, c)

	start := time.Now()
	err := n.Replace(ctx, redis.MustParseVersion("6.0"))
	if err == nil {
		t.Fatal("Replace 8.0 → 6.0 succeeded; 6.0 cannot read RDB 12")
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("the failure took %s: an exited container should be noticed at once", d)
	}
	msg := err.Error()
	mustContain(t, msg, `replace node "downgrade" 8.0→6.0`)
	mustContain(t, msg, "exited with code")
	mustContain(t, msg, "Can't handle RDB format version 12")
	if logs, err := n.Logs(ctx); err != nil || !strings.Contains(logs, "Can't handle RDB format version") {
		t.Fatalf("Logs after the failed Replace: %v\n%s", err, logs)
	}

	if err := n.Replace(ctx, redis.MustParseVersion("8.0")); err != nil {
		t.Fatalf("rollback to 8.0: %v", err)
	}
	checkSeed(t, ctx, c)
}

// TestStopStart restarts the same container: SIGTERM saves the dataset.
func TestStopStart(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	n := runNode(t, ctx, "restart", "7.0")
	c := n.Client()
	defer c.Close()
	seed(t, ctx, c)
	addUser(t, ctx, c)
	id := n.ContainerID()

	if err := n.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := n.Stop(ctx); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	if conn, err := net.DialTimeout("tcp", n.Addr(), time.Second); err == nil {
		conn.Close()
		t.Fatal("a stopped node accepts connections")
	}
	if err := n.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if n.ContainerID() != id {
		t.Fatalf("Start replaced the container")
	}
	checkSeed(t, ctx, c)
	checkUser(t, ctx, c)

	// Replace works on a stopped node too (nothing to save).
	if err := n.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := n.Replace(ctx, redis.MustParseVersion("8.0")); err != nil {
		t.Fatal(err)
	}
	checkSeed(t, ctx, c)
}

// TestReplaceAfterCrash replaces a node whose server was killed: there is
// nothing to save, and the last save survives.
func TestReplaceAfterCrash(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	n := runNode(t, ctx, "crashed", "7.0")
	c := n.Client()
	defer c.Close()
	seed(t, ctx, c)
	if err := c.Save(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	cli, err := dockerClient(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	if _, err := cli.ContainerKill(ctx, n.ContainerID(), client.ContainerKillOptions{Signal: "KILL"}); err != nil {
		t.Fatal(err)
	}
	if err := n.Replace(ctx, redis.MustParseVersion("8.0")); err != nil {
		t.Fatalf("Replace of a killed node: %v", err)
	}
	checkSeed(t, ctx, c)
}

// TestReplication attaches a newer replica to a master over host
// networking, with masterauth.
func TestReplication(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	session := "test-" + NewSessionID()
	a := runNode(t, ctx, "master", "7.0", WithSession(session))
	b := runNode(t, ctx, "replica", "8.0", WithSession(session), WithPassword(a.Password()))
	ca, cb := a.Client(), b.Client()
	defer ca.Close()
	defer cb.Close()
	seed(t, ctx, ca)
	// The test is about reaching the master, not about 7.0's 5 s wait for
	// more replicas before a diskless sync.
	if err := ca.ConfigSet(ctx, "repl-diskless-sync-delay", "0").Err(); err != nil {
		t.Fatal(err)
	}

	if err := cb.Do(ctx, "REPLICAOF", a.Host(), a.Port()).Err(); err != nil {
		t.Fatalf("REPLICAOF: %v", err)
	}
	linkUp := func() (bool, string) {
		info, err := redis.ReadInfo(ctx, cb, "replication")
		if err != nil {
			return false, err.Error()
		}
		return info["master_link_status"] == "up" && info["master_sync_in_progress"] == "0",
			"role:" + info["role"] + " master_link_status:" + info["master_link_status"]
	}
	eventually(t, 30*time.Second, "master_link_status:up", linkUp)
	checkSeed(t, ctx, cb)
	if err := ca.Set(ctx, "after", "sync", 0).Err(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "a write on the master reaches the replica", func() (bool, string) {
		v, err := cb.Get(ctx, "after").Result()
		return v == "sync", v + " " + errString(err)
	})
	if got := info(t, ctx, ca, "replication", "connected_slaves"); got != "1" {
		t.Fatalf("master connected_slaves = %s", got)
	}

	// A replica that is replaced (here by the same version) or restarted
	// comes back as a replica of the same master.
	if err := b.Replace(ctx, redis.MustParseVersion("8.0")); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "link up after Replace", linkUp)
	if err := b.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := ca.Set(ctx, "while", "stopped", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "link up after Stop and Start", linkUp)
	eventually(t, 10*time.Second, "a write made while the replica was down", func() (bool, string) {
		v, err := cb.Get(ctx, "while").Result()
		return v == "stopped", v + " " + errString(err)
	})

	// Promoted before it stops, it comes back a master.
	if err := cb.Do(ctx, "REPLICAOF", "NO", "ONE").Err(); err != nil {
		t.Fatal(err)
	}
	if err := b.Replace(ctx, redis.MustParseVersion("8.0")); err != nil {
		t.Fatal(err)
	}
	if got := info(t, ctx, cb, "replication", "role"); got != "master" {
		t.Fatalf("role after REPLICAOF NO ONE and Replace = %s", got)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestPasswordNotExposed checks that the password (one with characters the
// config file must quote) works and appears nowhere in docker inspect.
func TestPasswordNotExposed(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	const password = `p@ss "w\rd" with spaces`
	n := runNode(t, ctx, "secret", "7.0", WithPassword(password))

	c := n.Client()
	defer c.Close()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("PING with the password: %v", err)
	}
	anon := goredis.NewClient(&goredis.Options{Addr: n.Addr(), MaxRetries: -1})
	defer anon.Close()
	if err := anon.Ping(ctx).Err(); err == nil || !strings.Contains(err.Error(), "NOAUTH") {
		t.Fatalf("PING without password: %v, want NOAUTH", err)
	}

	cli, err := dockerClient(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	res, err := cli.ContainerInspect(ctx, n.ContainerID(), client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{password, "w\\rd", "p@ss"} {
		if strings.Contains(string(raw), s) {
			t.Fatalf("docker inspect shows %q:\n%s", s, raw)
		}
	}
	ctr := res.Container
	if got := strings.Join(append(ctr.Config.Entrypoint, ctr.Config.Cmd...), " "); got != "redis-server "+confPath {
		t.Fatalf("command = %q", got)
	}
	if ctr.HostConfig.NetworkMode != "host" {
		t.Fatalf("network mode = %q", ctr.HostConfig.NetworkMode)
	}
	for k, want := range map[string]string{LabelSession: n.Session(), LabelNode: "secret", LabelPID: itoa(os.Getpid())} {
		if got := ctr.Config.Labels[k]; got != want {
			t.Errorf("label %s = %q, want %q", k, got, want)
		}
	}
	if ctr.Name != "/understudy-"+n.Session()+"-secret" {
		t.Errorf("container name = %q", ctr.Name)
	}

	conf := filepath.Join(n.tmpDir, "server.conf")
	fi, err := os.Stat(conf)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("%s has mode %v, want 0600", conf, fi.Mode().Perm())
	}
}

// TestRunFails checks that Run reports a server that cannot start, with its
// log, and leaves no container.
func TestRunFails(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	session := "test-" + NewSessionID()
	if _, err := Run(ctx, "bad name", redis.MustParseVersion("7.0")); err == nil {
		t.Fatal(`Run accepted the node name "bad name"`)
	}
	if _, err := Run(ctx, "n", redis.MustParseVersion("7.0"), WithDataDir("/nonexistent/understudy")); err == nil {
		t.Fatal("Run accepted a missing data dir")
	}

	// A port already taken: the server exits at once.
	a := runNode(t, ctx, "holder", "7.0", WithSession(session))
	_, err := Run(ctx, "clash", redis.MustParseVersion("7.0"), WithSession(session), WithPort(a.Port()), WithStartTimeout(20*time.Second))
	if err == nil {
		t.Fatal("two nodes started on one port")
	}
	mustContain(t, err.Error(), `run node "clash" (7.0)`)
	mustContain(t, err.Error(), "container log (last 20 lines)")
	mustContain(t, err.Error(), "Address already in use")
	left, lerr := countSession(ctx, session)
	if lerr != nil {
		t.Fatal(lerr)
	}
	if left != 1 {
		t.Fatalf("%d containers in the session after the failed Run, want 1 (the holder)", left)
	}
}

func countSession(ctx context.Context, session string) (int, error) {
	cli, err := dockerClient(ctx)
	if err != nil {
		return 0, err
	}
	defer cli.Close()
	list, err := listNodes(ctx, cli, LabelSession+"="+session)
	return len(list), err
}

// addUser creates an ACL user, as an operator would with ACL SETUSER.
func addUser(t *testing.T, ctx context.Context, c *goredis.Client) {
	t.Helper()
	// +@read names 6.0's pseudo-commands (post, host:), which 7.0 refuses.
	if err := c.Do(ctx, "ACL", "SETUSER", "app", "on", "#"+strings.Repeat("ab", 32), "~app:*", "+@read", "+set").Err(); err != nil {
		t.Fatal(err)
	}
}

// checkUser proves the user addUser created survived with its rules.
func checkUser(t *testing.T, ctx context.Context, c *goredis.Client) {
	t.Helper()
	users, err := redis.ACLUsers(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	if len(users) != 1 || users[0].Name != "app" {
		t.Fatalf("ACL users after a restart: %+v, want app", users)
	}
	rules := strings.Join(users[0].Rules, " ")
	for _, want := range []string{"on", "#" + strings.Repeat("ab", 32), "~app:*", "+set"} {
		if !strings.Contains(rules, want) {
			t.Fatalf("user app's rules %q lack %q", rules, want)
		}
	}
	// 6.0 and 7.2+ show +@read; 7.0 may expand it into commands.
	if !strings.Contains(rules, "+@read") && !strings.Contains(rules, "+get") {
		t.Fatalf("user app's rules %q lack +@read", rules)
	}
}
