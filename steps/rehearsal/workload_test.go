package rehearsal

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/understudy/understudy/dsl"
	"github.com/understudy/understudy/steps"
	"github.com/understudy/understudy/steps/kinds"
	"github.com/understudy/understudy/steps/redact"
	"github.com/understudy/understudy/steps/report"
)

const workloadSecret = "workload-Secret-9f3a"

// runWorkload starts a workload of args (a shell script through sh -c),
// lets it run for runFor unless it exits earlier, stops it and returns its
// report and why it fails the rehearsal.
func runWorkload(t *testing.T, script string, runFor, grace time.Duration) (*report.Workload, string, string) {
	t.Helper()
	var log bytes.Buffer
	w := &workload{
		spec:    &dsl.Workload{GracePeriod: grace},
		origin:  time.Now(),
		log:     &log,
		secrets: redact.New(workloadSecret),
		rep:     &report.Workload{Status: report.WorkloadNotStarted},
	}
	if err := w.start(t.TempDir(), []string{"sh", "-c", script}, []string{"SECRET=" + workloadSecret}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-w.exited:
	case <-time.After(runFor):
	}
	why, first := w.stop()
	if !first {
		t.Fatal("the first stop was not first")
	}
	if _, again := w.stop(); again {
		t.Error("a second stop did something")
	}
	return w.rep, why, log.String()
}

// How a workload ends decides whether it fails the rehearsal: exiting 0
// by itself or being stopped is fine; exiting non-zero by itself, or with
// a status of its own when stopped, fails; one that ignores SIGTERM is
// killed after its grace period. Its output tail never holds a secret.
func TestWorkloadEndings(t *testing.T) {
	for _, tc := range []struct {
		name, script string
		status       string
		passed       bool
		exit         int    // -1: ended by a signal
		signal       string // when exit is -1
		why          string // substring of why it fails
		output       string // substring of the output tail
		maxDuration  time.Duration
	}{
		{name: "exits 0 by itself", script: "echo done", status: report.WorkloadExited, passed: true, exit: 0, output: "done"},
		{name: "exits 3 by itself", script: "echo giving up >&2; exit 3", status: report.WorkloadExited, exit: 3,
			why: "exited with status 3 by itself", output: "giving up"},
		{name: "killed by a signal by itself", script: "kill -9 $$", status: report.WorkloadExited, exit: -1, signal: "SIGKILL",
			why: "was ended by SIGKILL by itself"},
		{name: "stopped", script: "echo running; while true; do sleep 0.05; done", status: report.WorkloadStopped, passed: true, exit: -1, signal: "SIGTERM",
			output: "running", maxDuration: 3 * time.Second},
		{name: "stopped, exits 0 on SIGTERM", script: "trap 'echo bye; exit 0' TERM; while true; do sleep 0.05; done", status: report.WorkloadStopped, passed: true, exit: 0,
			output: "bye"},
		{name: "stopped, judges what it saw", script: "trap 'echo 2 errors; exit 1' TERM; while true; do sleep 0.05; done", status: report.WorkloadStopped, exit: 1,
			why: "exited with status 1 when understudy stopped it", output: "2 errors"},
		{name: "ignores SIGTERM", script: "trap '' TERM; while true; do sleep 0.05; done", status: report.WorkloadKilled, passed: true, exit: -1, signal: "SIGKILL"},
		{name: "prints the secret", script: "echo \"url=redis://:$SECRET@127.0.0.1:1\"; printf 'partial %s' \"$SECRET\"", status: report.WorkloadExited, passed: true, exit: 0,
			output: "url=redis://:(sensitive)@127.0.0.1:1\npartial (sensitive)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t0 := time.Now()
			rep, why, log := runWorkload(t, tc.script, 300*time.Millisecond, 500*time.Millisecond)
			if rep.Status != tc.status || rep.Passed != tc.passed {
				t.Errorf("status %s passed %v, want %s %v (%s)", rep.Status, rep.Passed, tc.status, tc.passed, rep.Error)
			}
			switch {
			case tc.exit >= 0 && (rep.ExitCode == nil || *rep.ExitCode != tc.exit):
				t.Errorf("exit code %v, want %d (signal %q)", rep.ExitCode, tc.exit, rep.Signal)
			case tc.exit < 0 && (rep.ExitCode != nil || rep.Signal != tc.signal):
				t.Errorf("signal %q (exit %v), want %s", rep.Signal, rep.ExitCode, tc.signal)
			}
			if (why != "") != (tc.why != "") || !strings.Contains(why, tc.why) || rep.Error != why {
				t.Errorf("why %q (error %q), want %q", why, rep.Error, tc.why)
			}
			if !strings.Contains(rep.OutputTail, tc.output) {
				t.Errorf("output tail %q lacks %q", rep.OutputTail, tc.output)
			}
			if strings.Contains(rep.OutputTail+log+why, workloadSecret) {
				t.Error("the secret is in the output tail, the log or the error")
			}
			if rep.DurationMS <= 0 || rep.DurationMS > float64(time.Since(t0).Milliseconds())+1 {
				t.Errorf("duration %.1f ms", rep.DurationMS)
			}
			if tc.maxDuration > 0 && time.Since(t0) > tc.maxDuration {
				t.Errorf("stopping took %s", time.Since(t0))
			}
		})
	}
}

