package rehearsal

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/understudy/understudy/dsl"
	"github.com/understudy/understudy/steps"
	"github.com/understudy/understudy/steps/redact"
	"github.com/understudy/understudy/steps/report"
	"github.com/zclconf/go-cty/cty"
)

// workloadTail bounds the workload output kept for the report: the last
// bytes of its standard output and error, redacted as they arrive.
const workloadTail = 64 << 10

// workloadReportLines bounds the output lines the report keeps.
const workloadReportLines = 40

// workload is the rehearsal's workload: the application's own program,
// started before the first step and stopped after the last (see
// dsl.Workload).
type workload struct {
	spec    *dsl.Workload
	origin  time.Time
	log     io.Writer
	secrets *redact.Secrets
	rep     *report.Workload

	cmd     *exec.Cmd
	out     *redact.Writer // redacts into tail
	tail    *tailBuffer
	started time.Time
	exited  chan struct{} // closed once the program exited
	// Set before exited is closed:
	state *os.ProcessState
	ended time.Time

	mu       sync.Mutex
	stopping bool // guarded by mu: SIGTERM sent by stop
	killed   bool // guarded by mu: SIGKILL sent by stop
	done     bool // guarded by mu: stop finished
}

// startWorkload is the phase that starts the runbook's workload, if it has
// one: its command and env are evaluated now against the nodes and
// endpoints (node.NAME.address, endpoint.NAME.url …). A workload that
// cannot start is the runbook's failure, judged after the steps, not the
// machinery's: the steps still run.
func (r *rehearsal) startWorkload(ctx context.Context) error {
	spec := r.rb.Rehearsal.Workload
	if spec == nil {
		return nil
	}
	cmdText, _ := r.rb.WorkloadText()
	w := &workload{
		spec: spec, origin: r.origin, log: r.log, secrets: r.secrets,
		rep: &report.Workload{
			Command: cmdText, Status: report.WorkloadNotStarted,
			Source: fmt.Sprintf("%s:%d", spec.DeclRange.Filename, spec.DeclRange.Start.Line),
		},
	}
	r.work = w
	r.rep.Workload = w.rep
	in := steps.New(r.rb, steps.Options{Topology: r.dep})
	args, env, err := workloadArgs(ctx, in, spec)
	if err == nil {
		err = w.start(r.rb.Dir, args, env)
	}
	if err != nil {
		w.rep.Error = r.secrets.String("the workload did not start: " + errorLine(err))
		fmt.Fprintf(r.log, "workload: %s\n", w.rep.Error)
		return nil
	}
	fmt.Fprintf(r.log, "workload: started %s (pid %d)\n", cmdText, w.cmd.Process.Pid)
	return nil
}

// workloadArgs evaluates the workload's command and env.
func workloadArgs(ctx context.Context, in *steps.Interpreter, spec *dsl.Workload) (args, env []string, err error) {
	v, err := in.Eval(ctx, spec.Command, cty.List(cty.String))
	if err != nil {
		return nil, nil, err
	}
	for it := v.ElementIterator(); it.Next(); {
		_, e := it.Element()
		if e.IsNull() {
			return nil, nil, steps.ErrorAt(spec.Command.Range(), "Null element", "The workload's command holds a null element.")
		}
		args = append(args, e.AsString())
	}
	if len(args) == 0 {
		return nil, nil, steps.ErrorAt(spec.Command.Range(), "Empty command", "The workload's command list is empty.")
	}
	if spec.Env != nil {
		if env, err = in.EvalEnv(ctx, spec.Env); err != nil {
			return nil, nil, err
		}
	}
	return args, env, nil
}

// stopWorkload stops the workload after the last step, records how it
// went, and fails the verdict when it exited non-zero by itself or did not
// start.
func (r *rehearsal) stopWorkload() {
	if r.work == nil {
		return
	}
	why, first := r.work.stop()
	if !first {
		return
	}
	fmt.Fprintf(r.log, "workload: %s\n", r.work.rep.Summary())
	if r.work.rep.Status == report.WorkloadKilled {
		r.rep.Warnings = append(r.rep.Warnings, fmt.Sprintf("the workload did not exit within its grace period (%s) after SIGTERM and was killed", r.work.spec.GracePeriod))
	}
	if why != "" {
		r.rep.Errors = append(r.rep.Errors, r.secrets.String(why))
		if r.rep.Status == steps.StatusPassed {
			r.rep.Status = steps.StatusFailed
		}
	}
}

