package steps

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/understudy/understudy/dsl"
	"github.com/understudy/understudy/steps/dataset"
	"github.com/understudy/understudy/steps/topology"
	"github.com/zclconf/go-cty/cty"
)

// Run and step statuses.
const (
	StatusPassed = "passed"
	// StatusFailed: a step failed (also one with on_failure = "continue"),
	// or a check after the steps did not hold.
	StatusFailed     = "failed"
	StatusRolledBack = "rolled_back"
	// StatusInterrupted: SIGINT or SIGTERM ended the run.
	StatusInterrupted = "interrupted"
	// StatusSkipped is a step whose when condition was false.
	StatusSkipped = "skipped"
	// StatusNotRun is a step that was not reached because the run stopped.
	StatusNotRun = "not_run"
	// StatusPending is step.NAME.status of a step that has not run yet.
	StatusPending = "pending"
)

// Options are what the interpreter needs besides the runbook.
type Options struct {
	// Topology is how steps reach the nodes and endpoints.
	Topology topology.Topology
	// Hooks hear every event, in order.
	Hooks []Hook
	// ExcludeKeys are key patterns every data comparison leaves out, e.g.
	// the rehearsal's write probe.
	ExcludeKeys []string
	// Comparer runs the verify steps' full comparisons; nil: in this
	// process.
	Comparer dataset.Comparer
}

// StepResult is how one step went.
type StepResult struct {
	Step     *dsl.Step
	Status   string
	Attempts int
	Started  time.Time
	Duration time.Duration
	Output   cty.Value
	// Diag is the failure, pointing at the runbook; nil when it passed.
	Diag *hcl.Diagnostic
	// Warnings are the asserts with severity "warning" that did not hold,
	// pointing at the runbook.
	Warnings hcl.Diagnostics
	// Interrupted is true when a signal ended the step.
	Interrupted bool
}

// Result is how the whole run went.
type Result struct {
	// Status is StatusPassed only when every step that ran passed.
	Status   string
	Steps    []*StepResult
	Rollback []*StepResult
	// RollbackStatus is StatusRolledBack or StatusFailed when the
	// rollback ran, "" when it did not.
	RollbackStatus string
	// Interrupted names the step a signal interrupted ("" when none, or
	// when the signal came between steps).
	Interrupted string
	Started     time.Time
	Duration    time.Duration
	// Diagnostics are the failures, in order.
	Diagnostics hcl.Diagnostics
	// Warnings are the warning asserts that did not hold, in order.
	Warnings hcl.Diagnostics
}

// Failed lists the main steps that failed.
func (r *Result) Failed() []*StepResult {
	var out []*StepResult
	for _, s := range r.Steps {
		if s.Status == StatusFailed {
			out = append(out, s)
		}
	}
	return out
}

// Interpreter runs one runbook once.
type Interpreter struct {
	rb      *dsl.Runbook
	opts    Options
	hooks   hooks
	outputs map[string]cty.Value
}

// New prepares an interpreter.
func New(rb *dsl.Runbook, opts Options) *Interpreter {
	return &Interpreter{rb: rb, opts: opts, hooks: hooks(opts.Hooks), outputs: map[string]cty.Value{}}
}

