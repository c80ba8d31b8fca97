package report

import (
	"fmt"
	"time"

	"github.com/understudy/understudy/dsl"
	"github.com/understudy/understudy/steps"
	"github.com/understudy/understudy/steps/redact"
	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"
)

// Recorder is the hook that writes the steps of a run into a report as
// they finish, measured from the run's one time origin, with the plan's
// description of each step and every secret redacted from outputs and
// messages.
type Recorder struct {
	steps.NilHook
	Report *Report
	origin time.Time
	// sends are the plan's descriptions by step name (an iteration of a
	// group by its step[key] name, as the static walk names it).
	sends   map[string][]string
	secrets *redact.Secrets
}

// NewRecorder returns a recorder filling r for the runbook rb, whose plan
// provides each step's description; times are measured from origin.
func NewRecorder(r *Report, rb *dsl.Runbook, origin time.Time, secrets *redact.Secrets) *Recorder {
	rec := &Recorder{Report: r, origin: origin, sends: map[string][]string{}, secrets: secrets}
	p := BuildPlan(rb, r.Runbook)
	for _, s := range append(p.Steps, p.Rollback...) {
		rec.sends[s.Name] = s.Sends
	}
	return rec
}

// Step turns a step result into a report step.
func (rec *Recorder) Step(res *steps.StepResult) Step {
	s := Step{
		Name: res.Step.Name, Kind: res.Step.Kind, Status: res.Status, Attempts: res.Attempts,
		DurationMS: ms(res.Duration),
		Source:     fmt.Sprintf("%s:%d", res.Step.DeclRange.Filename, res.Step.DeclRange.Start.Line),
		Sends:      rec.sends[res.Step.Name],
	}
	if !res.Started.IsZero() {
		s.StartMS = ms(res.Started.Sub(rec.origin))
	}
	if res.Diag != nil {
		s.Error = rec.secrets.String(dsl.DiagnosticLine(res.Diag))
	}
	for _, w := range res.Warnings {
		s.Warnings = append(s.Warnings, rec.secrets.String(dsl.DiagnosticLine(w)))
	}
	if res.Output != cty.NilVal && !res.Output.IsNull() && res.Output.IsWhollyKnown() {
		out := rec.secrets.Value(res.Output)
		if b, err := ctyjson.Marshal(out, out.Type()); err == nil {
			s.Output = b
		}
	}
	return s
}

// PostStep records a step as it finishes, main or rollback.
func (rec *Recorder) PostStep(res *steps.StepResult) (steps.HookAction, error) {
	if res.Step.InRollback {
		rec.Report.Rollback = append(rec.Report.Rollback, rec.Step(res))
	} else {
		rec.Report.Steps = append(rec.Report.Steps, rec.Step(res))
	}
	return steps.HookContinue, nil
}

// PostRun records the verdict, the steps that were not reached (they come
// after every step that ran, and no hook hears them), and every failure.
func (rec *Recorder) PostRun(res *steps.Result) {
	r := rec.Report
	r.Status = res.Status
	for _, s := range res.Steps[len(r.Steps):] {
		r.Steps = append(r.Steps, rec.Step(s))
	}
	for _, s := range res.Rollback[len(r.Rollback):] {
		r.Rollback = append(r.Rollback, rec.Step(s))
	}
	r.RollbackStatus = res.RollbackStatus
	if res.Status == steps.StatusInterrupted {
		r.Interrupted = "before the first step"
		if res.Interrupted != "" {
			r.Interrupted = fmt.Sprintf("during step %q", res.Interrupted)
		} else if last := lastRun(res.Steps); last != nil {
			r.Interrupted = fmt.Sprintf("after step %q", last.Step.Name)
		}
	}
	for _, d := range res.Diagnostics {
		r.Errors = append(r.Errors, rec.secrets.String(dsl.DiagnosticLine(d)))
	}
	for _, w := range res.Warnings {
		r.Warnings = append(r.Warnings, rec.secrets.String(dsl.DiagnosticLine(w)))
	}
	if res.Status == steps.StatusFailed {
		for _, s := range res.Failed() {
			if s.Step.OnFailure == "continue" {
				r.Errors = append(r.Errors, fmt.Sprintf("step %s failed (on_failure = \"continue\" let the run go on, and the run fails)", s.Step.Ref()))
			}
		}
	}
}

func lastRun(results []*steps.StepResult) *steps.StepResult {
	var last *steps.StepResult
	for _, s := range results {
		if s.Status != steps.StatusNotRun {
			last = s
		}
	}
	return last
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
