package steps

import (
	"context"
	"errors"
	"fmt"
	"strings"
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
	// StatusWouldSend is a step a dry run stopped at its first write (or
	// program): it says what it would have sent.
	StatusWouldSend = "would_send"
	// StatusDryRun is the status of a dry run that reached its end.
	StatusDryRun = "dry_run"
	// StatusUnchecked is a step of a dry run that failed after an earlier
	// step's write was not sent: it read a state without that write, so
	// its failure says nothing about the runbook.
	StatusUnchecked = "unchecked"
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
	// Resume, when set, continues an earlier run of the same runbook that
	// stopped without ending (a crash, kill -9), as its journal tells
	// (package apply); nil runs every step.
	Resume *Resume
	// DryRun runs every step once, for its reads: a step stops at its
	// first write or program (a NotSent from the backend, which sends
	// none) with StatusWouldSend; a failure does not stop the run, and no
	// rollback runs. The run ends StatusDryRun, or StatusFailed when a
	// step failed before the first write that was not sent (later steps
	// read a state without those writes).
	DryRun bool
}

// Resume is what a resumed run takes over from the earlier run:
//
//   - the steps that ended (main and rollback) are not run again: their
//     results are the earlier ones, marked Resumed, and their outputs are
//     restored, so that step.NAME.output and step.NAME.status read as
//     before. The hooks hear them as usual (PreStep, a Message saying the
//     step ended before the resume, PostStep).
//   - the step that was in flight (started, not ended) is judged by its
//     kind's Resumer before anything runs: done (not run again; its until
//     and asserts are checked), run again, or refused. Kinds without a
//     Resumer only read the nodes and are run again. A refusal, or an
//     error while judging, fails the step and stops the run without its
//     rollback: the nodes are in a state understudy does not know, and a
//     person must look at them.
//   - a run whose rollback had begun goes on with the rollback: the main
//     steps are not run (those that ended keep their results, the failed
//     one starts the rollback as it did), and the rollback steps that
//     ended are not run again.
type Resume struct {
	// Ended are the steps that ended in the earlier run, by name.
	Ended map[string]ResumedStep
	// InFlight names the step that had started and not ended, "" when
	// none.
	InFlight string
	// InFlightAttempts is the number of attempts it had started.
	InFlightAttempts int
	// InFlightLog is what it said (Exec.Log) before the run stopped.
	InFlightLog []string
	// InFlightAs, when set, is the operator's answer for the in-flight
	// step (checked by hand), which the kind's Resumer is not asked for.
	InFlightAs ResumeDecision
	// Rollback is true when the earlier run had begun its rollback.
	Rollback bool
	// Groups are the members each group of the earlier run iterated
	// over, by group name: a resumed run iterates over the same members
	// rather than reading them again, since the steps that ran may have
	// changed them (a group over a cluster's masters that failed some of
	// them over). A group not listed reads its members when it starts.
	Groups map[string][]string
}

