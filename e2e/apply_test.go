package e2e

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
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
	} else if !slices.Contains(args, "--resume") && !slices.Contains(args, "--journal") {
		all = append(all, "--journal", filepath.Join(t.TempDir(), "apply.journal"))
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
				if b, err := os.ReadFile(plan); err != nil || strings.Contains(string(b), n.old.password) {
					t.Errorf("the plan file holds the password (or cannot be read: %v)", err)
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
	if res.code != 2 || !strings.Contains(res.stderr, "ops@bastion") || !strings.Contains(res.stderr, "runbooks/replica-swap.hcl 0123456789abcdef") {
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

// applyUntil runs understudy apply with env and kills it with SIGKILL as
// soon as its progress shows the line starting with at: a crash in the
// middle of the run.
func applyUntil(t *testing.T, env []string, at string, args ...string) string {
	t.Helper()
	run := start(t, 5*time.Minute, env, args...)
	var log strings.Builder
	killed := false
	sc := bufio.NewScanner(run.log)
	for sc.Scan() {
		log.WriteString(sc.Text() + "\n")
		if !killed && strings.HasPrefix(sc.Text(), at) {
			if err := run.cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			killed = true
		}
	}
	err := run.cmd.Wait()
	if !killed {
		t.Fatalf("apply %v ended (%v) before %q\n%s\n%s", args, err, at, run.stdout, log.String())
	}
	return log.String()
}

// TestApplyKilledAndResumed kills understudy apply with SIGKILL twice, once
// before the switchover (during the initial sync) and once after it
// (during the last verify), and resumes it from its journal each time: the
// passed steps are not run again, the lock of the dead run is taken over,
// the run finishes, and the independent writer lost nothing.
func TestApplyKilledAndResumed(t *testing.T) {
	n := startLiveNodes(t, "7.0", "8.0")
	journal := filepath.Join(t.TempDir(), "swap.journal")
	w := startFileWriter(t, n.file, n.old.password, "app:writer:")
	time.Sleep(300 * time.Millisecond)

	applyUntil(t, n.env, `step 4/10 wait "initial_sync"`, "apply", "runbooks/replica-swap.hcl", "--var", "from=7.0", "--var", "to=8.0", "--auto-approve", "--journal", journal)
	if r := roleOf(t, n.new); r != "slave" {
		t.Fatalf("after the first kill the new node is %s, want a replica syncing from the old one", r)
	}
	log := applyUntil(t, n.env, `step 10/10 verify "same_data"`, "apply", "--resume", journal)
	if !strings.Contains(log, "passed before the resume") {
		t.Errorf("first resume: no step shown as passed before the resume\n%s", log)
	}
	if r := roleOf(t, n.new); r != "master" {
		t.Fatalf("after the second kill the new node is %s, want the master", r)
	}
	res := applyRun(t, n.env, "apply", "--resume", journal)
	c := n.new.client()
	defer c.Close()
	acked, lost := w.finish(t, c)
	stall, failed, errs := w.stats()
	t.Logf("second resume: exit %d\n%s\n%s", res.code, res.stdout, tail(res.stderr, 30))
	if res.code != 0 || res.report == nil || res.report.Status != "passed" {
		t.Fatalf("second resume: exit %d", res.code)
	}
	for _, s := range res.report.Steps[:9] {
		if s.Status != "passed" {
			t.Errorf("step %s: %s after the resumes", s.Name, s.Status)
		}
	}
	if r := roleOf(t, n.old); r != "slave" {
		t.Errorf("old node is %s at the end, want a replica of the new one", r)
	}
	if got, _ := n.file.read(); got != n.new.addr {
		t.Errorf("endpoint file holds %q, want the new node %s", got, n.new.addr)
	}
	if keys, err := c.Keys(context.Background(), "understudy:*").Result(); err != nil || len(keys) != 0 {
		t.Errorf("understudy keys left on the new master: %d, e.g. %v (%v)", len(keys), keys[:min(3, len(keys))], err)
	}
	t.Logf("independent writer across two kills and resumes: %d acknowledged, %d lost, %d failed, longest stall %.1f ms %v", acked, lost, failed, float64(stall.Microseconds())/1000, errs)
	if acked < 500 || lost != 0 || failed != 0 {
		t.Errorf("independent writer: %d acknowledged, %d lost, %d failed", acked, lost, failed)
	}
}

// TestApplyDryRun: --dry-run reads the nodes for real and runs each step
// once, prints the write commands and the switch it would send, and sends
// none: the servers' command statistics show no write.
func TestApplyDryRun(t *testing.T) {
	n := startLiveNodes(t, "7.0", "8.0")
	for _, s := range []*liveServer{n.old, n.new} {
		c := s.client()
		_ = c.ConfigResetStat(context.Background()).Err()
		_ = c.Close()
	}
	res := applyRun(t, n.env, "apply", "runbooks/replica-swap.hcl", "--var", "from=7.0", "--var", "to=8.0", "--dry-run")
	t.Logf("dry run: exit %d\n%s", res.code, res.stdout)
	if res.code != 0 || !strings.Contains(res.stdout, "would send to node new: CONFIG set masterauth (sensitive)") ||
		!strings.Contains(res.stdout, `source_is_master         1 attempt(s)`) || strings.Contains(res.stdout+res.stderr, n.old.password) {
		t.Errorf("dry run: exit %d\n%s\n%s", res.code, res.stdout, tail(res.stderr, 30))
	}
	for _, s := range []*liveServer{n.old, n.new} {
		c := s.client()
		stats := c.Info(context.Background(), "commandstats").Val()
		_ = c.Close()
		if !strings.Contains(stats, "cmdstat_info:") {
			t.Errorf("%s: no INFO in the dry run's statistics: the reads were not real", s.addr)
		}
		for _, line := range strings.Split(stats, "\n") {
			for _, cmd := range []string{"replicaof", "slaveof", "config|set", "client|pause", "client|kill", "acl|setuser", "failover", "set:", "del:", "eval"} {
				if strings.HasPrefix(line, "cmdstat_"+cmd) {
					t.Errorf("%s received a write in a dry run: %s", s.addr, line)
				}
			}
		}
		if r := roleOf(t, s); r != "master" {
			t.Errorf("%s is %s after a dry run", s.addr, r)
		}
	}
	if got, _ := n.file.read(); got != n.old.addr {
		t.Errorf("the dry run switched the endpoint to %q", got)
	}
}
