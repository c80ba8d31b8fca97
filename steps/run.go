package steps

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/understudy/understudy/dsl"
	"github.com/zclconf/go-cty/cty"
)

// Run statuses.
const (
	StatusPassed     = "passed"
	StatusFailed     = "failed"
	StatusRolledBack = "rolled_back"
	StatusSkipped    = "skipped"
	// StatusPending is step.NAME.status of a step that has not run.
	StatusPending = "pending"
)

// Options are what the interpreter needs besides the runbook.
type Options struct {
	Backend   Backend
	Endpoints map[string]Endpoint
	// Observer hears every step start and end (reports, traffic marks).
	Observer Observer
	// ExcludeKeys are key patterns every verify step leaves out, e.g. the
	// rehearsal's write probe.
	ExcludeKeys []string
	// Log receives one line per step event; nil discards.
	Log io.Writer
}

// Observer hears the interpreter's events.
type Observer interface {
	StepStarted(s *dsl.Step)
	StepFinished(r *StepResult)
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
}

// Result is how the whole run went.
type Result struct {
	Status   string
	Steps    []*StepResult
	Rollback []*StepResult
	Duration time.Duration
	// Diagnostics are the failures, in order.
	Diagnostics hcl.Diagnostics
}

// Interpreter runs one runbook once.
type Interpreter struct {
	rb      *dsl.Runbook
	opts    Options
	outputs map[string]cty.Value
}

// New prepares an interpreter.
func New(rb *dsl.Runbook, opts Options) *Interpreter {
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	return &Interpreter{rb: rb, opts: opts, outputs: map[string]cty.Value{}}
}

// Run runs the main steps and, after a failure, the rollback steps.
func (in *Interpreter) Run(ctx context.Context) *Result {
	start := time.Now()
	res := &Result{Status: StatusPassed}
	failed := false
	for i, s := range in.rb.Steps {
		if failed {
			res.Steps = append(res.Steps, &StepResult{Step: s, Status: StatusSkipped})
			continue
		}
		fmt.Fprintf(in.opts.Log, "step %d/%d %s %q\n", i+1, len(in.rb.Steps), s.Kind, s.Name)
		sr := in.runStep(ctx, s)
		res.Steps = append(res.Steps, sr)
		in.logResult(sr)
		if sr.Status == StatusPassed || sr.Status == StatusSkipped {
			continue
		}
		res.Diagnostics = append(res.Diagnostics, sr.Diag)
		if s.OnFailure == "continue" && ctx.Err() == nil {
			continue
		}
		failed = true
		res.Status = StatusFailed
		if s.OnFailure == "rollback" && in.rb.Rollback != nil {
			res.Status = in.rollback(ctx, res)
		}
	}
	res.Duration = time.Since(start)
	return res
}

func (in *Interpreter) rollback(ctx context.Context, res *Result) string {
	// A cancelled run (Ctrl-C) still gets its rollback, with a fresh
	// deadline per step.
	if ctx.Err() != nil {
		ctx = context.WithoutCancel(ctx)
	}
	fmt.Fprintf(in.opts.Log, "rollback: %d step(s)\n", len(in.rb.Rollback.Steps))
	status := StatusRolledBack
	for _, s := range in.rb.Rollback.Steps {
		if status != StatusRolledBack {
			res.Rollback = append(res.Rollback, &StepResult{Step: s, Status: StatusSkipped})
			continue
		}
		fmt.Fprintf(in.opts.Log, "rollback step %s %q\n", s.Kind, s.Name)
		sr := in.runStep(ctx, s)
		res.Rollback = append(res.Rollback, sr)
		in.logResult(sr)
		if sr.Status != StatusPassed && sr.Status != StatusSkipped {
			res.Diagnostics = append(res.Diagnostics, sr.Diag)
			if s.OnFailure != "continue" {
				status = StatusFailed
			}
		}
	}
	return status
}

func (in *Interpreter) logResult(sr *StepResult) {
	if sr.Status == StatusSkipped {
		fmt.Fprintln(in.opts.Log, "  skipped: its when condition is false")
		return
	}
	line := fmt.Sprintf("  %s after %d attempt(s), %s", sr.Status, sr.Attempts, sr.Duration.Round(time.Millisecond))
	if sr.Diag != nil {
		line += ": " + dsl.DiagnosticLine(sr.Diag)
	}
	fmt.Fprintln(in.opts.Log, line)
}

// runStep runs one step: attempts with back-off until the action succeeds,
// until holds and the asserts pass, or the timeout or attempts run out.
func (in *Interpreter) runStep(ctx context.Context, s *dsl.Step) *StepResult {
	sr := &StepResult{Step: s, Started: time.Now()}
	if in.opts.Observer != nil {
		in.opts.Observer.StepStarted(s)
	}
	defer func() {
		sr.Duration = time.Since(sr.Started)
		in.outputs[s.Name] = dsl.StepValue(sr.Status, sr.Output)
		if in.opts.Observer != nil {
			in.opts.Observer.StepFinished(sr)
		}
	}()
	action, ok := actions[s.Kind]
	x := &Exec{Step: s, in: in}
	if !ok {
		sr.Status = StatusFailed
		sr.Diag = diagFor(x, fmt.Errorf("no action is registered for step kind %q", s.Kind))
		return sr
	}
	sctx, cancel := context.WithTimeout(ctx, s.Timeout)
	defer cancel()
	if s.When != nil {
		run, err := x.EvalBool(sctx, s.When)
		if err != nil {
			sr.Status = StatusFailed
			sr.Diag = diagFor(x, err)
			return sr
		}
		if !run {
			sr.Status = StatusSkipped
			return sr
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
		out, err := in.attempt(sctx, x, action)
		if err == nil {
			sr.Status, sr.Output = StatusPassed, out
			return sr
		}
		lastErr = err
		if isPermanent(err) || (maxAttempts > 0 && sr.Attempts >= maxAttempts) {
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
	sr.Status = StatusFailed
	if sctx.Err() != nil && ctx.Err() == nil {
		lastErr = fmt.Errorf("timed out after %s and %d attempt(s); last: %w", s.Timeout, sr.Attempts, lastErr)
		if de := (*DiagError)(nil); errors.As(lastErr, &de) {
			d := *de.Diag
			d.Detail = fmt.Sprintf("Timed out after %s and %d attempt(s). Last attempt: %s", s.Timeout, sr.Attempts, d.Detail)
			lastErr = &DiagError{Diag: &d}
		}
	} else if ctx.Err() != nil {
		lastErr = fmt.Errorf("interrupted: %w", lastErr)
	}
	sr.Diag = diagFor(x, lastErr)
	return sr
}

// attempt runs the action once, then until and the asserts.
func (in *Interpreter) attempt(ctx context.Context, x *Exec, action Action) (cty.Value, error) {
	out, err := action(ctx, x)
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
			return out, errorAt(x.Step.Until.Range(), "Condition not met", "until = %s is false.", in.rb.ExprText(x.Step.Until))
		}
	}
	for _, a := range x.Step.Asserts {
		if err := x.checkAssert(ctx, a.Condition, a.ErrorMessage); err != nil {
			return out, err
		}
	}
	return out, nil
}
