package e2e

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/understudy/understudy/steps/redis"
	"github.com/understudy/understudy/steps/rehearsal/container"
)

// How long a pair the rule table allows may take to sync, and how long a
// pair it refuses must stay out of sync.
const (
	rulesSyncTimeout = 15 * time.Second
	rulesRefuseWatch = 6 * time.Second
)

// The rule table of steps/redis against real servers: for every ordered
// pair of the local images, a replica of one version is pointed at a master
// of another that holds keys of every type, a stream with a consumer group
// and a key with a TTL. CheckReplication must allow exactly the pairs whose
// replica really syncs.
func TestReplicationRulesAgainstServers(t *testing.T) {
	begin := time.Now()
	versions := []string{"6.0", "7.0", "8.0", "valkey:8.1", "valkey:9.1"}
	session := container.NewSessionID()

	var mu sync.Mutex
	var outcomes []string
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := container.RemoveSession(ctx, session); err != nil {
			t.Error(err)
		}
		if got := leftovers(t, session); len(got) != 0 {
			t.Errorf("containers left behind: %v", got)
		}
		sort.Strings(outcomes)
		t.Logf("real servers, master → replica (session %s, %s in all):\n  %s", session, time.Since(begin).Round(100*time.Millisecond), strings.Join(outcomes, "\n  "))
	})

	for _, m := range versions {
		for _, r := range versions {
			if m == r {
				continue
			}
			master, replica := redis.MustParseVersion(m), redis.MustParseVersion(r)
			t.Run(pairName(m)+"->"+pairName(r), func(t *testing.T) {
				t.Parallel()
				out := replicatePair(t, session, master, replica)
				mu.Lock()
				outcomes = append(outcomes, out)
				mu.Unlock()
			})
		}
	}
}

// replicatePair runs one pair and returns a line for the summary.
func replicatePair(t *testing.T, session string, mv, rv redis.Version) string {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	allowed := redis.CheckReplication(mv, rv)
	name := pairName(mv.String()) + "-to-" + pairName(rv.String())
	opts := []container.Option{container.WithSession(session), container.WithCatalog(container.Catalog{Source: container.SourceLocal})}

	// Both nodes start together; each has its own password, so the
	// replica needs masterauth.
	master, replica, mc, rc := startPair(t, ctx, name, mv, rv, opts...)
	mreal, rreal := serverVersion(ctx, t, mc), serverVersion(ctx, t, rc)

	// No 5 s wait for more replicas before a diskless transfer (7.0+): the
	// time measured is the sync's own.
	if err := mc.ConfigSet(ctx, "repl-diskless-sync-delay", "0").Err(); err != nil {
		t.Fatal(err)
	}
	writeRuleKeys(ctx, t, mc)
	if err := rc.Set(ctx, "replica-only", "before", 0).Err(); err != nil {
		t.Fatal(err)
	}
	want, err := mc.DBSize(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}

	if err := rc.ConfigSet(ctx, "masterauth", master.Password()).Err(); err != nil {
		t.Fatal(err)
	}
	if err := rc.Do(ctx, "REPLICAOF", master.Host(), fmt.Sprint(master.Port())).Err(); err != nil {
		t.Fatal(err)
	}
	attached := time.Now()
	watch := rulesSyncTimeout
	if allowed != nil {
		watch = rulesRefuseWatch
	}
	synced, why := waitRuleSync(ctx, t, rc, mc, master.Addr(), want, watch)
	took := time.Since(attached)

	label := fmt.Sprintf("%s (%s) → %s (%s)", mv, mreal, rv, rreal)
	var out string
	if synced {
		out = fmt.Sprintf("%-40s synced in %s", label, took.Round(10*time.Millisecond))
		checkRuleKeys(ctx, t, mc, rc)
	} else {
		logLine := rdbLogLine(ctx, replica)
		left, err := rc.DBSize(ctx).Result()
		if err != nil {
			t.Fatal(err)
		}
		out = fmt.Sprintf("%-40s not in sync after %s (%s); replica log: %q; the replica holds %d keys", label, took.Round(100*time.Millisecond), why, logLine, left)
		// What the refusal says: the replica cannot read the master's
		// RDB version, and empties its dataset trying.
		if allowed != nil && strings.Contains(allowed.Error(), "RDB version") {
			if want := fmt.Sprintf("Can't handle RDB format version %d", redis.SyncRDBVersion(mv, rv)); !strings.Contains(logLine, want) {
				t.Errorf("the replica's log does not say %q: %q", want, logLine)
			}
			if left != 0 && redis.EmptiesOnFailedSync(rv) {
				t.Errorf("the replica kept %d keys after the failed sync", left)
			}
		}
	}
	if allowed == nil {
		out += "; table: allowed"
		if w := redis.ReplicationWarning(mv, rv); w != "" {
			out += " with a warning"
		}
	} else {
		out += "; table: refused"
	}

	switch {
	case allowed == nil && !synced:
		t.Errorf("the table allows %s → %s, but the replica did not sync within %s: %s", mv, rv, watch, why)
	case allowed != nil && synced:
		t.Errorf("the table refuses %s → %s (%v), but the replica synced in %s", mv, rv, allowed, took.Round(10*time.Millisecond))
	}
	return out
}

