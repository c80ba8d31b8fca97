package kinds_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/understudy/understudy/dsl"
	"github.com/understudy/understudy/internal/redistest"
	"github.com/understudy/understudy/steps"
	"github.com/understudy/understudy/steps/kinds"
	"github.com/understudy/understudy/steps/live"
	"github.com/understudy/understudy/steps/traffic"
)

// TestSentinelSwitchoverStep runs a runbook with a sentinel_switchover step
// against a real master, two replicas and three sentinels (the live
// backend, as apply does), while a go-redis failover client writes through
// Sentinel: the step passes, the chosen replica is the master every
// sentinel names, and no acknowledged write is lost.
func TestSentinelSwitchoverStep(t *testing.T) {
	set := redistest.StartSentinelSet(t)
	t.Setenv("SENTINEL_STEP_PASSWORD", set.Password)
	var src strings.Builder
	for i, s := range set.Servers() {
		fmt.Fprintf(&src, "node %q {\n  address  = %q\n  password = env(\"SENTINEL_STEP_PASSWORD\")\n}\n\n", []string{"m", "r1", "r2"}[i], s.Addr)
	}
	for i, s := range set.Sentinels {
		fmt.Fprintf(&src, "node \"s%d\" {\n  address = %q\n}\n\n", i+1, s.Addr)
	}
	fmt.Fprintf(&src, `step "sentinel_switchover" "promote" {
  master_name = %q
  sentinels   = [node.s1, node.s2, node.s3]
  from        = node.m
  to          = node.r1
}

step "assert" "r1_is_master" {
  condition = node.r1.role == "master" && node.m.role == "replica"
}
`, set.Name)
	rb, diags := dsl.LoadSource("sentinel.hcl", []byte(src.String()), dsl.LoadOptions{Kinds: kinds.Registry, Mode: dsl.ModeLive})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	ctx := context.Background()
	w, err := traffic.Start(ctx, traffic.Options{
		Sentinel: &traffic.SentinelTarget{MasterName: set.Name, Addrs: set.SentinelAddrs()},
		Password: set.Password, Rate: 1000, Prefix: "sentinel-step:",
	})
	if err != nil {
		t.Fatal(err)
	}
	topo := live.New(rb)
	defer topo.Close(ctx)
	var log strings.Builder
	res := steps.New(rb, steps.Options{Topology: topo, Hooks: []steps.Hook{steps.NewProgress(&log, rb)}}).Run(ctx)
	time.Sleep(500 * time.Millisecond)
	rep := w.Stop()
	t.Logf("%s", log.String())
	if res.Status != steps.StatusPassed {
		t.Fatalf("run %s: %v", res.Status, res.Diagnostics)
	}
	final := set.Replicas[0].Client()
	defer final.Close()
	if err := w.Verify(ctx, final, rep); err != nil {
		t.Fatal(err)
	}
	t.Logf("writer through Sentinel: %d acknowledged, %d lost, %d failed, longest stall %.1f ms", rep.Acked, rep.Lost, rep.Failed, rep.MaxStallMS)
	if rep.Acked == 0 || rep.Lost != 0 || rep.Failed != 0 {
		t.Errorf("writer: %d acknowledged, %d lost, %d failed", rep.Acked, rep.Lost, rep.Failed)
	}
	for _, s := range set.Sentinels {
		c := s.Client()
		addr, err := c.Do(ctx, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", set.Name).StringSlice()
		c.Close()
		if err != nil || len(addr) != 2 || addr[0]+":"+addr[1] != set.Replicas[0].Addr {
			t.Errorf("sentinel %s names %v (%v), want %s", s.Addr, addr, err, set.Replicas[0].Addr)
		}
	}
}
