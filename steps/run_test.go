package steps_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/understudy/understudy/dsl"
	"github.com/understudy/understudy/internal/redistest"
	"github.com/understudy/understudy/internal/runtest"
	"github.com/understudy/understudy/steps"
)

// until re-runs the action with back-off until the condition holds; the
// step's own output is visible to it.
func TestUntilRetriesTheAction(t *testing.T) {
	s := redistest.Start(t)
	rb := runtest.Load(t, runtest.OneNode+`
step "command" "incr" {
  node    = node.a
  command = ["INCR", "counter"]
  until   = step.incr.output >= 3
  retry {
    interval = "10ms"
  }
}
step "assert" "three" {
  condition = step.incr.output == 3 && node.a.keys == 1
}
`, runtest.NodeVars(s)...)
	res := runtest.RunLive(t, rb)
	if res.Status != steps.StatusPassed {
		t.Fatalf("status %s: %v", res.Status, res.Diagnostics)
	}
	if res.Steps[0].Attempts != 3 {
		t.Errorf("attempts %d, want 3", res.Steps[0].Attempts)
	}
	c := s.Client()
	defer c.Close()
	if n, _ := c.Get(context.Background(), "counter").Int(); n != 3 {
		t.Errorf("counter is %d on the server, want 3", n)
	}
}

// A failed assertion names the runbook line of its condition, evaluates the
// error message from live state, skips the remaining steps and runs the
// rollback.
func TestFailureRunsRollback(t *testing.T) {
	s := redistest.Start(t)
	rb := runtest.Load(t, runtest.OneNode+`
step "command" "mark" {
  node    = node.a
  command = ["SET", "phase", "main"]
}
step "assert" "impossible" {
  condition     = node.a.role == "replica"
  error_message = "node a is a ${node.a.role} with ${node.a.keys} key(s)"
}
step "command" "never" {
  node    = node.a
  command = ["SET", "never", "1"]
}
rollback {
  step "command" "undo" {
    node    = node.a
    command = ["SET", "phase", "rolled back"]
  }
}
`, runtest.NodeVars(s)...)
	res := runtest.RunLive(t, rb)
	if res.Status != steps.StatusRolledBack {
		t.Fatalf("status %s, want rolled_back", res.Status)
	}
	d := res.Steps[1].Diag
	if want := runtest.LineOf(rb, `condition     = node.a.role == "replica"`); d == nil || d.Subject == nil || d.Subject.Start.Line != want {
		t.Fatalf("diagnostic %+v does not point at line %d", d, want)
	}
	if !strings.Contains(d.Detail, "node a is a master with 1 key(s)") || !strings.Contains(d.Summary, `assert "impossible"`) {
		t.Errorf("diagnostic: %s / %s", d.Summary, d.Detail)
	}
	if res.Steps[2].Status != steps.StatusNotRun || res.Rollback[0].Status != steps.StatusPassed {
		t.Errorf("statuses: never %s, undo %s", res.Steps[2].Status, res.Rollback[0].Status)
	}
	c := s.Client()
	defer c.Close()
	ctx := context.Background()
	if v, _ := c.Get(ctx, "phase").Result(); v != "rolled back" {
		t.Errorf("phase = %q", v)
	}
	if n, _ := c.Exists(ctx, "never").Result(); n != 0 {
		t.Error("a step after the failure ran")
	}
}

// A wait that never holds fails at its timeout after several attempts; with
// on_failure = "continue" the run goes on, with "abort" no rollback runs.
func TestTimeoutAndOnFailure(t *testing.T) {
	s := redistest.Start(t)
	rb := runtest.Load(t, runtest.OneNode+`
step "wait" "never" {
  until      = node.a.role == "replica"
  timeout    = "400ms"
  on_failure = "continue"
  retry {
    interval     = "20ms"
    max_interval = "50ms"
  }
}
step "command" "after" {
  node       = node.a
  command    = ["NOSUCHCOMMAND"]
  on_failure = "abort"
}
rollback {
  step "command" "undo" {
    node    = node.a
    command = ["SET", "rolled", "back"]
  }
}
`, runtest.NodeVars(s)...)
	start := time.Now()
	res := runtest.RunLive(t, rb)
	if res.Status != steps.StatusFailed || len(res.Rollback) != 0 {
		t.Fatalf("status %s, rollback %d steps; want failed without rollback", res.Status, len(res.Rollback))
	}
	w := res.Steps[0]
	if w.Status != steps.StatusFailed || w.Attempts < 4 || !strings.Contains(w.Diag.Detail, "Timed out after 400ms") {
		t.Errorf("wait: %s after %d attempts: %s", w.Status, w.Attempts, w.Diag.Detail)
	}
	if w.Duration < 400*time.Millisecond || time.Since(start) > 10*time.Second {
		t.Errorf("wait took %s", w.Duration)
	}
	if d := res.Steps[1].Diag; d == nil || !strings.Contains(d.Detail, "NOSUCHCOMMAND") || !strings.Contains(d.Detail, "unknown command") {
		t.Errorf("command error: %+v", d)
	}
}

