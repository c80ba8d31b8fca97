package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/understudy/understudy/internal/redistest"
	"github.com/understudy/understudy/steps/apply"
	"github.com/understudy/understudy/steps/report"
)

// TestApplyClusterPlan: `plan --out` on a runbook that declares a Redis
// Cluster saves its nodes (roles, run ids); a failover since makes `apply
// PLAN` refuse before anything is sent, naming the nodes that changed; a
// plan saved again applies (every master failed over to its replica) with
// the canary writing through a cluster client, none lost. A lock left on
// the cluster by a dead run is then removed from every master by
// `understudy unlock`.
func TestApplyClusterPlan(t *testing.T) {
	set := redistest.StartCluster(t, 3, 1)
	t.Setenv("APPLY_CLUSTER_PASSWORD", set.Password)
	dir := t.TempDir()
	path := filepath.Join(dir, "cluster.hcl")
	var addrs []string
	for _, a := range set.Addrs() {
		addrs = append(addrs, strconv.Quote(a))
	}
	src := fmt.Sprintf(`cluster "cache" {
  nodes    = [%s]
  password = env("APPLY_CLUSTER_PASSWORD")
}

group "failover" {
  for_each = cluster.cache.masters
  step "cluster_failover" "failover" {
    master = each.node
  }
  step "cluster_check" "healthy" {
    nodes = cluster.cache.nodes
  }
}
`, strings.Join(addrs, ", "))
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (int, string, string) {
		t.Helper()
		var stdout, stderr bytes.Buffer
		code := run(args, &stdout, &stderr)
		if strings.Contains(stdout.String()+stderr.String(), set.Password) {
			t.Errorf("the password appears in the output of %v", args)
		}
		return code, stdout.String(), stderr.String()
	}
	plan := func(name string) (string, *apply.Plan) {
		t.Helper()
		out := filepath.Join(dir, name)
		if code, stdout, stderr := run("plan", path, "--out", out); code != exitOK {
			t.Fatalf("plan --out: exit %d\n%s\n%s", code, stdout, stderr)
		}
		p, err := apply.ReadPlan(out)
		if err != nil {
			t.Fatal(err)
		}
		return out, p
	}

	stale, p := plan("stale.plan")
	roles := map[string]string{}
	for _, n := range p.Nodes {
		roles[n.Name] = n.Role
	}
	if len(p.Nodes) != 6 || roles["cache-1"] != "master" || roles["cache-4"] != "replica" {
		t.Fatalf("plan: nodes %+v", p.Nodes)
	}

	// The third shard fails over by hand after the plan.
	ctx := context.Background()
	rc := set.ReplicasOf(2)[0].Client()
	if err := rc.Do(ctx, "CLUSTER", "FAILOVER").Err(); err != nil {
		t.Fatal(err)
	}
	rc.Close()
	waitRole(t, set.ReplicasOf(2)[0], "master")
	set.WaitReady(t, 30*time.Second)
	code, stdout, stderr := run("apply", stale, "--journal", filepath.Join(dir, "stale.journal"))
	if code != exitUsage || !strings.Contains(stderr, "nothing was sent") || !strings.Contains(stderr, `node "cache-6": is a master`) || !strings.Contains(stderr, `node "cache-3": is a replica`) {
		t.Errorf("apply of a plan made before a failover: exit %d, want %d naming cache-3 and cache-6\n%s\n%s", code, exitUsage, stdout, stderr)
	} else {
		t.Logf("apply of the plan made before the failover: exit %d: %s", code, strings.TrimSpace(stderr))
	}

	fresh, _ := plan("fresh.plan")
	reportPath := filepath.Join(dir, "report.json")
	code, stdout, stderr = run("apply", fresh, "--journal", filepath.Join(dir, "fresh.journal"), "--report", reportPath)
	rep, err := report.Read(reportPath)
	if code != exitOK || err != nil || rep.Status != "passed" {
		t.Fatalf("apply of a fresh plan: exit %d (report: %v)\n%s\n%s", code, err, stdout, stderr)
	}
	tr := rep.Traffic
	if tr == nil || tr.Acked == 0 || tr.Lost != 0 {
		t.Fatalf("canary: %+v\n%s", tr, stderr)
	}
	t.Logf("canary through the cluster client: %d acknowledged, %d lost, %d failed, longest stall %.1f ms", tr.Acked, tr.Lost, tr.Failed, tr.MaxStallMS)
	if !strings.Contains(stderr, `canary: 200 writes/s through cluster "cache"`) {
		t.Errorf("the log does not say the canary writes through the cluster:\n%s", stderr)
	}
	// The masters were cache-1, cache-2 and cache-6: each failed over.
	for _, n := range rep.Nodes {
		want := map[string]string{"cache-1": "replica", "cache-2": "replica", "cache-6": "replica", "cache-4": "master", "cache-5": "master", "cache-3": "master"}[n.Name]
		if n.RoleAfter != want {
			t.Errorf("report: %s is %q after the apply, want %q", n.Name, n.RoleAfter, want)
		}
	}

	// A lock a dead run left: unlock removes it from every master.
	var nodes []apply.Node
	for i, s := range set.Nodes() {
		c := s.Client()
		defer c.Close()
		nodes = append(nodes, apply.Node{Name: fmt.Sprintf("cache-%d", i+1), Client: c})
	}
	li := apply.NewLockInfo("apply", path, "test")
	if _, err := apply.Acquire(ctx, nodes, li, time.Minute); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr = run("unlock", path, li.ID)
	if code != exitOK || strings.Count(stdout, "Removed lock "+li.ID) != 3 {
		t.Errorf("unlock: exit %d, want %d and the lock removed from 3 masters\n%s\n%s", code, exitOK, stdout, stderr)
	}
	t.Logf("unlock: %s", strings.TrimSpace(stdout))
	if code, _, stderr = run("unlock", path, li.ID); code != exitFailed || !strings.Contains(stderr, "no node holds the lock") {
		t.Errorf("a second unlock: exit %d: %s", code, stderr)
	}
}

// waitRole waits until s reports role (ROLE's first element: master or
// slave).
func waitRole(t *testing.T, s *redistest.Server, role string) {
	t.Helper()
	c := s.Client()
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		v, err := c.Do(context.Background(), "ROLE").Slice()
		if err == nil && len(v) > 0 && v[0] == role {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: ROLE %v (%v), want %s", s.Addr, v, err, role)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
