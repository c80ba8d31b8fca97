package apply_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/understudy/understudy/dsl"
	"github.com/understudy/understudy/internal/redistest"
	"github.com/understudy/understudy/steps"
	"github.com/understudy/understudy/steps/apply"
	"github.com/understudy/understudy/steps/kinds"
	"github.com/understudy/understudy/steps/live"
	"github.com/understudy/understudy/steps/redact"
	"github.com/zclconf/go-cty/cty"
)

// journalNode declares node a; url is a variable that is not sensitive
// but holds the password, as a careless runbook may have it.
const journalNode = `
variable "addr" {}
variable "password" {
  sensitive = true
}
variable "url" {}
variable "label" {}
node "a" {
  address  = var.addr
  password = var.password
}
`

// journalRunbook loads src over journalNode with dsl.LoadSource and the
// registered kinds, for server s.
func journalRunbook(t *testing.T, s *redistest.Server, src string) *dsl.Runbook {
	t.Helper()
	rb, diags := dsl.LoadSource(filepath.Join(t.TempDir(), "runbook.hcl"), []byte(journalNode+src), dsl.LoadOptions{
		Vars: []string{"addr=" + s.Addr, "password=" + s.Password, "url=redis://:" + s.Password + "@" + s.Addr, "label=blue"},
		Mode: dsl.ModeLive, Kinds: kinds.Registry,
	})
	if diags.HasErrors() {
		t.Fatalf("load: %v", diags)
	}
	return rb
}

var journalInfo = apply.RunInfo{RunID: "run-1", Runbook: "runbook.hcl", Files: map[string]string{"runbook.hcl": strings.Repeat("ab", 32)}, Version: "test"}

