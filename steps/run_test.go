package steps_test

import (
	"context"
	"strings"
	"testing"
	"time"

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
