package e2e

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/understudy/understudy/steps/report"
)

// applyRun runs understudy with env from the repository root and reads its
// report when it wrote one.
func applyRun(t *testing.T, env []string, args ...string) result {
	t.Helper()
	path := filepath.Join(t.TempDir(), "report.json")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	all := append(args, "--report", path)
	if args[0] != "apply" {
		all = args
	}
	cmd := exec.CommandContext(ctx, binary, all...)
	cmd.Dir, cmd.Env = root, env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := result{stdout: stdout.String(), stderr: stderr.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		res.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("understudy %v: %v", all, err)
	}
	if rep, err := report.Read(path); err == nil {
		res.report = rep
	}
	return res
}

// TestApplyReplicaSwap applies the shipped replica-swap.hcl to servers the
// test started itself (7.0 → 8.0), with an independent writer that follows
// the endpoint file the switch command rewrites, once with --auto-approve
// and once from a saved plan; then a stale plan and an unapproved apply are
// refused before any write.
func TestApplyReplicaSwap(t *testing.T) {
	for _, how := range []string{"auto-approve", "saved plan"} {
		t.Run(strings.ReplaceAll(how, " ", "-"), func(t *testing.T) {
			n := startLiveNodes(t, "7.0", "8.0")
			args := []string{"apply", "runbooks/replica-swap.hcl", "--var", "from=7.0", "--var", "to=8.0", "--auto-approve"}
			if how == "saved plan" {
				plan := filepath.Join(t.TempDir(), "swap.plan")
				res := applyRun(t, n.env, "plan", "runbooks/replica-swap.hcl", "--var", "from=7.0", "--var", "to=8.0", "--out", plan)
				if res.code != 0 || !strings.Contains(res.stdout, "Saved the plan") {
					t.Fatalf("plan --out: exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
				}
				args = []string{"apply", plan}
			}
			w := startFileWriter(t, n.file, n.old.password, "app:writer:")
			time.Sleep(500 * time.Millisecond)
			res := applyRun(t, n.env, args...)
			c := n.new.client()
			defer c.Close()
			acked, lost := w.finish(t, c)
			stall, failed, errs := w.stats()
			t.Logf("apply (%s): exit %d\n%s", how, res.code, res.stdout)
			if res.code != 0 || res.report == nil || res.report.Status != "passed" {
				t.Fatalf("apply: exit %d\n%s\n%s", res.code, res.stdout, tail(res.stderr, 40))
			}
			if got, _ := n.file.read(); got != n.new.addr {
				t.Errorf("endpoint file holds %q, want the new node %s", got, n.new.addr)
			}
			if r := roleOf(t, n.old); r != "slave" {
				t.Errorf("old node is %s, want a replica of the new one", r)
			}
			tr := res.report.Traffic
			if tr == nil || tr.Acked < 100 || tr.Lost != 0 || tr.Failed != 0 {
				t.Errorf("canary: %+v", tr)
			} else {
				t.Logf("canary: %d acknowledged, %d lost, %d failed, longest stall %.1f ms", tr.Acked, tr.Lost, tr.Failed, tr.MaxStallMS)
			}
			if keys, err := c.Keys(context.Background(), "understudy:canary:*").Result(); err != nil || len(keys) != 0 {
				t.Errorf("canary keys left on the new master: %d (%v)", len(keys), err)
			}
			t.Logf("independent writer: %d acknowledged, %d lost, %d failed, longest stall %.1f ms %v", acked, lost, failed, float64(stall.Microseconds())/1000, errs)
			if acked < 500 || lost != 0 || failed != 0 {
				t.Errorf("independent writer: %d acknowledged, %d lost, %d failed", acked, lost, failed)
			}
		})
	}
}

// TestApplyRefusals: an apply that would change servers is refused before
// its first write when the plan is stale (a node restarted since), when
// nobody approved it, and when a node cannot be reached; nothing is sent.
func TestApplyRefusals(t *testing.T) {
	n := startLiveNodes(t, "7.0", "8.0")
	plan := filepath.Join(t.TempDir(), "swap.plan")
	if res := applyRun(t, n.env, "plan", "runbooks/replica-swap.hcl", "--var", "from=7.0", "--var", "to=8.0", "--out", plan); res.code != 0 {
		t.Fatalf("plan --out: exit %d\n%s", res.code, res.stderr)
	}
	n.new.restart(t)
	res := applyRun(t, n.env, "apply", plan)
	if res.code != 2 || !strings.Contains(res.stderr, `node "new": run id`) || !strings.Contains(res.stderr, "restarted") {
		t.Errorf("stale plan: exit %d\n%s", res.code, res.stderr)
	}
	res = applyRun(t, n.env, "apply", "runbooks/replica-swap.hcl", "--var", "from=7.0", "--var", "to=8.0")
	if res.code != 2 || !strings.Contains(res.stderr, "no terminal to approve on") {
		t.Errorf("unapproved: exit %d\n%s", res.code, res.stderr)
	}
	env := append(append([]string{}, n.env...), "NEW_ADDRESS=127.0.0.1:1")
	res = applyRun(t, env, "apply", "runbooks/replica-swap.hcl", "--var", "from=7.0", "--var", "to=8.0", "--auto-approve")
	if res.code != 2 || !strings.Contains(res.stderr, `node "new" at 127.0.0.1:1`) {
		t.Errorf("unreachable: exit %d\n%s", res.code, res.stderr)
	}

	// A lock left by a run that died: refused, naming the holder, until
	// understudy unlock breaks it with its ID.
	c := n.old.client()
	defer c.Close()
	held := `{"id":"0123456789abcdef","operation":"apply","who":"ops@bastion","pid":4242,"runbook":"runbooks/replica-swap.hcl","version":"dev","created":"2026-11-26T10:00:00Z"}`
	if err := c.Set(context.Background(), "understudy:lock", held, time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	res = applyRun(t, n.env, "apply", "runbooks/replica-swap.hcl", "--var", "from=7.0", "--var", "to=8.0", "--auto-approve")
	if res.code != 2 || !strings.Contains(res.stderr, "ops@bastion") || !strings.Contains(res.stderr, "understudy unlock runbooks/replica-swap.hcl 0123456789abcdef") {
		t.Errorf("held lock: exit %d\n%s", res.code, res.stderr)
	}
	res = applyRun(t, n.env, "unlock", "runbooks/replica-swap.hcl", "0123456789abcdef", "--var", "from=7.0", "--var", "to=8.0")
	if res.code != 0 || c.Exists(context.Background(), "understudy:lock").Val() != 0 {
		t.Errorf("unlock: exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	// Nothing but reads reached the servers: no write command in their
	// statistics beyond the test's own SET and the unlock's script.
	for _, s := range []*liveServer{n.old, n.new} {
		if r := roleOf(t, s); r != "master" {
			t.Errorf("%s is %s after refused applies", s.addr, r)
		}
		sc := s.client()
		stats := sc.Info(context.Background(), "commandstats").Val()
		_ = sc.Close()
		for _, cmd := range []string{"replicaof", "slaveof", "config|set", "client|pause", "client|kill", "acl|setuser", "failover"} {
			if strings.Contains(stats, "cmdstat_"+cmd+":") {
				t.Errorf("%s received %s during refused applies", s.addr, cmd)
			}
		}
	}
}