// journalRun runs rb with a journal writer (created, or appended when rs
// continues a run) and the extra hooks, which come after the journal. A
// hook that calls runtime.Goexit ends the run where it is, as a kill -9
// would: nothing after that point is written. It returns the result, nil
// after such a crash.
func journalRun(t *testing.T, rb *dsl.Runbook, path string, rs *steps.Resume, hooks ...steps.Hook) *steps.Result {
	t.Helper()
	open := apply.CreateJournal
	if rs != nil {
		open = apply.AppendJournal
	}
	w, err := open(path, rb, journalInfo, redact.New())
	if err != nil {
		t.Fatal(err)
	}
	topo := live.New(rb)
	defer topo.Close(context.Background())
	var log bytes.Buffer
	opts := steps.Options{Topology: topo, Resume: rs, Hooks: append([]steps.Hook{steps.NewProgress(&log, rb), w}, hooks...)}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var res *steps.Result
	done := make(chan struct{})
	go func() {
		defer close(done)
		res = steps.New(rb, opts).Run(ctx)
	}()
	<-done
	t.Logf("run log:\n%s", log.String())
	if res != nil {
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return res
}

// crashAt ends the run (runtime.Goexit) before the first attempt of a step,
// or before the rollback when step is "".
type crashAt struct {
	steps.NilHook
	step string
}

func (c crashAt) PreAttempt(s *dsl.Step, _ int) (steps.HookAction, error) {
	if s.Name == c.step {
		runtime.Goexit()
	}
	return steps.HookContinue, nil
}

func (c crashAt) PreRollback(*steps.StepResult) (steps.HookAction, error) {
	if c.step == "" {
		runtime.Goexit()
	}
	return steps.HookContinue, nil
}

// A whole run's journal reads back: the header (variables that are not
// sensitive, none that is), every step with its status and output, the
// run's end; and nothing secret is in the file, although a step's output,
// a step's error, a message and a variable carry the password. A journal
// whose run ended cannot be resumed.
func TestJournalRecordsARunWithoutSecrets(t *testing.T) {
	s := redistest.Start(t)
	rb := journalRunbook(t, s, `
step "command" "first" {
  node    = node.a
  command = ["INCR", "first"]
}
step "command" "password" {
  node    = node.a
  command = ["CONFIG", "GET", "requirepass"]
}
step "command" "bad" {
  node       = node.a
  command    = ["NOSUCHCOMMAND", var.password]
  on_failure = "continue"
}
`)
	// A message: written through the hook directly (no kind says the
	// password), in a journal of its own.
	dir := t.TempDir()
	msgPath, path := filepath.Join(dir, "messages"), filepath.Join(dir, "journal")
	w, err := apply.CreateJournal(msgPath, rb, journalInfo, nil)
	if err != nil {
		t.Fatal(err)
	}
	w.Message(rb.Steps[0], "the password is "+s.Password)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := apply.CreateJournal(msgPath, rb, journalInfo, nil); err == nil {
		t.Error("CreateJournal over an existing journal succeeded")
	}
	res := journalRun(t, rb, path, nil)
	if res.Status != steps.StatusFailed {
		t.Fatalf("status %s: %v", res.Status, res.Diagnostics)
	}

	sum := sha256.Sum256([]byte(s.Password))
	for _, p := range []string{msgPath, path} {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(data, []byte(s.Password)) || bytes.Contains(data, []byte(hex.EncodeToString(sum[:]))) {
			t.Fatalf("%s holds the password:\n%s", p, data)
		}
		if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", p, fi.Mode().Perm())
		}
	}
	if data, _ := os.ReadFile(msgPath); !bytes.Contains(data, []byte(`"the password is (sensitive)"`)) {
		t.Errorf("the message is not in the journal, redacted:\n%s", data)
	}

	j, err := apply.ReadJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	h := j.Header
	if h.RunID != "run-1" || h.Version != "test" || h.Files["runbook.hcl"] != journalInfo.Files["runbook.hcl"] || h.Time.IsZero() {
		t.Errorf("header %+v", h)
	}
	if string(h.Variables["label"]) != `"blue"` || !strings.Contains(string(h.Variables["url"]), "(sensitive)") {
		t.Errorf("variables %s", h.Variables)
	}
	if _, ok := h.Variables["password"]; ok {
		t.Error("the sensitive variable is in the header")
	}
	if !j.Ended || j.Status != steps.StatusFailed || j.InFlight != nil || j.RollbackStarted || len(j.Errors) != 1 {
		t.Errorf("ended %v %s, in flight %v, rollback %v, errors %q", j.Ended, j.Status, j.InFlight, j.RollbackStarted, j.Errors)
	}
	if len(j.Steps) != 3 || len(j.Passed()) != 2 {
		t.Fatalf("steps %+v", j.Steps)
	}
	first, pw, bad := j.Steps[0], j.Steps[1], j.Steps[2]
	if first.Name != "first" || first.Kind != "command" || first.Attempts != 1 || !first.Output.Equals(cty.NumberIntVal(1)).True() {
		t.Errorf("first: %+v", first)
	}
	if got := pw.Output.GoString(); !strings.Contains(got, "(sensitive)") || pw.Status != steps.StatusPassed {
		t.Errorf("the password step's output %s", got)
	}
	if bad.Status != steps.StatusFailed || !strings.Contains(bad.Error, "unknown command") || !strings.Contains(bad.Error, "(sensitive)") {
		t.Errorf("bad: %s %q", bad.Status, bad.Error)
	}
	if _, err := j.Resume(rb); err == nil || !strings.Contains(err.Error(), "the run ended (failed): there is nothing to resume") {
		t.Errorf("resume of an ended run: %v", err)
	}
	if _, err := apply.AppendJournal(path, rb, journalInfo, nil); err == nil {
		t.Error("AppendJournal reopened the journal of an ended run")
	}
}

// resumeRunbook counts in "first" (INCR: running it twice shows), waits in
// "gate" for a key the test sets, and "after" reads step.first.output in
// its condition and step.second.output in its assert.
const resumeRunbook = `
step "command" "first" {
  node    = node.a
  command = ["INCR", "first"]
}
step "command" "second" {
  node    = node.a
  command = ["SET", "second", "x"]
}
step "wait" "gate" {
  until   = node.a.keys >= 3
  timeout = "1m"
  retry {
    interval     = "10ms"
    max_interval = "20ms"
  }
}
step "command" "after" {
  when    = step.first.output == 1
  node    = node.a
  command = ["SET", "after", "${step.first.output}"]
  assert {
    condition = step.second.output == "OK"
  }
}
`

