package redis_test

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/understudy/understudy/internal/redistest"
	"github.com/understudy/understudy/steps/redis"
)

// deadClient is a client of a loopback port nothing listens on.
func deadClient(t *testing.T) *goredis.Client {
	t.Helper()
	c := goredis.NewClient(&goredis.Options{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(redistest.FreePort(t))), MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { c.Close() })
	return c
}

// TestSentinel reads a real deployment (a master, two replicas, three
// sentinels) through each function of sentinel.go, then checks that
// SentinelSwitchover refuses, or undoes, what it must, leaving the
// deployment as it was.
func TestSentinel(t *testing.T) {
	set := redistest.StartSentinelSet(t)
	sentinels := sentinelClients(t, set)
	ctx := context.Background()

	t.Run("views", func(t *testing.T) {
		nodeVersion, err := redis.VersionFromInfo(set.Master.Info(t, "server"))
		if err != nil {
			t.Fatal(err)
		}
		for i, c := range sentinels {
			addr, err := redis.SentinelMasterAddr(ctx, c, set.Name)
			if err != nil || addr != set.Master.Addr {
				t.Errorf("sentinel %d: master %q, %v; want %s", i, addr, err, set.Master.Addr)
			}
			m, err := redis.SentinelMasterInfo(ctx, c, set.Name)
			if err != nil {
				t.Fatalf("sentinel %d: SentinelMasterInfo: %v", i, err)
			}
			want := redis.SentinelMaster{Name: set.Name, Addr: set.Master.Addr, Flags: []string{"master"}, Quorum: 2,
				DownAfter: redistest.SentinelDownAfter, FailoverTimeout: redistest.SentinelFailoverTimeout, ParallelSyncs: 1,
				NumOtherSentinels: 2, NumReplicas: 2}
			if m.Name != want.Name || m.Addr != want.Addr || strings.Join(m.Flags, ",") != "master" || m.Quorum != want.Quorum ||
				m.DownAfter != want.DownAfter || m.FailoverTimeout != want.FailoverTimeout || m.ParallelSyncs != want.ParallelSyncs ||
				m.NumOtherSentinels != want.NumOtherSentinels || m.NumReplicas != want.NumReplicas || m.FailoverInProgress() || m.FailoverState != "" {
				t.Errorf("sentinel %d: master %+v, want %+v", i, m, want)
			}
			reps, err := redis.SentinelReplicas(ctx, c, set.Name)
			if err != nil || len(reps) != 2 {
				t.Fatalf("sentinel %d: replicas %+v, %v; want 2", i, reps, err)
			}
			for _, s := range set.Replicas {
				r, ok := redis.FindReplica(reps, s.Addr)
				if !ok || r.Down() || r.LinkStatus != "ok" || r.MasterAddr != set.Master.Addr || r.Priority != 100 || r.RunID == "" || r.InfoRefresh > 11*time.Second {
					t.Errorf("sentinel %d: replica %s: %+v (found %v); want up, link ok, following %s, priority 100", i, s.Addr, r, ok, set.Master.Addr)
				}
			}
			peers, err := redis.SentinelPeers(ctx, c, set.Name)
			if err != nil || len(peers) != 2 {
				t.Fatalf("sentinel %d: peers %+v, %v; want 2", i, peers, err)
			}
			for _, p := range peers {
				if p.Down() || p.Addr == set.Sentinels[i].Addr || p.RunID == "" {
					t.Errorf("sentinel %d: peer %+v", i, p)
				}
			}
			if ok, why, err := redis.SentinelCheckQuorum(ctx, c, set.Name); !ok || err != nil {
				t.Errorf("sentinel %d: CKQUORUM %v %q %v; want ok", i, ok, why, err)
			}
			if v, err := redis.SentinelEngine(ctx, c); err != nil || v != nodeVersion {
				t.Errorf("sentinel %d: engine %v, %v; want %s, the data nodes' build", i, v, err, nodeVersion)
			}
		}
		if _, err := redis.SentinelEngine(ctx, nodeClient(t, set.Master)); err == nil {
			t.Errorf("SentinelEngine on a data node: no error")
		}
	})

	t.Run("unknown master", func(t *testing.T) {
		c := sentinels[0]
		_, err1 := redis.SentinelMasterAddr(ctx, c, "nope")
		_, err2 := redis.SentinelMasterInfo(ctx, c, "nope")
		_, err3 := redis.SentinelReplicas(ctx, c, "nope")
		_, err4 := redis.SentinelPeers(ctx, c, "nope")
		_, _, err5 := redis.SentinelCheckQuorum(ctx, c, "nope")
		for i, err := range []error{err1, err2, err3, err4, err5} {
			if !errors.Is(err, redis.ErrUnknownMaster) {
				t.Errorf("call %d: %v, want ErrUnknownMaster", i+1, err)
			}
		}
	})

	t.Run("discover", func(t *testing.T) {
		dead1, dead2 := deadClient(t), deadClient(t)
		for _, tc := range []struct {
			name      string
			sentinels []*goredis.Client
			master    string
			wantIndex int
			wantErr   []string
		}{
			{"first answers", sentinels, set.Name, 0, nil},
			{"dead ones skipped", []*goredis.Client{dead1, dead2, sentinels[1]}, set.Name, 2, nil},
			{"none answers", []*goredis.Client{dead1, dead2}, set.Name, -1, []string{dead1.Options().Addr, dead2.Options().Addr, "connection refused"}},
			{"unknown name", []*goredis.Client{dead1, sentinels[0]}, "nope", -1, []string{dead1.Options().Addr, sentinels[0].Options().Addr, "does not monitor"}},
			{"no sentinel", nil, set.Name, -1, []string{"no sentinel given"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				i, addr, err := redis.DiscoverSentinel(ctx, tc.sentinels, tc.master)
				if tc.wantErr == nil {
					if err != nil || i != tc.wantIndex || addr != set.Master.Addr {
						t.Errorf("got %d %q %v, want %d %s", i, addr, err, tc.wantIndex, set.Master.Addr)
					}
					return
				}
				if err == nil {
					t.Fatalf("got %d %q, want an error", i, addr)
				}
				for _, w := range tc.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not say %q", err, w)
					}
				}
			})
		}
	})

	t.Run("ckquorum not reached", func(t *testing.T) {
		if err := sentinels[0].Do(ctx, "SENTINEL", "SET", set.Name, "quorum", "5").Err(); err != nil {
			t.Fatal(err)
		}
		defer sentinels[0].Do(ctx, "SENTINEL", "SET", set.Name, "quorum", "2")
		ok, why, err := redis.SentinelCheckQuorum(ctx, sentinels[0], set.Name)
		if ok || err != nil || !strings.HasPrefix(why, "NOQUORUM 3 usable Sentinels") {
			t.Errorf("CKQUORUM with quorum 5 of 3: %v %q %v", ok, why, err)
		}
		_, err = redis.SentinelSwitchover(ctx, switchoverOptions(t, set, sentinels, set.Master, set.Replicas[0]))
		if !errors.Is(err, redis.ErrSwitchoverRefused) || !strings.Contains(err.Error(), "quorum not reachable") || !strings.Contains(err.Error(), "NOQUORUM") {
			t.Errorf("switchover without quorum: %v", err)
		}
		checkUntouched(t, set, sentinels)
	})

	standalone := redistest.Start(t)
	for _, tc := range []struct {
		name   string
		change func(o *redis.SentinelSwitchoverOptions)
		want   string
	}{
		{"replica of nothing", func(o *redis.SentinelSwitchoverOptions) {
			o.Replica = redis.SwitchoverNode{Addr: standalone.Addr, Client: nodeClient(t, standalone)}
		}, "is not a replica of the master " + set.Master.Addr + ": it is a master"},
		{"replica is the master", func(o *redis.SentinelSwitchoverOptions) { o.Replica = o.Master }, "is the master"},
		{"wrong master", func(o *redis.SentinelSwitchoverOptions) {
			o.Master, o.Replica = o.Replica, o.Master
		}, "as the master of \"mymaster\", not " + set.Replicas[0].Addr},
		{"replica not steerable", func(o *redis.SentinelSwitchoverOptions) { o.Others = nil }, "could promote the replica " + set.Replicas[1].Addr},
		{"unknown name", func(o *redis.SentinelSwitchoverOptions) { o.MasterName = "nope" }, "does not monitor \"nope\""},
		{"no sentinel answers", func(o *redis.SentinelSwitchoverOptions) {
			o.Sentinels = []*goredis.Client{deadClient(t)}
		}, "no sentinel answered"},
		{"coordinated unavailable", func(o *redis.SentinelSwitchoverOptions) {
			// Refused on every version: Redis has no COORDINATED, and on
			// Valkey 9 one of the sentinels does not answer.
			o.Method = redis.SentinelCoordinated
			o.Sentinels = append(o.Sentinels, deadClient(t))
		}, "COORDINATED needs every sentinel on Valkey 9.0+ and answering"},
		{"unknown method", func(o *redis.SentinelSwitchoverOptions) { o.Method = "fast" }, "unknown method"},
	} {
		t.Run("refuses/"+tc.name, func(t *testing.T) {
			o := switchoverOptions(t, set, sentinels, set.Master, set.Replicas[0])
			tc.change(&o)
			_, err := redis.SentinelSwitchover(ctx, o)
			if !errors.Is(err, redis.ErrSwitchoverRefused) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want a refusal saying %q", err, tc.want)
			}
			checkUntouched(t, set, sentinels)
		})
	}

	t.Run("refuses/replica link down", func(t *testing.T) {
		r := set.Replicas[0]
		c := nodeClient(t, r)
		if err := c.ConfigSet(ctx, "masterauth", "wrong").Err(); err != nil {
			t.Fatal(err)
		}
		if err := c.Do(ctx, "CLIENT", "KILL", "TYPE", "master").Err(); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for r.Info(t, "replication")["master_link_status"] != "down" {
			if time.Now().After(deadline) {
				t.Fatal("the replica's link did not go down")
			}
			time.Sleep(10 * time.Millisecond)
		}
		_, err := redis.SentinelSwitchover(ctx, switchoverOptions(t, set, sentinels, set.Master, r))
		if !errors.Is(err, redis.ErrSwitchoverRefused) || !strings.Contains(err.Error(), "link to the master is down") {
			t.Errorf("got %v, want a refusal naming the link", err)
		}
		if err := c.ConfigSet(ctx, "masterauth", set.Password).Err(); err != nil {
			t.Fatal(err)
		}
		redistest.WaitInSync(t, r, set.Master)
		set.WaitSentinelsReady(t, set.Master.Addr, 30*time.Second)
		checkUntouched(t, set, sentinels)
	})

	// A failure after the changes began: every sentinel refuses SENTINEL
	// FAILOVER (ACL), once the priorities, the fence and the pause are in
	// place. All of it must be undone.
	t.Run("undoes on failure", func(t *testing.T) {
		for _, c := range sentinels {
			if err := c.Do(ctx, "ACL", "SETUSER", "default", "-sentinel|failover").Err(); err != nil {
				t.Fatalf("ACL SETUSER on %s: %v", c.Options().Addr, err)
			}
			defer c.Do(ctx, "ACL", "SETUSER", "default", "+@all")
		}
		res, err := redis.SentinelSwitchover(ctx, switchoverOptions(t, set, sentinels, set.Master, set.Replicas[0]))
		if err == nil || errors.Is(err, redis.ErrSwitchoverRefused) || !strings.Contains(err.Error(), "SENTINEL FAILOVER") || !strings.Contains(err.Error(), "nothing was switched") {
			t.Errorf("got %v, want SENTINEL FAILOVER's error, nothing switched", err)
		}
		if res.Pause <= 0 || res.Method != redis.SentinelMethodPauseWrite {
			t.Errorf("result %+v: want a pause-write run that paused", res)
		}
		checkUntouched(t, set, sentinels)
	})
}

// checkUntouched asserts that the deployment is as StartSentinelSet left
// it: the same master, replicas following it, priorities 100, no fence, no
// pause, every sentinel naming the master.
func checkUntouched(t *testing.T, set *redistest.SentinelSet, sentinels []*goredis.Client) {
	t.Helper()
	checkSwitched(t, set, sentinels, set.Master)
}