// waitRuleSync polls until the replica is in sync (redis.InSync: link up,
// no sync in progress, same replication id, offset reached) and holds as
// many keys as the master, or until d passes.
func waitRuleSync(ctx context.Context, t *testing.T, rc, mc *goredis.Client, masterAddr string, keys int64, d time.Duration) (bool, string) {
	t.Helper()
	deadline := time.Now().Add(d)
	why := "not checked"
	for time.Now().Before(deadline) {
		ok, w, err := redis.InSync(ctx, rc, mc, masterAddr)
		switch {
		case err != nil:
			why = err.Error()
		case !ok:
			why = w
		default:
			n, err := rc.DBSize(ctx).Result()
			if err == nil && n == keys {
				return true, ""
			}
			why = fmt.Sprintf("replica has %d keys of %d (%v)", n, keys, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false, why
}

// writeRuleKeys writes one key of each type on the master.
func writeRuleKeys(ctx context.Context, t *testing.T, c *goredis.Client) {
	t.Helper()
	cmds := [][]any{
		{"SET", "str", "value"},
		{"HSET", "hash", "f1", "v1", "f2", "2"},
		{"RPUSH", "list", "a", "b", "c"},
		{"SADD", "set", "x", "y", "z"},
		{"ZADD", "zset", "1", "one", "2.5", "two"},
		{"XADD", "stream", "*", "field", "1"},
		{"XADD", "stream", "*", "field", "2"},
		{"XGROUP", "CREATE", "stream", "group", "0"},
		{"XREADGROUP", "GROUP", "group", "consumer", "COUNT", "1", "STREAMS", "stream", ">"},
		{"SET", "ttl", "expires", "EX", "3600"},
	}
	for _, cmd := range cmds {
		if err := c.Do(ctx, cmd...).Err(); err != nil {
			t.Fatalf("%v: %v", cmd, err)
		}
	}
}

// checkRuleKeys compares the replica's copy with the master's, then checks
// that the replica follows a live write.
func checkRuleKeys(ctx context.Context, t *testing.T, mc, rc *goredis.Client) {
	t.Helper()
	for _, k := range []string{"str", "hash", "list", "set", "zset", "stream", "ttl"} {
		mt, _ := mc.Type(ctx, k).Result()
		rt, err := rc.Type(ctx, k).Result()
		if err != nil || rt != mt {
			t.Errorf("key %s: type %q on the replica, %q on the master (%v)", k, rt, mt, err)
		}
	}
	if n, err := rc.Exists(ctx, "replica-only").Result(); err != nil || n != 0 {
		t.Errorf("the replica kept its own key after a full sync (%d, %v)", n, err)
	}
	groups, err := rc.XInfoGroups(ctx, "stream").Result()
	if err != nil || len(groups) != 1 || groups[0].Name != "group" || groups[0].Pending != 1 {
		t.Errorf("the stream's consumer group on the replica: %+v %v", groups, err)
	}
	if ttl, err := rc.TTL(ctx, "ttl").Result(); err != nil || ttl <= 0 {
		t.Errorf("TTL on the replica: %s %v", ttl, err)
	}
	if err := mc.Set(ctx, "live", "write", 0).Err(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		v, err := rc.Get(ctx, "live").Result()
		if err == nil && v == "write" {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("the replica did not follow a live write: %q %v", v, err)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// serverVersion is the version the server reports, for the log.
func serverVersion(ctx context.Context, t *testing.T, c *goredis.Client) string {
	t.Helper()
	info, err := redis.ReadInfo(ctx, c, "server")
	if err != nil {
		t.Fatal(err)
	}
	engine, num := redis.EngineVersionFromInfo(info)
	if engine == redis.EngineValkey {
		return "valkey " + num
	}
	return num
}

// rdbLogLine is the replica's log line about why it could not load the
// master's snapshot, if any.
func rdbLogLine(ctx context.Context, n *container.Node) string {
	logs, err := n.Logs(ctx)
	if err != nil {
		return ""
	}
	for _, pattern := range []string{"RDB format version", "Wrong signature", "Failed trying to load"} {
		for _, l := range strings.Split(logs, "\n") {
			if !strings.Contains(l, pattern) {
				continue
			}
			if _, msg, ok := strings.Cut(l, " # "); ok {
				l = msg
			}
			return strings.TrimSpace(l)
		}
	}
	return ""
}

// pairName is a version as it may appear in a container name.
func pairName(v string) string { return strings.ReplaceAll(v, ":", "") }