// SIGTERM reaches the programs the workload started (its process group),
// not only the workload itself.
func TestWorkloadStopReachesChildren(t *testing.T) {
	pidFile := t.TempDir() + "/child.pid"
	rep, why, _ := runWorkload(t, "sleep 60 & echo $! > "+pidFile+"; wait", 300*time.Millisecond, time.Second)
	if rep.Status != report.WorkloadStopped || why != "" {
		t.Fatalf("status %s, why %q", rep.Status, why)
	}
	if rep.DurationMS > 5000 {
		t.Errorf("the workload ran %.0f ms: the child kept it alive", rep.DurationMS)
	}
}

func TestLastLines(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"a\nb\nc\n", 2, "b\nc"},
		{"a\nb\nc", 5, "a\nb\nc"},
		{"", 3, ""},
		{"a\n\n\n", 1, "a"},
	} {
		if got := lastLines(tc.in, tc.n); got != tc.want {
			t.Errorf("lastLines(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}

func TestTailBuffer(t *testing.T) {
	b := &tailBuffer{max: 8}
	for _, s := range []string{"abc", "defgh", "ijk"} {
		_, _ = b.Write([]byte(s))
	}
	if got := b.String(); got != "defghijk" {
		t.Errorf("tail %q", got)
	}
}

// A workload that cannot start (a program that does not exist, an
// expression that cannot be evaluated) is the runbook's failure: the
// rehearsal goes on, and its verdict fails saying why.
func TestWorkloadNotStarted(t *testing.T) {
	for _, tc := range []struct{ command, why string }{
		{`["/nonexistent/understudy-workload"]`, "the workload did not start: fork/exec /nonexistent/understudy-workload"},
		{`["echo", node.old.address]`, `Cannot read node`},
	} {
		rb, diags := dsl.LoadSource("w.hcl", []byte(`node "old" {
  address = "a:6379"
  rehearsal {
    version = "7.0"
  }
}
rehearsal {
  workload {
    command = `+tc.command+`
  }
}
step "assert" "ok" {
  condition = true
}
`), dsl.LoadOptions{Kinds: kinds.Registry, Mode: dsl.ModeRehearsal})
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		var log bytes.Buffer
		r := &rehearsal{rb: rb, dep: newDeployment(), log: &log, secrets: redact.New(), origin: time.Now(),
			rep: &report.Report{Status: steps.StatusPassed}}
		if err := r.startWorkload(context.Background()); err != nil {
			t.Fatal(err)
		}
		r.stopWorkload()
		w := r.rep.Workload
		if w == nil || w.Status != report.WorkloadNotStarted || w.Passed || !strings.Contains(w.Error, tc.why) {
			t.Errorf("%s: workload %+v", tc.command, w)
		}
		if r.rep.Status != steps.StatusFailed || len(r.rep.Errors) != 1 || !strings.Contains(r.rep.Errors[0], tc.why) {
			t.Errorf("%s: status %s, errors %q", tc.command, r.rep.Status, r.rep.Errors)
		}
		if !strings.Contains(log.String(), "workload: the workload did not start") {
			t.Errorf("log:\n%s", log.String())
		}
	}
}