// errorLine is an error as one line, with the runbook position of a
// diagnostic.
func errorLine(err error) string {
	var de *steps.DiagError
	if errors.As(err, &de) {
		return dsl.DiagnosticLine(de.Diag)
	}
	return err.Error()
}

// start runs the program from dir, in a process group of its own (so that
// stop reaches the programs it starts), with understudy's environment plus
// env, and its output into the redacted tail. It does not wait for the
// rehearsal's context: stop ends it, after the last step or in cleanup.
func (w *workload) start(dir string, args, env []string) error {
	w.tail = &tailBuffer{max: workloadTail}
	w.out = w.secrets.NewWriter(w.tail)
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = w.out, w.out
	cmd.SysProcAttr = newProcessGroup()
	// A program it left running in the background may hold its output
	// open: the wait ends this long after the workload itself exited.
	cmd.WaitDelay = time.Second
	if err := cmd.Start(); err != nil {
		return err
	}
	w.cmd, w.started, w.exited = cmd, time.Now(), make(chan struct{})
	w.rep.StartMS = ms(w.started.Sub(w.origin))
	go func() {
		_ = cmd.Wait() // the state says how it ended
		w.state, w.ended = cmd.ProcessState, time.Now()
		close(w.exited)
		w.mu.Lock()
		byItself := !w.stopping
		w.mu.Unlock()
		if byItself {
			fmt.Fprintf(w.log, "workload: exited by itself after %.1f s (%s)\n", time.Since(w.started).Seconds(), cmd.ProcessState)
		}
	}()
	return nil
}

// stop ends the workload unless it exited by itself: SIGTERM to its
// process group, then SIGKILL after its grace period. It fills the
// report's workload section and returns why the workload fails the
// rehearsal ("" when it does not). It may be called more than once; the
// later calls do nothing and return first false.
func (w *workload) stop() (why string, first bool) {
	w.mu.Lock()
	if w.done {
		w.mu.Unlock()
		return "", false
	}
	w.done = true
	w.mu.Unlock()
	if w.cmd == nil {
		return w.rep.Error, true // it never started
	}
	select {
	case <-w.exited:
	default:
		w.mu.Lock()
		w.stopping = true
		w.mu.Unlock()
		_ = terminateGroup(w.cmd.Process)
		t := time.NewTimer(w.spec.GracePeriod)
		select {
		case <-w.exited:
			t.Stop()
		case <-t.C:
			w.mu.Lock()
			w.killed = true
			w.mu.Unlock()
			_ = killGroup(w.cmd.Process)
			<-w.exited
		}
	}
	_ = w.out.Close()
	return w.judge(), true
}

// judge fills the report from how the program ended.
func (w *workload) judge() string {
	rep := w.rep
	rep.DurationMS = ms(w.ended.Sub(w.started))
	rep.OutputTail = lastLines(w.tail.String(), workloadReportLines)
	code, sig := exitStatus(w.state)
	if sig != "" {
		rep.Signal = sig
	} else {
		rep.ExitCode = &code
	}
	w.mu.Lock()
	stopping, killed := w.stopping, w.killed
	w.mu.Unlock()
	switch {
	case killed:
		// Ended by understudy's SIGKILL: it ran its course, but did
		// not stop in time (a warning, not a failure).
		rep.Status, rep.Passed = report.WorkloadKilled, true
	case stopping:
		// Stopped after the last step: exiting 0 or of the SIGTERM
		// itself is normal; another status is the program's own verdict.
		rep.Status = report.WorkloadStopped
		rep.Passed = sig == "SIGTERM" || sig == "" && (code == 0 || code == 128+15)
	default:
		rep.Status = report.WorkloadExited
		rep.Passed = sig == "" && code == 0
	}
	if rep.Passed {
		return ""
	}
	how := fmt.Sprintf("exited with status %d", code)
	if sig != "" {
		how = "was ended by " + sig
	}
	when := "by itself"
	if stopping {
		when = "when understudy stopped it with SIGTERM after the last step"
	}
	rep.Error = fmt.Sprintf("the workload %s %s, after %.1f s", how, when, rep.DurationMS/1000)
	return rep.Error
}

// lastLines is the last n lines of s.
func lastLines(s string, n int) string {
	s = strings.TrimRight(s, "\n")
	for i, count := len(s)-1, 0; i >= 0; i-- {
		if s[i] == '\n' {
			if count++; count == n {
				return s[i+1:]
			}
		}
	}
	return s
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}
