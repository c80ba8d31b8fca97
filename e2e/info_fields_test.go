package e2e

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/understudy/understudy/steps/redis"
	"github.com/understudy/understudy/steps/rehearsal/container"
)

// Every field of the default INFO reply of every local image, on a master
// and on a replica of the same version, is one steps/redis knows: a runbook
// that reads a field no supported version reports is refused, so the list
// must hold all the real ones. The nodes are also put in the cheap states
// that add fields: keys in two databases and of every type (keysizes), an
// error reply (errorstats), appendonly yes, min-replicas-to-write, and a
// replica whose master is gone.
func TestInfoFieldsOfImages(t *testing.T) {
	session := container.NewSessionID()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := container.RemoveSession(ctx, session); err != nil {
			t.Error(err)
		}
		if got := leftovers(t, session); len(got) != 0 {
			t.Errorf("containers left behind: %v", got)
		}
	})
	for _, v := range container.Known() {
		name := strings.ReplaceAll(v.String(), ":", "")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			infoFieldsOfVersion(t, session, name, v)
		})
	}
}

func infoFieldsOfVersion(t *testing.T, session, name string, v redis.Version) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	pw := container.NewSessionID() + container.NewSessionID()
	opts := []container.Option{
		container.WithSession(session),
		container.WithPassword(pw), // the same on both: masterauth is right
		container.WithCatalog(container.Catalog{Source: container.SourceLocal}),
	}
	master, _, mc, rc := startPair(t, ctx, "info-"+name, v, v, opts...)

	// Keys of every type in db0 and one in db3, then the replica.
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(mc.ConfigSet(ctx, "repl-diskless-sync-delay", "0").Err())
	must(mc.Set(ctx, "s", "v", 0).Err())
	must(mc.RPush(ctx, "l", "a").Err())
	must(mc.SAdd(ctx, "set", "a").Err())
	must(mc.ZAdd(ctx, "z", goredis.Z{Score: 1, Member: "a"}).Err())
	must(mc.HSet(ctx, "h", "f", "v").Err())
	must(mc.XAdd(ctx, &goredis.XAddArgs{Stream: "x", Values: []string{"f", "v"}}).Err())
	db3 := goredis.NewClient(&goredis.Options{Addr: master.Addr(), Password: pw, DB: 3})
	defer db3.Close()
	must(db3.Set(ctx, "k", "v", 0).Err())
	must(rc.Do(ctx, "REPLICAOF", master.Host(), fmt.Sprint(master.Port())).Err())
	infoFieldsWaitLink(ctx, t, rc, "up")
	_ = mc.Do(ctx, "NO-SUCH-COMMAND").Err() // errorstat_ERR, 7.0+
	_ = rc.Set(ctx, "k", "v", 0).Err()      // errorstat_READONLY, 7.0+

	mi := infoFieldsCheck(ctx, t, "master", mc)
	ri := infoFieldsCheck(ctx, t, "replica", rc)
	for _, f := range []string{"role", "slave0", "db0", "db3"} {
		if _, ok := mi[f]; !ok {
			t.Errorf("master: INFO has no %s", f)
		}
	}
	for _, f := range []string{"role", "master_link_status", "slave_repl_offset"} {
		if _, ok := ri[f]; !ok {
			t.Errorf("replica: INFO has no %s", f)
		}
	}
	if mi["role"] != "master" || ri["role"] != "slave" {
		t.Errorf("roles: master reports %q, replica %q", mi["role"], ri["role"])
	}

	must(mc.ConfigSet(ctx, "appendonly", "yes").Err())
	must(mc.ConfigSet(ctx, "min-replicas-to-write", "1").Err())
	mi = infoFieldsCheck(ctx, t, "master with appendonly and min-replicas-to-write", mc)
	for _, f := range []string{"aof_current_size", "min_slaves_good_slaves"} {
		if _, ok := mi[f]; !ok {
			t.Errorf("master: INFO has no %s after CONFIG SET", f)
		}
	}

	// The master goes away: the replica reports its link down.
	if err := master.Terminate(ctx); err != nil {
		t.Fatal(err)
	}
	infoFieldsWaitLink(ctx, t, rc, "down")
	ri = infoFieldsCheck(ctx, t, "replica without its master", rc)
	if _, ok := ri["master_link_down_since_seconds"]; !ok {
		t.Errorf("replica: INFO has no master_link_down_since_seconds with the link down")
	}
	t.Logf("%s: master %d fields, replica %d fields, all known", v, len(mi), len(ri))
}

// infoFieldsCheck reads the default INFO and fails on every field that
// steps/redis does not know, naming the closest known one.
func infoFieldsCheck(ctx context.Context, t *testing.T, who string, c *goredis.Client) map[string]string {
	t.Helper()
	info, err := redis.ReadInfo(ctx, c)
	if err != nil {
		t.Fatalf("%s: INFO: %v", who, err)
	}
	var unknown []string
	for f := range info {
		if !redis.KnownInfoField(f) {
			unknown = append(unknown, f)
		}
	}
	sort.Strings(unknown)
	for _, f := range unknown {
		t.Errorf("%s: INFO field %q (value %q) is not known to steps/redis (closest: %q)", who, f, info[f], redis.SuggestInfoField(f))
	}
	return info
}

// infoFieldsWaitLink waits until the replica's master_link_status is want.
func infoFieldsWaitLink(ctx context.Context, t *testing.T, c *goredis.Client, want string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		info, err := redis.ReadInfo(ctx, c, "replication")
		if err == nil && info["master_link_status"] == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("replica: master_link_status is not %q after 20s (last error %v, status %q)", want, err, info["master_link_status"])
		}
		time.Sleep(50 * time.Millisecond)
	}
}