// Run runs the main steps and, after a failure or an interruption, the
// rollback steps. The run passes only when every step that ran passed: a
// step with on_failure = "continue" that fails lets the next steps run and
// the run still ends failed. A cancelled ctx (SIGINT, SIGTERM) ends it
// interrupted; the rollback still runs, on a context of its own.
func (in *Interpreter) Run(ctx context.Context) *Result {
	res := &Result{Status: StatusPassed, Started: time.Now()}
	stopped := false
	for _, s := range in.rb.Steps {
		if stopped {
			res.Steps = append(res.Steps, &StepResult{Step: s, Status: StatusNotRun})
			continue
		}
		if ctx.Err() != nil {
			// Interrupted between two steps: the next one does not start.
			stopped = true
			res.Status = StatusInterrupted
			res.Steps = append(res.Steps, &StepResult{Step: s, Status: StatusNotRun})
			in.rollback(ctx, res, nil)
			continue
		}
		sr := in.runStep(ctx, s)
		res.Steps = append(res.Steps, sr)
		res.Warnings = append(res.Warnings, sr.Warnings...)
		if sr.Status == StatusPassed || sr.Status == StatusSkipped {
			continue
		}
		res.Diagnostics = append(res.Diagnostics, sr.Diag)
		if sr.Interrupted {
			stopped = true
			res.Status, res.Interrupted = StatusInterrupted, s.Name
			if s.OnFailure != "abort" {
				in.rollback(ctx, res, sr)
			}
			continue
		}
		if res.Status == StatusPassed {
			res.Status = StatusFailed
		}
		if s.OnFailure == "continue" {
			continue
		}
		stopped = true
		if s.OnFailure == "rollback" && in.rollback(ctx, res, sr) {
			res.Status = res.RollbackStatus
		}
	}
	res.Duration = time.Since(res.Started)
	for _, h := range in.hooks {
		h.PostRun(res)
	}
	return res
}

// rollback runs the rollback steps, if the runbook has any, and reports
// whether it did.
func (in *Interpreter) rollback(ctx context.Context, res *Result, cause *StepResult) bool {
	if in.rb.Rollback == nil {
		return false
	}
	// A cancelled run (Ctrl-C) still gets its rollback, with a fresh
	// deadline per step.
	ctx = context.WithoutCancel(ctx)
	if a, err := in.hooks.each(func(h Hook) (HookAction, error) { return h.PreRollback(cause) }); a == HookHalt {
		res.Diagnostics = append(res.Diagnostics, haltDiag("the rollback", err))
		res.RollbackStatus = StatusFailed
		return true
	}
	status := StatusRolledBack
	for _, s := range in.rb.Rollback.Steps {
		if status != StatusRolledBack {
			res.Rollback = append(res.Rollback, &StepResult{Step: s, Status: StatusNotRun})
			continue
		}
		sr := in.runStep(ctx, s)
		res.Rollback = append(res.Rollback, sr)
		res.Warnings = append(res.Warnings, sr.Warnings...)
		if sr.Status != StatusPassed && sr.Status != StatusSkipped {
			res.Diagnostics = append(res.Diagnostics, sr.Diag)
			if s.OnFailure != "continue" {
				status = StatusFailed
			}
		}
	}
	res.RollbackStatus = status
	in.hooks.each(func(h Hook) (HookAction, error) { return h.PostRollback(status) })
	return true
}

func haltDiag(what string, err error) *hcl.Diagnostic {
	detail := "A hook halted " + what + "."
	if err != nil {
		detail = fmt.Sprintf("A hook halted %s: %s.", what, err)
	}
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Run halted", Detail: detail}
}

// errHalted is the error of a step a hook halted.
type errHalted struct{ err error }

func (e *errHalted) Error() string {
	if e.err == nil {
		return "halted by a hook"
	}
	return "halted: " + e.err.Error()
}
func (e *errHalted) Unwrap() error { return e.err }