// when skips a step whose condition is false; a step that did not run
// reads as status "pending".
func TestWhen(t *testing.T) {
	s := redistest.Start(t)
	rb := runtest.Load(t, runtest.OneNode+`
step "command" "skipped" {
  when    = node.a.role == "replica"
  node    = node.a
  command = ["SET", "skipped", "ran"]
}
step "command" "runs" {
  when    = step.skipped.status == "skipped"
  node    = node.a
  command = ["SET", "runs", "ran"]
}
step "assert" "fails" {
  condition = step.runs.output != "OK"
}
step "assert" "never" {
  condition = true
}
rollback {
  step "command" "undo" {
    when    = step.never.status == "pending" && step.fails.status == "failed"
    node    = node.a
    command = ["SET", "undo", "ran"]
  }
}
`, runtest.NodeVars(s)...)
	res := runtest.RunLive(t, rb)
	if res.Status != steps.StatusRolledBack {
		t.Fatalf("status %s: %v", res.Status, res.Diagnostics)
	}
	if res.Steps[0].Status != steps.StatusSkipped || res.Steps[0].Attempts != 0 || res.Steps[1].Status != steps.StatusPassed {
		t.Errorf("statuses %s (%d attempts), %s", res.Steps[0].Status, res.Steps[0].Attempts, res.Steps[1].Status)
	}
	if res.Rollback[0].Status != steps.StatusPassed {
		t.Errorf("rollback step %s: a step that did not run must read as pending", res.Rollback[0].Status)
	}
	c := s.Client()
	defer c.Close()
	if n, _ := c.Exists(context.Background(), "skipped").Result(); n != 0 {
		t.Error("the skipped step ran")
	}
}

// A step with on_failure = "continue" that fails lets the next steps run,
// like make -k, and the run still fails, naming it.
func TestContinueStillFails(t *testing.T) {
	s := redistest.Start(t)
	rb := runtest.Load(t, runtest.OneNode+`
step "assert" "broken" {
  condition  = node.a.role == "replica"
  on_failure = "continue"
}
step "command" "after" {
  node    = node.a
  command = ["SET", "after", "1"]
}
`, runtest.NodeVars(s)...)
	res := runtest.RunLive(t, rb)
	if res.Status != steps.StatusFailed {
		t.Fatalf("status %s, want failed", res.Status)
	}
	if res.Steps[1].Status != steps.StatusPassed {
		t.Errorf("the step after a continue did not run: %s", res.Steps[1].Status)
	}
	if f := res.Failed(); len(f) != 1 || f[0].Step.Name != "broken" {
		t.Errorf("failed steps: %v", f)
	}
}

// severity = "warning" records a false assert as a warning of the step;
// the run passes and says so.
func TestWarningAssert(t *testing.T) {
	s := redistest.Start(t)
	rb := runtest.Load(t, runtest.OneNode+`
step "assert" "soft" {
  condition     = node.a.role == "replica"
  error_message = "a is a ${node.a.role}"
  severity      = "warning"
}
step "wait" "block" {
  until = true
  assert {
    condition = node.a.keys > 1000
    severity  = "warning"
  }
}
`, runtest.NodeVars(s)...)
	res := runtest.RunLive(t, rb)
	if res.Status != steps.StatusPassed {
		t.Fatalf("status %s: %v", res.Status, res.Diagnostics)
	}
	if len(res.Warnings) != 2 || res.Warnings[0].Detail != "a is a master" || res.Steps[1].Warnings == nil {
		t.Errorf("warnings: %v", res.Warnings)
	}
}

// Cancelling the run (SIGINT, SIGTERM) in a wait ends it interrupted, with
// the step named, never passed and never "condition not met"; the rollback
// still runs.
func TestInterruptInAWait(t *testing.T) {
	s := redistest.Start(t)
	rb := runtest.Load(t, runtest.OneNode+`
step "command" "mark" {
  node    = node.a
  command = ["SET", "mark", "1"]
}
step "wait" "forever" {
  until   = node.a.role == "replica"
  timeout = "1m"
}
step "command" "never" {
  node    = node.a
  command = ["SET", "never", "1"]
}
rollback {
  step "command" "undo" {
    node    = node.a
    command = ["DEL", "mark"]
  }
}
`, runtest.NodeVars(s)...)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(500*time.Millisecond, cancel)
	res := runtest.Run(t, ctx, rb)
	if res.Status != steps.StatusInterrupted || res.Interrupted != "forever" {
		t.Fatalf("status %s, interrupted %q", res.Status, res.Interrupted)
	}
	w := res.Steps[1]
	if !w.Interrupted || w.Diag == nil || !strings.Contains(w.Diag.Summary, "interrupted") || strings.Contains(w.Diag.Summary, "Condition not met") {
		t.Errorf("wait result: %+v", w.Diag)
	}
	if res.Steps[2].Status != steps.StatusNotRun || res.RollbackStatus != steps.StatusRolledBack || res.Rollback[0].Status != steps.StatusPassed {
		t.Errorf("after the interrupt: %s, rollback %s", res.Steps[2].Status, res.RollbackStatus)
	}
	c := s.Client()
	defer c.Close()
	if n, _ := c.Exists(context.Background(), "mark", "never").Result(); n != 0 {
		t.Errorf("%d of mark/never exist: the rollback did not undo, or a step ran after the interrupt", n)
	}
}

