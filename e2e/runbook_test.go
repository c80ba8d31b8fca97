package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"github.com/understudy/understudy/steps/report"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The "promote first, switch the application a second later" order of many
// upgrade guides loses acknowledged writes; the rehearsal must say so and
// fail.
func TestUnsafeRunbookLosesWrites(t *testing.T) {
	res := rehearse(t, "runbooks/examples/unsafe-promote-first.hcl", "--keys", "10000")
	rep := res.report
	if res.code != 1 || rep.Status != "failed" {
		t.Fatalf("exit %d, status %s: the unsafe runbook passed\n%s", res.code, rep.Status, res.stdout)
	}
	for _, s := range rep.Steps {
		if s.Status != "passed" {
			t.Errorf("step %s %s: the failure must come from the lost writes, not a step", s.Name, s.Status)
		}
	}
	if rep.Traffic == nil || rep.Traffic.Lost == 0 {
		t.Fatalf("no lost writes reported: %+v", rep.Traffic)
	}
	if !strings.Contains(strings.Join(rep.Errors, "\n"), "acknowledged write(s) lost") {
		t.Errorf("errors do not name the lost writes: %v", rep.Errors)
	}
	t.Logf("unsafe order lost %d of %d acknowledged writes", rep.Traffic.Lost, rep.Traffic.Acked)
}

// In-place rolling upgrade of a master and its replica, with the upgrade
// step replacing containers and the verify step on its SCAN path.
func TestRollingUpgrade(t *testing.T) {
	res := rehearse(t, "runbooks/rolling-upgrade.hcl", "--keys", "20000", "--var", "from=7.0", "--var", "to=8.0")
	rep := res.report
	if res.code != 0 || rep.Status != "passed" {
		t.Fatalf("exit %d, status %s, errors %v\n%s", res.code, rep.Status, rep.Errors, tail(res.stderr, 40))
	}
	for _, n := range rep.Nodes {
		if !strings.HasPrefix(n.VersionBefore, "7.0.") || !strings.HasPrefix(n.VersionAfter, "8.0.") {
			t.Errorf("node %s: %s → %s, want 7.0 → 8.0", n.Name, n.VersionBefore, n.VersionAfter)
		}
	}
	var vf struct {
		Method string `json:"method"`
	}
	if err := json.Unmarshal(stepByName(rep, "same_data").Output, &vf); err != nil || vf.Method != "scan" {
		t.Errorf("verify used %q (%v), want scan", vf.Method, err)
	}
	if tr := rep.Traffic; tr.Lost != 0 || tr.Failed != 0 {
		t.Errorf("traffic: %d lost, %d failed", tr.Lost, tr.Failed)
	}
	if !rep.Data.Equal {
		t.Errorf("data: %+v", rep.Data)
	}
}