// A run that dies in the middle of a step is resumed from its journal: the
// steps that passed are not run again and their outputs are restored (a
// later step's when and assert read them), the step in flight is judged
// (a wait is run again), and the journal goes on in the same file, with a
// resume record, to the run's end. A torn last line is ignored and
// dropped; any other bad line is an error naming it.
func TestJournalResumesACrashedRun(t *testing.T) {
	s := redistest.Start(t)
	c := s.Client()
	defer c.Close()
	ctx := context.Background()
	rb := journalRunbook(t, s, resumeRunbook)
	path := filepath.Join(t.TempDir(), "journal")
	if res := journalRun(t, rb, path, nil, crashAt{step: "gate"}); res != nil {
		t.Fatalf("the run did not crash: %s", res.Status)
	}

	// The process died while writing a line.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"type":"attempt_end","step":"ga`)
	f.Close()

	j, err := apply.ReadJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	if !j.TornTail || j.Ended || j.RollbackStarted || len(j.Passed()) != 2 {
		t.Fatalf("torn %v, ended %v, rollback %v, passed %+v", j.TornTail, j.Ended, j.RollbackStarted, j.Passed())
	}
	if f := j.InFlight; f == nil || f.Name != "gate" || f.Kind != "wait" || f.Attempts != 1 {
		t.Fatalf("in flight: %+v", j.InFlight)
	}
	if out := j.Steps[1].Output; !out.Equals(cty.StringVal("OK")).True() {
		t.Errorf("second's output %#v", out)
	}

	// A bad line that is not the last is an error naming it.
	data, _ := os.ReadFile(path)
	lines := strings.SplitAfter(string(data), "\n")
	bad := filepath.Join(t.TempDir(), "bad")
	os.WriteFile(bad, []byte(lines[0]+lines[1]+"{not json\n"+strings.Join(lines[2:], "")), 0o600)
	if _, err := apply.ReadJournal(bad); err == nil || !strings.Contains(err.Error(), "line 3:") {
		t.Errorf("a corrupt line 3: %v", err)
	}

	rs, err := j.Resume(rb)
	if err != nil {
		t.Fatal(err)
	}
	if rs.InFlight != "gate" || rs.Rollback || len(rs.Ended) != 2 {
		t.Fatalf("resume %+v", rs)
	}
	if err := c.Set(ctx, "third", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	res := journalRun(t, rb, path, rs)
	if res.Status != steps.StatusPassed {
		t.Fatalf("resumed run: %s %v", res.Status, res.Diagnostics)
	}
	for i, want := range []bool{true, true, false, false} {
		if r := res.Steps[i]; r.Resumed != want || r.Status != steps.StatusPassed {
			t.Errorf("step %s: %s, resumed %v, want resumed %v", r.Step.Name, r.Status, r.Resumed, want)
		}
	}
	if n, _ := c.Get(ctx, "first").Int(); n != 1 {
		t.Errorf("first ran again: counter %d", n)
	}
	if v, _ := c.Get(ctx, "after").Result(); v != "1" {
		t.Errorf("after = %q: step.first.output was not restored", v)
	}

	j, err = apply.ReadJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	if j.TornTail || !j.Ended || j.Status != steps.StatusPassed || len(j.Resumes) != 1 || j.InFlight != nil || len(j.Passed()) != 4 {
		t.Errorf("after the resume: torn %v, ended %v %s, resumes %d, in flight %v, passed %d", j.TornTail, j.Ended, j.Status, len(j.Resumes), j.InFlight, len(j.Passed()))
	}
	if !j.Steps[0].Resumed || j.Steps[3].Resumed {
		t.Errorf("resumed marks: %+v", j.Steps)
	}
}

// A run that dies during its rollback, or just before it, goes on with the
// rollback when resumed: the main steps are not run, the rollback steps
// that ended are not run again, and the run ends rolled back.
func TestJournalResumesTheRollback(t *testing.T) {
	for _, crash := range []string{"", "check"} {
		name := "before the rollback"
		if crash != "" {
			name = "in rollback step " + crash
		}
		t.Run(name, func(t *testing.T) {
			s := redistest.Start(t)
			c := s.Client()
			defer c.Close()
			ctx := context.Background()
			rb := journalRunbook(t, s, `
step "command" "first" {
  node    = node.a
  command = ["INCR", "first"]
}
step "assert" "fails" {
  condition = node.a.role == "replica"
}
step "command" "never" {
  node    = node.a
  command = ["SET", "never", "1"]
}
rollback {
  step "command" "undo" {
    when    = step.first.status == "passed" && step.fails.status == "failed" && step.never.status == "pending"
    node    = node.a
    command = ["INCR", "undo"]
  }
  step "wait" "check" {
    until = node.a.keys == 2
  }
}
`)
			path := filepath.Join(t.TempDir(), "journal")
			// Before the rollback: the crash comes before the journal
			// hears of it.
			w, err := apply.CreateJournal(path, rb, journalInfo, nil)
			if err != nil {
				t.Fatal(err)
			}
			hooks := []steps.Hook{w}
			if crash == "" {
				hooks = []steps.Hook{crashAt{}, w}
			} else {
				hooks = append(hooks, crashAt{step: crash})
			}
			topo := live.New(rb)
			defer topo.Close(ctx)
			done := make(chan struct{})
			go func() {
				defer close(done)
				steps.New(rb, steps.Options{Topology: topo, Hooks: hooks}).Run(ctx)
				t.Error("the run did not crash")
			}()
			<-done

			j, err := apply.ReadJournal(path)
			if err != nil {
				t.Fatal(err)
			}
			if j.RollbackStarted != (crash != "") || j.Ended {
				t.Fatalf("rollback started %v, ended %v", j.RollbackStarted, j.Ended)
			}
			rs, err := j.Resume(rb)
			if err != nil {
				t.Fatal(err)
			}
			if !rs.Rollback {
				t.Fatalf("resume %+v does not go on with the rollback", rs)
			}
			res := journalRun(t, rb, path, rs)
			if res.Status != steps.StatusRolledBack || res.RollbackStatus != steps.StatusRolledBack {
				t.Fatalf("status %s, rollback %s: %v", res.Status, res.RollbackStatus, res.Diagnostics)
			}
			if n, _ := c.Get(ctx, "first").Int(); n != 1 {
				t.Errorf("first ran %d times", n)
			}
			if n, _ := c.Get(ctx, "undo").Int(); n != 1 {
				t.Errorf("undo ran %d times", n)
			}
			if n, _ := c.Exists(ctx, "never").Result(); n != 0 {
				t.Error("a main step after the failure ran")
			}
			if res.Steps[2].Status != steps.StatusNotRun || res.Rollback[0].Resumed != (crash != "") {
				t.Errorf("never %s, undo resumed %v", res.Steps[2].Status, res.Rollback[0].Resumed)
			}
			j, err = apply.ReadJournal(path)
			if err != nil {
				t.Fatal(err)
			}
			if !j.Ended || j.Status != steps.StatusRolledBack || j.RollbackStatus != steps.StatusRolledBack {
				t.Errorf("journal: ended %v %s, rollback %s", j.Ended, j.Status, j.RollbackStatus)
			}
		})
	}
}

// A command in flight is refused at the resume and the run stops; the
// journal keeps it in flight, so the run can be resumed again with the
// operator's answer.
func TestJournalKeepsARefusedStepInFlight(t *testing.T) {
	s := redistest.Start(t)
	c := s.Client()
	defer c.Close()
	ctx := context.Background()
	rb := journalRunbook(t, s, resumeRunbook)
	path := filepath.Join(t.TempDir(), "journal")
	if res := journalRun(t, rb, path, nil, crashAt{step: "second"}); res != nil {
		t.Fatalf("the run did not crash: %s", res.Status)
	}
	j, err := apply.ReadJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	rs, err := j.Resume(rb)
	if err != nil {
		t.Fatal(err)
	}
	res := journalRun(t, rb, path, rs)
	if res.Status != steps.StatusFailed || !res.Steps[1].Refused {
		t.Fatalf("status %s, second refused %v", res.Status, res.Steps[1].Refused)
	}

	j, err = apply.ReadJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	if !j.Ended || j.Refused != "second" || j.InFlight == nil || j.InFlight.Name != "second" {
		t.Fatalf("ended %v, refused %q, in flight %+v", j.Ended, j.Refused, j.InFlight)
	}
	rs, err = j.Resume(rb)
	if err != nil {
		t.Fatal(err)
	}
	rs.InFlightAs = steps.ResumeRun
	if err := c.Set(ctx, "third", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if res := journalRun(t, rb, path, rs); res.Status != steps.StatusPassed {
		t.Fatalf("resumed with the answer: %s %v", res.Status, res.Diagnostics)
	}
	if v, err := c.Get(ctx, "second").Result(); err != nil || v != "x" {
		t.Errorf("second = %q, %v", v, err)
	}
	if n, _ := c.Get(ctx, "first").Int(); n != 1 {
		t.Errorf("first ran %d times", n)
	}
}

// Resume refuses a journal that does not fit the runbook, or whose run was
// ending; CheckFiles names files that changed.
func TestJournalResumeRefusals(t *testing.T) {
	s := redistest.Start(t)
	rb := journalRunbook(t, s, resumeRunbook)
	path := filepath.Join(t.TempDir(), "journal")
	if res := journalRun(t, rb, path, nil, crashAt{step: "gate"}); res != nil {
		t.Fatalf("the run did not crash: %s", res.Status)
	}
	j, err := apply.ReadJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	changed := journalRunbook(t, s, "step \"assert\" \"zero\" {\n  condition = true\n}\n"+resumeRunbook)
	if _, err := j.Resume(changed); err == nil || !strings.Contains(err.Error(), "the runbook changed since the run began") {
		t.Errorf("resume with a changed runbook: %v", err)
	}
	if err := j.CheckFiles(map[string]string{"runbook.hcl": strings.Repeat("cd", 32)}); err == nil || !strings.Contains(err.Error(), "runbook.hcl differ") {
		t.Errorf("CheckFiles: %v", err)
	}
	if err := j.CheckFiles(journalInfo.Files); err != nil {
		t.Errorf("CheckFiles with the same files: %v", err)
	}

	aborted := journalRunbook(t, s, `
step "assert" "fails" {
  condition  = node.a.role == "replica"
  on_failure = "abort"
}
step "assert" "next" {
  condition = true
}
`)
	path = filepath.Join(t.TempDir(), "journal")
	w, err := apply.CreateJournal(path, aborted, journalInfo, nil)
	if err != nil {
		t.Fatal(err)
	}
	topo := live.New(aborted)
	defer topo.Close(context.Background())
	steps.New(aborted, steps.Options{Topology: topo, Hooks: []steps.Hook{w}}).Run(context.Background())
	w.Close()
	// Cut the run's end, as a crash just before it would.
	data, _ := os.ReadFile(path)
	lines := strings.SplitAfter(strings.TrimSuffix(string(data), "\n"), "\n")
	os.WriteFile(path, []byte(strings.Join(lines[:len(lines)-1], "")), 0o600)
	if j, err = apply.ReadJournal(path); err != nil || j.Ended {
		t.Fatalf("journal without its end: %v, ended %v", err, j.Ended)
	}
	if _, err := j.Resume(aborted); err == nil || !strings.Contains(err.Error(), `the run was ending without a rollback (on_failure = "abort")`) {
		t.Errorf("resume of a run that was ending: %v", err)
	}
}

// A step that had started but whose first attempt had not (the journal
// shows no attempt_start) did nothing yet: it is not judged, it runs.
func TestJournalStepNotYetAttempted(t *testing.T) {
	s := redistest.Start(t)
	rb := journalRunbook(t, s, resumeRunbook)
	path := filepath.Join(t.TempDir(), "journal")
	w, err := apply.CreateJournal(path, rb, journalInfo, nil)
	if err != nil {
		t.Fatal(err)
	}
	topo := live.New(rb)
	defer topo.Close(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		// The crash comes before the journal hears of the attempt.
		steps.New(rb, steps.Options{Topology: topo, Hooks: []steps.Hook{crashAt{step: "second"}, w}}).Run(context.Background())
		t.Error("the run did not crash")
	}()
	<-done
	j, err := apply.ReadJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	if f := j.InFlight; f == nil || f.Name != "second" || f.Attempts != 0 {
		t.Fatalf("in flight %+v", j.InFlight)
	}
	rs, err := j.Resume(rb)
	if err != nil || rs.InFlight != "" {
		t.Fatalf("resume %+v, %v: a step with no attempt is not in flight", rs, err)
	}
	c := s.Client()
	defer c.Close()
	if err := c.Set(context.Background(), "third", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if res := journalRun(t, rb, path, rs); res.Status != steps.StatusPassed || res.Steps[1].Resumed {
		t.Fatalf("status %s, second resumed %v: %v", res.Status, res.Steps[1].Resumed, res.Diagnostics)
	}
}

// A journal that cannot be written halts the run before its next main
// step: nothing starts that a resume could not know of.
func TestJournalWriteFailureHalts(t *testing.T) {
	s := redistest.Start(t)
	rb := journalRunbook(t, s, resumeRunbook)
	path := filepath.Join(t.TempDir(), "journal")
	w, err := apply.CreateJournal(path, rb, journalInfo, nil)
	if err != nil {
		t.Fatal(err)
	}
	w.Close() // every write fails from now on
	topo := live.New(rb)
	defer topo.Close(context.Background())
	res := steps.New(rb, steps.Options{Topology: topo, Hooks: []steps.Hook{w}}).Run(context.Background())
	if r := res.Steps[0]; r.Status != steps.StatusFailed || r.Attempts != 0 || !strings.Contains(r.Diag.Detail, "journal "+path+": closed") {
		t.Fatalf("first step: %s after %d attempts: %v", r.Status, r.Attempts, r.Diag)
	}
	c := s.Client()
	defer c.Close()
	if n, _ := c.Exists(context.Background(), "first").Result(); n != 0 {
		t.Error("a step ran without its journal")
	}
	if err := w.Err(); err == nil {
		t.Error("Err is nil after failed writes")
	}
}

// The last line of a journal may be torn by a crash: a partial record is
// ignored, a whole record missing only its newline is read; reopening the
// journal to resume drops the partial record, or ends the line, so that
// the resume record starts a line of its own.
func TestJournalTornTail(t *testing.T) {
	// No server: the runbook is only loaded.
	s := &redistest.Server{Addr: "127.0.0.1:1", Password: redistest.RandomPassword()}
	rb := journalRunbook(t, s, resumeRunbook)
	for _, tt := range []struct {
		name, tail string
		torn       bool
		inFlight   string
	}{
		{name: "whole", tail: "", inFlight: ""},
		{name: "partial record", tail: `{"type":"step_start","step":"fir`, torn: true},
		{name: "record without newline", tail: `{"type":"step_start","step":"first","kind":"command"}`, inFlight: "first"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "journal")
			w, err := apply.CreateJournal(path, rb, journalInfo, nil)
			if err != nil {
				t.Fatal(err)
			}
			w.Close()
			f, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
			f.WriteString(tt.tail)
			f.Close()
			j, err := apply.ReadJournal(path)
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			if j.InFlight != nil {
				got = j.InFlight.Name
			}
			if j.TornTail != tt.torn || got != tt.inFlight {
				t.Fatalf("torn %v, in flight %q; want %v, %q", j.TornTail, got, tt.torn, tt.inFlight)
			}
			w, err = apply.AppendJournal(path, rb, journalInfo, nil)
			if err != nil {
				t.Fatal(err)
			}
			w.Close()
			if j, err = apply.ReadJournal(path); err != nil || j.TornTail || len(j.Resumes) != 1 {
				t.Fatalf("after reopening: %v, torn %v, %d resumes", err, j != nil && j.TornTail, len(j.Resumes))
			}
		})
	}
}
