package proxy_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/understudy/understudy/internal/redistest"
	"github.com/understudy/understudy/steps/rehearsal/proxy"
)

// startProxy listens on loopback and closes the proxy when the test ends.
func startProxy(t *testing.T, target string, opts ...proxy.Option) *proxy.Proxy {
	t.Helper()
	p, err := proxy.Listen("127.0.0.1:0", target, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("close proxy: %v", err)
		}
	})
	return p
}

// client returns a go-redis client, with default options, closed when the
// test ends.
func client(t *testing.T, addr, password string) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, Password: password})
	t.Cleanup(func() { c.Close() })
	return c
}

// info returns one field of INFO section.
func info(t *testing.T, ctx context.Context, c *redis.Client, section, field string) string {
	t.Helper()
	m, err := c.InfoMap(ctx, section).Result()
	if err != nil {
		t.Fatalf("INFO %s: %v", section, err)
	}
	for _, fields := range m {
		if v, ok := fields[field]; ok {
			return v
		}
	}
	return ""
}

func infoInt(t *testing.T, ctx context.Context, c *redis.Client, section, field string) int64 {
	t.Helper()
	v := info(t, ctx, c, section, field)
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		t.Fatalf("INFO %s %s = %q: %v", section, field, v, err)
	}
	return n
}

// setCalls is how many SET commands the server has run.
func setCalls(t *testing.T, ctx context.Context, c *redis.Client) int64 {
	t.Helper()
	v := info(t, ctx, c, "commandstats", "cmdstat_set") // calls=N,usec=...
	if v == "" {
		return 0
	}
	var calls int64
	for _, kv := range strings.Split(v, ",") {
		if len(kv) > 6 && kv[:6] == "calls=" {
			calls, _ = strconv.ParseInt(kv[6:], 10, 64)
		}
	}
	return calls
}

// pair starts a master and its replica, in sync, with the same password.
func pair(t *testing.T, ctx context.Context) (a, b *redistest.Server, ca, cb *redis.Client) {
	t.Helper()
	pw := redistest.RandomPassword()
	fast := redistest.WithArgs("--repl-diskless-sync-delay", "0")
	a = redistest.Start(t, redistest.WithPassword(pw), fast)
	b = redistest.Start(t, redistest.WithPassword(pw), fast)
	ca, cb = client(t, a.Addr, pw), client(t, b.Addr, pw)
	if err := cb.ReplicaOf(ctx, a.Host, strconv.Itoa(a.Port)).Err(); err != nil {
		t.Fatalf("REPLICAOF: %v", err)
	}
	waitInSync(t, ctx, ca, cb)
	return a, b, ca, cb
}

// waitInSync waits until the replica's link is up and it has the master's
// offset read first.
func waitInSync(t *testing.T, ctx context.Context, master, replica *redis.Client) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if info(t, ctx, replica, "replication", "master_link_status") == "up" &&
			info(t, ctx, replica, "replication", "master_sync_in_progress") == "0" {
			off := infoInt(t, ctx, master, "replication", "master_repl_offset")
			if infoInt(t, ctx, replica, "replication", "slave_repl_offset") >= off {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("replica not in sync after 10 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