// A signal between two steps (the last one done) stops the run
// interrupted without starting the next step.
func TestInterruptBetweenSteps(t *testing.T) {
	s := redistest.Start(t)
	rb := runtest.Load(t, runtest.OneNode+twoSets, runtest.NodeVars(s)...)
	ctx, cancel := context.WithCancel(context.Background())
	res := runtest.Run(t, ctx, rb, &cancelAfter{step: "first", cancel: cancel})
	if res.Status != steps.StatusInterrupted || res.Steps[0].Status != steps.StatusPassed || res.Steps[1].Status != steps.StatusNotRun {
		t.Fatalf("status %s, steps %s %s", res.Status, res.Steps[0].Status, res.Steps[1].Status)
	}
}

// twoSets is two steps that each set a key on node a.
const twoSets = `
step "command" "first" {
  node    = node.a
  command = ["SET", "first", "1"]
}
step "command" "second" {
  node    = node.a
  command = ["SET", "second", "1"]
}
`

// cancelAfter cancels the run when a step ends.
type cancelAfter struct {
	steps.NilHook
	step   string
	cancel func()
}

func (c *cancelAfter) PostStep(r *steps.StepResult) (steps.HookAction, error) {
	if r.Step.Name == c.step {
		c.cancel()
	}
	return steps.HookContinue, nil
}

// A hook can halt the run: the step fails with the hook's reason and the
// run ends failed, like any failure.
func TestHookHalts(t *testing.T) {
	s := redistest.Start(t)
	rb := runtest.Load(t, runtest.OneNode+twoSets, runtest.NodeVars(s)...)
	res := runtest.RunLive(t, rb, haltAt{step: "second"})
	if res.Status != steps.StatusFailed || res.Steps[1].Status != steps.StatusFailed || !strings.Contains(res.Steps[1].Diag.Detail, "lease lost") {
		t.Fatalf("status %s, second %s: %v", res.Status, res.Steps[1].Status, res.Steps[1].Diag)
	}
	c := s.Client()
	defer c.Close()
	if n, _ := c.Exists(context.Background(), "second").Result(); n != 0 {
		t.Error("the halted step ran")
	}
}

// haltAt halts the run before the step called step.
type haltAt struct {
	steps.NilHook
	step string
}

func (h haltAt) PreStep(s *dsl.Step) (steps.HookAction, error) {
	if s.Name == h.step {
		return steps.HookHalt, errors.New("lease lost")
	}
	return steps.HookContinue, nil
}

// An assert's condition and error_message are evaluated on the same live
// values: INFO is read once per node for both.
func TestAssertMessageFromTheSameValues(t *testing.T) {
	s := redistest.Start(t)
	rb := runtest.Load(t, runtest.OneNode+`
step "assert" "count" {
  condition     = tonumber(node.a.info.total_commands_processed) < 0
  error_message = "processed ${node.a.info.total_commands_processed}"
}
`, runtest.NodeVars(s)...)
	c := s.Client()
	defer c.Close()
	ctx := context.Background()
	infoCalls := func() int64 {
		stats, err := c.Info(ctx, "commandstats").Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(stats, "\n") {
			if rest, ok := strings.CutPrefix(l, "cmdstat_info:calls="); ok {
				n, _ := strconv.ParseInt(rest[:strings.IndexByte(rest, ',')], 10, 64)
				return n
			}
		}
		return 0
	}
	before := infoCalls()
	res := runtest.RunLive(t, rb)
	after := infoCalls()
	// The first infoCalls counts itself in after; the step adds its own.
	if got := after - before - 1; got != 1 {
		t.Errorf("the assert read INFO %d times, want once for condition and message", got)
	}
	if res.Status != steps.StatusFailed || !strings.HasPrefix(res.Steps[0].Diag.Detail, "processed ") {
		t.Errorf("status %s: %v", res.Status, res.Steps[0].Diag)
	}
}
