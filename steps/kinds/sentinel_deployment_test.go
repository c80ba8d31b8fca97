package kinds_test

import (
	"context"
	"slices"
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

// TestSentinelDeploymentGroups runs a runbook that names no node against a
// real master, two replicas and three sentinels (the live backend, as
// apply does): the groups repeat over the replicas the sentinels report
// when each group starts, sentinel.cache.master follows the switchover,
// the switchover picks a replica by itself, and a writer through Sentinel
// loses nothing.
func TestSentinelDeploymentGroups(t *testing.T) {
	set := redistest.StartSentinelSet(t)
	t.Setenv("SENTINEL_GROUPS_PASSWORD", set.Password)
	src := set.Deployment("SENTINEL_GROUPS_PASSWORD") + `
step "sentinel_check" "healthy" {
  deployment = sentinel.cache
}

group "replicas" {
  for_each = sentinel.cache.replicas
  step "assert" "is_replica" {
    condition     = each.node.role == "replica" && each.key == each.node.name
    error_message = "${each.key} is a ${each.node.role}"
  }
  step "wait" "synced" {
    until = in_sync(each.node, sentinel.cache.master)
  }
}

step "sentinel_switchover" "failover" {
  deployment = sentinel.cache
}

step "assert" "moved" {
  condition     = sentinel.cache.master.name == "cache-2" && sentinel.cache.master.role == "master"
  error_message = "the sentinels name ${sentinel.cache.master.name}"
}

group "after" {
  for_each = sentinel.cache.replicas
  step "wait" "follows" {
    until = in_sync(each.node, sentinel.cache.master)
  }
}

step "sentinel_check" "healthy_after" {
  deployment = sentinel.cache
}
`
	rb, diags := dsl.LoadSource("groups.hcl", []byte(src), dsl.LoadOptions{Kinds: kinds.Registry, Mode: dsl.ModeLive})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	ctx := context.Background()
	w, err := traffic.Start(ctx, traffic.Options{
		Sentinel: &traffic.SentinelTarget{MasterName: set.Name, Addrs: set.SentinelAddrs()},
		Password: set.Password, Rate: 1000, Prefix: "sentinel-groups:",
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
	var names []string
	for _, s := range res.Steps {
		names = append(names, s.Step.Name)
	}
	want := []string{"healthy", "is_replica[cache-2]", "synced[cache-2]", "is_replica[cache-3]", "synced[cache-3]", "failover", "moved", "follows[cache-1]", "follows[cache-3]", "healthy_after"}
	if !slices.Equal(names, want) {
		t.Errorf("steps ran: %v\nwant %v", names, want)
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
}

// TestSentinelDiscoveryPassesOverADownSentinel: with one sentinel stopped,
// sentinel.cache.master and the replicas are read from the others.
func TestSentinelDiscoveryPassesOverADownSentinel(t *testing.T) {
	set := redistest.StartSentinelSet(t)
	t.Setenv("SENTINEL_DOWN_PASSWORD", set.Password)
	set.Sentinels[0].Stop()
	src := set.Deployment("SENTINEL_DOWN_PASSWORD") + `
step "assert" "master" {
  condition     = sentinel.cache.master.name == "cache-1" && sentinel.cache.master.role == "master"
  error_message = "the sentinels name ${sentinel.cache.master.name}"
}

group "replicas" {
  for_each = sentinel.cache.replicas
  step "assert" "replica" {
    condition = each.node.role == "replica"
  }
}
`
	rb, diags := dsl.LoadSource("down.hcl", []byte(src), dsl.LoadOptions{Kinds: kinds.Registry, Mode: dsl.ModeLive})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	ctx := context.Background()
	topo := live.New(rb)
	defer topo.Close(ctx)
	res := steps.New(rb, steps.Options{Topology: topo}).Run(ctx)
	if res.Status != steps.StatusPassed {
		t.Fatalf("run %s: %v", res.Status, res.Diagnostics)
	}
	var names []string
	for _, s := range res.Steps {
		names = append(names, s.Step.Name)
	}
	if want := []string{"master", "replica[cache-2]", "replica[cache-3]"}; !slices.Equal(names, want) {
		t.Errorf("steps ran: %v, want %v", names, want)
	}
}