// runStep runs one step: attempts with back-off until the action succeeds,
// until holds and the asserts pass, or the timeout or attempts run out.
func (in *Interpreter) runStep(ctx context.Context, s *dsl.Step) *StepResult {
	sr := &StepResult{Step: s, Started: time.Now()}
	x := &Exec{Step: s, in: in, result: sr}
	finish := func() *StepResult {
		sr.Duration = time.Since(sr.Started)
		in.outputs[s.Name] = dsl.StepValue(sr.Status, sr.Output)
		if a, err := in.hooks.each(func(h Hook) (HookAction, error) { return h.PostStep(sr) }); a == HookHalt && sr.Status == StatusPassed {
			sr.Status = StatusFailed
			sr.Diag = diagFor(x, &errHalted{err})
		}
		return sr
	}
	if a, err := in.hooks.each(func(h Hook) (HookAction, error) { return h.PreStep(s) }); a == HookHalt {
		sr.Status, sr.Diag = StatusFailed, diagFor(x, &errHalted{err})
		return finish()
	}
	kind, ok := s.Impl.(Kind)
	if !ok {
		sr.Status = StatusFailed
		sr.Diag = diagFor(x, fmt.Errorf("step kind %q cannot run: it was loaded without steps.Kind", s.Kind))
		return finish()
	}
	sctx, cancel := context.WithTimeout(ctx, s.Timeout)
	defer cancel()
	if s.When != nil {
		run, err := x.EvalBool(sctx, s.When)
		if err != nil {
			in.fail(ctx, sctx, x, sr, err)
			return finish()
		}
		if !run {
			sr.Status = StatusSkipped
			return finish()
		}
	}

	maxAttempts := s.Retry.Attempts
	if maxAttempts == 0 && s.Until == nil {
		maxAttempts = 1
	}
	interval := s.Retry.Interval
	var lastErr error
	for {
		sr.Attempts++
		x.Attempt = sr.Attempts
		x.warnings = nil
		if a, herr := in.hooks.each(func(h Hook) (HookAction, error) { return h.PreAttempt(s, x.Attempt) }); a == HookHalt {
			lastErr = Permanent(&errHalted{herr})
			break
		}
		out, err := in.attempt(sctx, x, kind)
		in.hooks.each(func(h Hook) (HookAction, error) { return h.PostAttempt(s, x.Attempt, err) })
		if err == nil {
			sr.Status, sr.Output, sr.Warnings = StatusPassed, out, x.warnings
			return finish()
		}
		lastErr = err
		if isPermanent(err) || (maxAttempts > 0 && sr.Attempts >= maxAttempts) || sctx.Err() != nil {
			break
		}
		t := time.NewTimer(interval)
		select {
		case <-sctx.Done():
			t.Stop()
		case <-t.C:
		}
		if sctx.Err() != nil {
			break
		}
		interval = min(interval*2, s.Retry.MaxInterval)
	}
	in.fail(ctx, sctx, x, sr, lastErr)
	return finish()
}

// fail records a step's failure: interrupted when the run's context was
// cancelled, timed out when only the step's was, else the error itself.
func (in *Interpreter) fail(ctx, sctx context.Context, x *Exec, sr *StepResult, err error) {
	sr.Status = StatusFailed
	switch {
	case ctx.Err() != nil:
		sr.Interrupted = true
		why := "A signal (Ctrl-C, SIGTERM) stopped the run"
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			why = "The run's own deadline passed"
		}
		sr.Diag = &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  fmt.Sprintf("Step %s interrupted", x.Step.Ref()),
			Detail:   fmt.Sprintf("%s during attempt %d of this step.", why, max(sr.Attempts, 1)),
			Subject:  x.Step.DeclRange.Ptr(),
		}
		return
	case sctx.Err() != nil:
		err = fmt.Errorf("timed out after %s and %d attempt(s); last: %w", x.Step.Timeout, sr.Attempts, err)
		if de := (*DiagError)(nil); errors.As(err, &de) {
			d := *de.Diag
			d.Detail = fmt.Sprintf("Timed out after %s and %d attempt(s). Last attempt: %s", x.Step.Timeout, sr.Attempts, d.Detail)
			err = &DiagError{Diag: &d}
		}
	}
	sr.Diag = diagFor(x, err)
}

// attempt runs the kind once, then until and the asserts.
func (in *Interpreter) attempt(ctx context.Context, x *Exec, kind Kind) (cty.Value, error) {
	out, err := kind.Run(ctx, x)
	if err != nil {
		return out, err
	}
	// The step's own output is visible to its until and asserts.
	in.outputs[x.Step.Name] = dsl.StepValue(StatusPassed, out)
	if x.Step.Until != nil {
		ok, err := x.EvalBool(ctx, x.Step.Until)
		if err != nil {
			return out, err
		}
		if !ok {
			return out, ErrorAt(x.Step.Until.Range(), "Condition not met", "until = %s is false.", in.rb.ExprText(x.Step.Until))
		}
	}
	for _, a := range x.Step.Asserts {
		if err := x.CheckAssert(ctx, a.Condition, a.ErrorMessage, a.Severity); err != nil {
			return out, err
		}
	}
	return out, nil
}