// failingReplicaSwap writes the shipped replica-swap runbook with a step
// that fails inserted before the step named before, so that its own rollback
// block is rehearsed. It returns the file and the failing condition's line.
func failingReplicaSwap(t *testing.T, before string) (string, int) {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(root, "runbooks", "replica-swap.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	const failing = `step "assert" "impossible" {
  condition     = node.new.keys > 1000000000
  error_message = "the new node holds ${node.new.keys} keys, not a billion"
}

`
	text := string(src)
	i := strings.Index(text, before)
	if i < 0 {
		t.Fatalf("no %s in the runbook", before)
	}
	text = text[:i] + failing + text[i:]
	path := filepath.Join(t.TempDir(), "replica-swap-failing.hcl")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, strings.Count(text[:i], "\n") + 2
}

// A failed step after the switchover runs the shipped rollback: the status
// is rolled_back, the error points at the runbook line, and the switch back
// loses nothing.
func TestRollback(t *testing.T) {
	path, line := failingReplicaSwap(t, `step "assert" "clients_moved"`)
	res := rehearse(t, path, "--keys", "5000")
	rep := res.report
	if res.code != 1 || rep.Status != "rolled_back" {
		t.Fatalf("exit %d, status %s\n%s", res.code, rep.Status, res.stdout)
	}
	failed := stepByName(rep, "impossible")
	if failed == nil || failed.Status != "failed" {
		t.Fatalf("step impossible: %+v", failed)
	}
	if !regexp.MustCompile(fmt.Sprintf(`^%s:%d:\d+: .*the new node holds \d+ keys, not a billion`, regexp.QuoteMeta(path), line)).MatchString(failed.Error) {
		t.Errorf("error does not point at the condition's line: %q", failed.Error)
	}
	back := stepByName(rep, "back")
	if back == nil || back.Status != "passed" || len(rep.Rollback) != 3 {
		t.Fatalf("rollback: %+v", rep.Rollback)
	}
	if s := stepByName(rep, "detach_new"); s.Status != "skipped" {
		t.Errorf("detach_new %s, want skipped: the switchover had happened", s.Status)
	}
	if old := nodeByName(rep, "old"); old.RoleAfter != "master" {
		t.Errorf("after the rollback the old node is %s", old.RoleAfter)
	}
	if tr := rep.Traffic; tr.Lost != 0 || tr.Failed != 0 {
		t.Errorf("traffic over two switchovers: %d lost, %d failed", tr.Lost, tr.Failed)
	}
	if rep.Data.FinalMaster != "old" || !rep.Data.Equal {
		t.Errorf("data: %+v", rep.Data)
	}
}

// A failure before the switchover: the shipped rollback detaches the new
// node and leaves the old master serving; the switch back is skipped by its
// when.
func TestRollbackBeforeSwitch(t *testing.T) {
	path, _ := failingReplicaSwap(t, `step "switchover" "promote"`)
	res := rehearse(t, path, "--keys", "5000")
	rep := res.report
	if res.code != 1 || rep.Status != "rolled_back" {
		t.Fatalf("exit %d, status %s\n%s", res.code, rep.Status, res.stdout)
	}
	for name, want := range map[string]string{"impossible": "failed", "back": "skipped", "detach_new": "passed", "not_split": "passed"} {
		if s := stepByName(rep, name); s == nil || s.Status != want {
			t.Errorf("step %s: %+v, want %s", name, s, want)
		}
	}
	if n := nodeByName(rep, "new"); n.RoleAfter != "master" {
		t.Errorf("new node is a %s after being detached", n.RoleAfter)
	}
	if rep.Data.FinalMaster != "old" || !rep.Data.Equal || rep.Traffic.Lost != 0 || rep.Traffic.Failed != 0 {
		t.Errorf("data %+v, traffic lost %d failed %d", rep.Data, rep.Traffic.Lost, rep.Traffic.Failed)
	}
}

// A signal at any moment ends the rehearsal interrupted, exit code 130, with
// what it interrupted named in the summary and the report — never passed —
// and every container removed: Ctrl-C (SIGINT) or SIGTERM while a step
// waits, and SIGINT after the last step passed.
func TestInterrupt(t *testing.T) {
	for _, tc := range []struct {
		name, runbook string
		sig           syscall.Signal
		// after is the log line after which the signal is sent.
		after       string
		interrupted string
	}{
		{"SIGINT in a wait", "e2e/testdata/wait-forever.hcl", syscall.SIGINT, "step 1/1", `during step "forever"`},
		{"SIGTERM in a wait", "e2e/testdata/wait-forever.hcl", syscall.SIGTERM, "step 1/1", `during step "forever"`},
		{"SIGINT after the last step", "e2e/testdata/one-step.hcl", syscall.SIGINT, "  passed after", "after the last step"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reportPath := filepath.Join(t.TempDir(), "report.json")
			run := start(t, 3*time.Minute, nil, "rehearse", tc.runbook, "--keys", "1000", "--rate", "200", "--report", reportPath)
			cmd, stdout, stderr := run.cmd, run.stdout, run.log
			session := ""
			sc := bufio.NewScanner(stderr)
			for sc.Scan() {
				line := sc.Text()
				if m := sessionRe.FindStringSubmatch(line); m != nil {
					session = m[1]
				}
				if strings.HasPrefix(line, tc.after) {
					break
				}
			}
			if session == "" {
				t.Fatal("no session in the log")
			}
			if tc.sig == syscall.SIGINT && tc.after == "step 1/1" {
				if got := leftovers(t, session); len(got) == 0 {
					t.Fatal("no container running before the interrupt")
				}
				time.Sleep(500 * time.Millisecond)
			}
			start := time.Now()
			_ = cmd.Process.Signal(tc.sig)
			go func() {
				for sc.Scan() {
				}
			}()
			err := cmd.Wait()
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 130 {
				t.Errorf("exit after %s: %v, want code 130\n%s", tc.sig, err, stdout.String())
			}
			if d := time.Since(start); d > time.Minute {
				t.Errorf("took %s to stop", d)
			}
			if got := leftovers(t, session); len(got) != 0 {
				t.Errorf("containers left after the signal: %v", got)
			}
			if !strings.Contains(stdout.String(), ": INTERRUPTED in") || !strings.Contains(stdout.String(), tc.interrupted) {
				t.Errorf("the summary does not say what was interrupted (%s):\n%s", tc.interrupted, stdout.String())
			}
			if strings.Contains(stdout.String(), "Condition not met") || strings.Contains(stdout.String(), "PASSED") {
				t.Errorf("the summary lies:\n%s", stdout.String())
			}
			rep, err := report.Read(reportPath)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Status != "interrupted" || !strings.Contains(rep.Interrupted, tc.interrupted) {
				t.Errorf("report status %s, interrupted %q", rep.Status, rep.Interrupted)
			}
			if rep.Traffic == nil || rep.Traffic.Lost != 0 {
				t.Errorf("traffic %+v", rep.Traffic)
			}
			if tc.interrupted == "after the last step" {
				if s := stepByName(rep, "master"); s == nil || s.Status != "passed" {
					t.Errorf("the last step: %+v", s)
				}
			}
		})
	}
}

// A step with on_failure = "continue" that fails: the next steps run and
// the rehearsal fails, exit 1, naming it. A warning-only assert fails
// nothing and shows as a warning in the summary, the report and the plan.
func TestContinueFailsTheRun(t *testing.T) {
	res := rehearse(t, "e2e/testdata/continue.hcl", "--keys", "1000", "--rate", "200")
	if res.code != 1 {
		t.Fatalf("exit %d, want 1\n%s\n%s", res.code, res.stdout, tail(res.stderr, 30))
	}
	for _, want := range []string{": FAILED in", "failed      assert      not_a_replica", "passed      command     still_runs", "1 warning(s)",
		`step assert "not_a_replica" failed (on_failure = "continue"`, "warning: e2e/testdata/continue.hcl:22:"} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("the summary lacks %q:\n%s", want, res.stdout)
		}
	}
	rep := res.report
	if rep.Status != "failed" || len(rep.Warnings) != 1 || !strings.Contains(rep.Warnings[0], "clients are connected") {
		t.Errorf("report: status %s, warnings %v", rep.Status, rep.Warnings)
	}
	if s := stepByName(rep, "few_clients"); s == nil || s.Status != "passed" || len(s.Warnings) != 1 {
		t.Errorf("the warning step: %+v", s)
	}
	plan := understudy(t, time.Minute, "plan", "e2e/testdata/continue.hcl")
	if !strings.Contains(plan.stdout, "a warning only") {
		t.Errorf("the plan does not say the assert is a warning:\n%s", plan.stdout)
	}
}

// Every node's image is checked before the first container starts: a
// missing one is refused with what builds (or pulls) it, and nothing starts.
func TestMissingImageRefusedBeforeAnyContainer(t *testing.T) {
	before := leftovers(t, "")
	for _, images := range []string{"local", "auto"} {
		res := understudy(t, time.Minute, "rehearse", "runbooks/replica-swap.hcl", "--var", "to=7.2", "--images", images)
		if res.code != 3 {
			t.Errorf("--images %s: exit %d, want 3", images, res.code)
		}
		for _, want := range []string{"7.2", "images/build.sh", "nothing was started"} {
			if !strings.Contains(res.stderr, want) {
				t.Errorf("--images %s: the refusal lacks %q:\n%s", images, want, res.stderr)
			}
		}
		if strings.Contains(res.stderr, "starting") || sessionRe.MatchString(res.stderr) {
			t.Errorf("--images %s: containers were started:\n%s", images, res.stderr)
		}
	}
	if after := leftovers(t, ""); len(after) > len(before) {
		t.Errorf("containers before %v, after %v", before, after)
	}
}
