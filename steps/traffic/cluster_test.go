package traffic_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/understudy/understudy/internal/redistest"
	"github.com/understudy/understudy/steps/traffic"
)

// The options of a writer to a cluster are checked before it connects.
func TestClusterOptions(t *testing.T) {
	ctx := context.Background()
	cluster := &traffic.ClusterTarget{Addrs: []string{"127.0.0.1:1"}}
	for _, tc := range []struct {
		o    traffic.Options
		want string
	}{
		{traffic.Options{Cluster: cluster, Sentinel: &traffic.SentinelTarget{MasterName: "m", Addrs: []string{"127.0.0.1:2"}}}, "both Sentinel and Cluster are set"},
		{traffic.Options{Cluster: &traffic.ClusterTarget{}}, "a cluster without node addresses"},
		{traffic.Options{Cluster: cluster, DB: 1}, "database 1: a cluster has only database 0"},
		{traffic.Options{Cluster: cluster, Prefix: "app:{probe}:"}, `the key prefix "app:{probe}:" holds the hash tag {probe}: every key would hash to one slot`},
		{traffic.Options{Cluster: cluster, Prefix: "a{b{c}d}:"}, "hash tag {b{c}"},
	} {
		_, err := traffic.Start(ctx, tc.o)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Start(%+v) = %v, want %q", tc.o, err, tc.want)
		}
	}
	// Braces that make no hash tag are allowed: the writer only fails to
	// connect to the unused port.
	for _, prefix := range []string{"a{}b:", "a}b{"} {
		_, err := traffic.Start(ctx, traffic.Options{Cluster: cluster, Prefix: prefix})
		if err == nil || !strings.Contains(err.Error(), "traffic: connect to cluster 127.0.0.1:1: ") {
			t.Errorf("prefix %q: %v, want a connection error", prefix, err)
		}
	}
	// Verify for a cluster needs a writer to a cluster.
	s := redistest.Start(t)
	w := startWriter(t, ctx, traffic.Options{Addr: s.Addr, Password: s.Password, MaxWrites: 1})
	<-w.Done()
	if err := w.VerifyCluster(ctx, w.Stop()); err == nil || !strings.Contains(err.Error(), "does not write to a cluster") {
		t.Errorf("VerifyCluster of a writer to one server: %v", err)
	}
}

// TestWriterThroughCluster: with a Cluster target the writer writes
// through go-redis's cluster client to every master, follows a default
// CLUSTER FAILOVER of one shard without losing an acknowledged write, and
// VerifyCluster reads every acknowledged write back.
func TestWriterThroughCluster(t *testing.T) {
	set := redistest.StartCluster(t, 3, 1)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	w := startWriter(t, ctx, traffic.Options{
		Cluster: &traffic.ClusterTarget{Addrs: set.Addrs(), Password: set.Password},
		Rate:    1000, Prefix: "cluster:",
	})
	waitAcked := func(n int64, what string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for w.Acked() < n {
			if time.Now().After(deadline) {
				t.Fatalf("%s: %d writes acknowledged after 10 s, want %d", what, w.Acked(), n)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitAcked(1000, "before the failover")

	oldMaster, replica := set.Masters()[1], set.ReplicasOf(1)[0]
	rc, oc := replica.Client(), oldMaster.Client()
	defer rc.Close()
	defer oc.Close()
	start := time.Now()
	w.Mark(traffic.Mark{Step: "failover", Event: traffic.EventStart})
	if err := rc.Do(ctx, "CLUSTER", "FAILOVER").Err(); err != nil {
		t.Fatalf("CLUSTER FAILOVER on the replica: %v", err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		nr, err1 := rc.Do(ctx, "ROLE").Slice()
		or, err2 := oc.Do(ctx, "ROLE").Slice()
		if err1 == nil && err2 == nil && len(nr) > 0 && len(or) > 0 && nr[0] == "master" && or[0] == "slave" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("roles did not swap within 15 s: replica %v %v, old master %v %v", nr, err1, or, err2)
		}
		time.Sleep(5 * time.Millisecond)
	}
	w.Mark(traffic.Mark{Step: "failover", Event: traffic.EventEnd, Status: "passed"})
	swapped := time.Since(start)
	waitAcked(w.Acked()+1000, "after the failover")
	r := w.Stop()
	if err := w.VerifyCluster(ctx, r); err != nil {
		t.Fatal(err)
	}
	t.Logf("through the cluster client at %d/s: %d attempted, %d acknowledged, %d failed %v, %d lost; roles swapped %s after CLUSTER FAILOVER; longest write stall %.1f ms at %.0f ms",
		r.Rate, r.Attempted, r.Acked, r.Failed, r.ErrorsByKind, r.Lost, swapped.Round(time.Millisecond), r.MaxStallMS, r.MaxStallAt)
	if r.Lost != 0 || !r.Verified {
		t.Fatalf("%d of %d acknowledged writes lost (%v)", r.Lost, r.Acked, r.LostSamples)
	}

	// The keys are spread over every master, and nothing else is there (a
	// failed write may have been applied).
	var total int64
	var sizes []string
	for _, s := range set.Nodes() {
		c := s.Client()
		role, err := c.Do(ctx, "ROLE").Slice()
		if err != nil {
			c.Close()
			t.Fatal(err)
		}
		if role[0] != "master" {
			c.Close()
			continue
		}
		n, err := c.DBSize(ctx).Result()
		c.Close()
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			t.Errorf("master %s holds none of the writer's keys", s.Addr)
		}
		total += n
		sizes = append(sizes, fmt.Sprintf("%s: %d", s.Addr, n))
	}
	t.Logf("keys per master: %s", strings.Join(sizes, ", "))
	if len(sizes) != 3 || total < r.Acked || total > r.Attempted {
		t.Errorf("%d masters hold %d keys; %d writes were acknowledged of %d", len(sizes), total, r.Acked, r.Attempted)
	}
}
