package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/understudy/understudy/internal/redistest"
	"github.com/understudy/understudy/steps/apply"
	"github.com/understudy/understudy/steps/report"
)

// TestApplySentinelPlan: `plan --out` on a runbook that declares a
// Sentinel deployment saves the sentinels among the nodes (role
// "sentinel", their run ids); a sentinel restarted since makes `apply
// PLAN` refuse, naming only that sentinel; a plan saved again applies (a
// lossless switchover) with the canary writing through Sentinel.
func TestApplySentinelPlan(t *testing.T) {
	set := redistest.StartSentinelSet(t)
	t.Setenv("APPLY_SENTINEL_PASSWORD", set.Password)
	dir := t.TempDir()
	path := filepath.Join(dir, "sentinel.hcl")
	src := set.Deployment("APPLY_SENTINEL_PASSWORD") + `
step "sentinel_check" "healthy" {
  deployment = sentinel.cache
}

step "sentinel_switchover" "failover" {
  deployment = sentinel.cache
}

step "sentinel_check" "healthy_after" {
  deployment = sentinel.cache
}
`
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
		b, err := os.ReadFile(out)
		if err != nil || strings.Contains(string(b), set.Password) {
			t.Fatalf("plan file: %v (or it holds the password)", err)
		}
		p, err := apply.ReadPlan(out)
		if err != nil {
			t.Fatal(err)
		}
		return out, p
	}

	stale, p := plan("stale.plan")
	byName := map[string]apply.NodeState{}
	for _, n := range p.Nodes {
		byName[n.Name] = n
	}
	for i, s := range set.Sentinels {
		n := byName[fmt.Sprintf("cache-sentinel-%d", i+1)]
		if n.Role != "sentinel" || n.Address != s.Addr || n.RunID == "" || n.Version == "" {
			t.Errorf("plan: sentinel %d is %+v", i+1, n)
		}
	}
	if n := byName["cache-1"]; n.Role != "master" || n.ReplID == "" {
		t.Errorf("plan: cache-1 is %+v", n)
	}

	restartSentinel(t, set.Sentinels[1])
	set.WaitSentinelsReady(t, set.Master.Addr, 30*time.Second)
	code, stdout, stderr := run("apply", stale, "--journal", filepath.Join(dir, "stale.journal"))
	if code != exitUsage || !strings.Contains(stderr, "nothing was sent") || !strings.Contains(stderr, `node "cache-sentinel-2": run id`) || strings.Count(stderr, "\n  - ") != 1 {
		t.Errorf("apply of a plan made before a sentinel restarted: exit %d, want %d with one reason, the sentinel's run id\n%s\n%s", code, exitUsage, stdout, stderr)
	} else {
		t.Logf("apply of the plan made before the restart: exit %d: %s", code, strings.TrimSpace(stderr))
	}

	fresh, _ := plan("fresh.plan")
	reportPath := filepath.Join(dir, "report.json")
	code, stdout, stderr = run("apply", fresh, "--journal", filepath.Join(dir, "fresh.journal"), "--report", reportPath)
	rep, err := report.Read(reportPath)
	if code != exitOK || err != nil || rep.Status != "passed" {
		t.Fatalf("apply of a fresh plan: exit %d (report: %v)\n%s\n%s", code, err, stdout, stderr)
	}
	tr := rep.Traffic
	if tr == nil || tr.Acked == 0 || tr.Lost != 0 || tr.Failed != 0 {
		t.Fatalf("canary: %+v\n%s", tr, stderr)
	}
	t.Logf("canary through Sentinel: %d acknowledged, %d lost, %d failed, longest stall %.1f ms", tr.Acked, tr.Lost, tr.Failed, tr.MaxStallMS)
	if !strings.Contains(stderr, "canary: 200 writes/s through Sentinel") {
		t.Errorf("the log does not say the canary writes through Sentinel:\n%s", stderr)
	}
	for _, n := range rep.Nodes {
		if strings.HasPrefix(n.Name, "cache-sentinel-") && n.RoleAfter != "sentinel" {
			t.Errorf("report: %s is %q after the apply", n.Name, n.RoleAfter)
		}
	}
	if b, err := os.ReadFile(reportPath); err != nil || strings.Contains(string(b), set.Password) {
		t.Errorf("report: %v (or it holds the password)", err)
	}
}

// restartSentinel kills the sentinel and starts it again with its
// configuration file (same port, id and view; a new process, so a new run
// id), with the binary internal/redistest starts sentinels with, and waits
// until it answers PING.
func restartSentinel(t *testing.T, s *redistest.Sentinel) {
	t.Helper()
	s.Stop()
	bin, args := os.Getenv("REDISTEST_SENTINEL"), []string{s.ConfFile}
	if bin == "" {
		if p, err := exec.LookPath("redis-sentinel"); err == nil {
			bin = p
		} else {
			bin, args = os.Getenv("REDISTEST_SERVER"), []string{s.ConfFile, "--sentinel"}
			if bin == "" {
				bin = "redis-server"
			}
		}
	}
	cmd := exec.Command(bin, args...)
	if err := cmd.Start(); err != nil {
		t.Fatalf("restart sentinel %s: %v", s.Addr, err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_, _ = cmd.Process.Wait()
	})
	c := s.Client()
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		err := c.Ping(context.Background()).Err()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("restarted sentinel %s does not answer: %v\n%s", s.Addr, err, s.Log())
		}
		<-tick.C
	}
}