// ResumedStep is how a step ended in the earlier run.
type ResumedStep struct {
	// Status is StatusPassed, StatusSkipped or StatusFailed.
	Status   string
	Output   cty.Value
	Attempts int
	Duration time.Duration
	// Error is the failure of a failed step, as the earlier run reported
	// it (redacted).
	Error string
	// Interrupted is true when a signal ended the step.
	Interrupted bool
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
	// Resumed is true for a step of a resumed run that ended before the
	// resume (its result is the earlier run's) or that was in flight and
	// had taken effect: its action did not run in this run.
	Resumed bool
	// Refused is true for the step that was in flight when a resumed run
	// could not go on from it (its kind refused, or judging failed): the
	// run stops there without its rollback, and the step stays in flight
	// for the next resume.
	Refused bool
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
	// dryWrote is set once a dry run stopped a step at a write it did not
	// send.
	dryWrote bool

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
// interrupted; the rollback still runs, on a context of its own. With
// Options.Resume it continues an earlier run (see Resume).
func (in *Interpreter) Run(ctx context.Context) *Result {
	res := &Result{Status: StatusPassed, Started: time.Now()}
	stopped := false
	// step runs one step, bound to it (an iteration of its group, nil
	// for a step of its own), and decides whether the run goes on.
	// A step that cannot start (its group's set could not be read) fails
	// with failed.
	step := func(s *dsl.Step, it *dsl.Iteration, failed error) {
		s = s.Iterate(it)
		if stopped {
			res.Steps = append(res.Steps, &StepResult{Step: s, Status: StatusNotRun})
			return
		}
		if ctx.Err() != nil || in.resumesRollback(s) {
			// Interrupted between two steps: the next one does not start.
			// (A resumed run whose rollback had begun without a failed
			// step was interrupted there.)
			stopped = true
			res.Status = StatusInterrupted
			res.Steps = append(res.Steps, &StepResult{Step: s, Status: StatusNotRun})
			in.rollback(ctx, res, nil)
			return
		}
		if failed == nil {
			s, failed = in.bind(ctx, s)
		}
		sr := in.runStep(ctx, s, failed)
		res.Steps = append(res.Steps, sr)
		res.Warnings = append(res.Warnings, sr.Warnings...)
		if sr.Status == StatusPassed || sr.Status == StatusSkipped {
			return
		}
		res.Diagnostics = append(res.Diagnostics, sr.Diag)
		if in.opts.DryRun {
			if sr.Status == StatusFailed {
				res.Status = StatusFailed
			}
			if sr.Interrupted {
				stopped = true
				res.Status, res.Interrupted = StatusInterrupted, s.Name
			}
			return
		}
		if sr.Refused {
			// Resume could not go on from the step: no rollback.
			stopped = true
			res.Status = StatusFailed
			if sr.Interrupted {
				res.Status, res.Interrupted = StatusInterrupted, s.Name
			}
			return
		}
		if sr.Interrupted {
			stopped = true
			res.Status, res.Interrupted = StatusInterrupted, s.Name
			if s.OnFailure != "abort" {
				in.rollback(ctx, res, sr)
			}
			return
		}
		if res.Status == StatusPassed {
			res.Status = StatusFailed
		}
		if s.OnFailure == "continue" {
			return
		}
		stopped = true
		if s.OnFailure == "rollback" && in.rollback(ctx, res, sr) {
			res.Status = res.RollbackStatus
		}
	}
	for i := 0; i < len(in.rb.Steps); {
		s := in.rb.Steps[i]
		if s.Group == nil {
			step(s, nil, nil)
			i++
			continue
		}
		j := i
		for j < len(in.rb.Steps) && in.rb.Steps[j].Group == s.Group {
			j++
		}
		group := in.rb.Steps[i:j]
		i = j
		if stopped || ctx.Err() != nil {
			for _, gs := range group {
				step(gs, nil, nil)
			}
			continue
		}
		keys, err := in.groupMembers(ctx, s.Group)
		if err != nil {
			// The set could not be read: the group's first step fails
			// there, and the others do not run.
			step(s, nil, err)
			for _, gs := range group[1:] {
				step(gs, nil, nil)
			}
			continue
		}
		for _, key := range keys {
			for _, gs := range group {
				step(gs, &dsl.Iteration{Group: s.Group, Key: key}, nil)
			}
		}
	}
	if in.opts.DryRun && res.Status == StatusPassed {
		res.Status = StatusDryRun
	}
	res.Duration = time.Since(res.Started)
	for _, h := range in.hooks {
		h.PostRun(res)
	}
	return res
}

// groupMembers are the members g iterates over: those of the earlier run
// on a resumed run that had started g, else read now (members). The hooks
// that are GroupHooks hear them.
func (in *Interpreter) groupMembers(ctx context.Context, g *dsl.Group) ([]string, error) {
	keys, ok := []string(nil), false
	if rs := in.opts.Resume; rs != nil {
		keys, ok = rs.Groups[g.Name]
	}
	if !ok {
		var err error
		if keys, err = in.members(ctx, g); err != nil {
			return nil, err
		}
	}
	for _, h := range in.hooks {
		if gh, ok := h.(GroupHook); ok {
			gh.PreGroup(g, keys)
		}
	}
	return keys, nil
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
		s, err := in.bind(ctx, s)
		sr := in.runStep(ctx, s, err)
		res.Rollback = append(res.Rollback, sr)
		res.Warnings = append(res.Warnings, sr.Warnings...)
		if sr.Status != StatusPassed && sr.Status != StatusSkipped {
			res.Diagnostics = append(res.Diagnostics, sr.Diag)
			if s.OnFailure != "continue" || sr.Refused {
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
//
// A step that could not be bound (failed: its node could not be found) fails
// after PreStep without running.
func (in *Interpreter) runStep(ctx context.Context, s *dsl.Step, failed error) *StepResult {
	sr := &StepResult{Step: s, Started: time.Now()}
	x := &Exec{Step: s, in: in, result: sr}
	ended, isEnded := in.ended(s)
	finish := func() *StepResult {
		if !isEnded {
			sr.Duration = time.Since(sr.Started)
		}
		in.setOutput(s, dsl.StepValue(sr.Status, sr.Output))
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
	if isEnded {
		in.restore(x, sr, ended)
		return finish()
	}
	if failed != nil {
		sr.Status, sr.Diag = StatusFailed, diagFor(x, failed)
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
	if rs := in.opts.Resume; rs != nil && rs.InFlight == s.Name {
		if kind, ok = in.resumeInFlight(ctx, sctx, x, sr, kind); !ok {
			return finish()
		}
	}

	maxAttempts := s.Retry.Attempts
	if (maxAttempts == 0 && s.Until == nil) || in.opts.DryRun {
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
	if ns, ok := IsNotSent(lastErr); ok && in.opts.DryRun {
		in.dryWrote = true
		sr.Status = StatusWouldSend
		sr.Diag = &hcl.Diagnostic{
			Severity: hcl.DiagWarning,
			Summary:  fmt.Sprintf("Step %s stops here in a dry run", x.Step.Ref()),
			Detail:   fmt.Sprintf("Would send %s to %s; nothing was sent. The rest of the step is what plan describes.", ns.What, ns.Target),
			Subject:  x.Step.DeclRange.Ptr(),
		}
		return finish()
	}
	in.fail(ctx, sctx, x, sr, lastErr)
	if in.opts.DryRun && in.dryWrote && !sr.Interrupted {
		// Later steps read a state without the writes a dry run did not
		// send: their failures say nothing about the runbook.
		sr.Status = StatusUnchecked
		d := *sr.Diag
		d.Severity = hcl.DiagWarning
		d.Detail = "After a write the dry run did not send, this step read a state without it. " + d.Detail
		sr.Diag = &d
	}
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
	in.setOutput(x.Step, dsl.StepValue(StatusPassed, out))
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

// ended returns how a step ended in the run this one resumes.
func (in *Interpreter) ended(s *dsl.Step) (ResumedStep, bool) {
	if in.opts.Resume == nil {
		return ResumedStep{}, false
	}
	r, ok := in.opts.Resume.Ended[s.Name]
	return r, ok
}

// resumesRollback reports whether the run resumes a rollback and s is a
// main step the earlier run had not ended: it does not run.
func (in *Interpreter) resumesRollback(s *dsl.Step) bool {
	_, ok := in.ended(s)
	return in.opts.Resume != nil && in.opts.Resume.Rollback && !ok
}

// restore gives a step that ended before the resume its earlier result.
func (in *Interpreter) restore(x *Exec, sr *StepResult, r ResumedStep) {
	sr.Status, sr.Output, sr.Attempts, sr.Duration = r.Status, r.Output, r.Attempts, r.Duration
	sr.Started, sr.Resumed, sr.Interrupted = time.Time{}, true, r.Interrupted
	if r.Status == StatusFailed {
		sr.Diag = &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  fmt.Sprintf("Step %s failed before the resume", x.Step.Ref()),
			Detail:   r.Error,
			Subject:  x.Step.DeclRange.Ptr(),
		}
	}
	x.Log("%s before the resume (%d attempt(s)): not run again", r.Status, r.Attempts)
}

// resumeInFlight judges the step that was in flight when the earlier run
// stopped: the operator's answer, else its kind's Resumer, else run again.
// It returns the kind to run (for a step that is done, one whose action
// only returns the output Resume gave), or false when the step cannot be
// resumed and has failed.
func (in *Interpreter) resumeInFlight(ctx, sctx context.Context, x *Exec, sr *StepResult, kind Kind) (Kind, bool) {
	rs := in.opts.Resume
	x.Log("in flight when the earlier run stopped (attempt %d)", rs.InFlightAttempts)
	dec, out, err := rs.InFlightAs, cty.NilVal, error(nil)
	by := "the operator's answer"
	if dec == 0 {
		by, dec = "it only reads", ResumeRun
		if r, ok := kind.(Resumer); ok {
			by = "checked on the nodes"
			dec, out, err = r.Resume(sctx, x)
		}
	}
	if err == nil {
		switch dec {
		case ResumeRun:
			x.Log("run again (%s)", by)
			return kind, true
		case ResumeDone:
			x.Log("it had taken effect: not run again (%s)", by)
			sr.Resumed = true
			return doneKind{Kind: kind, out: out}, true
		}
		err = fmt.Errorf("the state found is not one it can go on from")
	}
	sr.Refused = true
	if ctx.Err() != nil || sctx.Err() != nil {
		in.fail(ctx, sctx, x, sr, err)
		return nil, false
	}
	sr.Status = StatusFailed
	sr.Diag = diagFor(x, err)
	sr.Diag.Summary = fmt.Sprintf("Step %s cannot be resumed", x.Step.Ref())
	stops := "The run stops here without its rollback"
	if x.Step.InRollback {
		stops = "The rollback stops here"
	}
	sr.Diag.Detail = fmt.Sprintf("It was in flight when the earlier run stopped: %s. %s: check the nodes by hand, then resume saying whether the step took effect, or put things right by hand.", strings.TrimSuffix(err.Error(), "."), stops)
	return nil, false
}

// doneKind is the kind of an in-flight step that had taken effect: its
// action only returns the output its Resumer gave, and the interpreter
// checks until and the asserts as after any attempt.
type doneKind struct {
	Kind
	out cty.Value
}

func (k doneKind) Run(context.Context, *Exec) (cty.Value, error) { return k.out, nil }
