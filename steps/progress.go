package steps

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/understudy/understudy/dsl"
)

// Progress is the hook that prints the progress lines of a run to a
// terminal: each step as it starts, how it ended, what it said, the
// rollback. Callers pass a redacting writer (package redact).
type Progress struct {
	NilHook
	w     io.Writer
	rb    *dsl.Runbook
	mu    sync.Mutex
	index map[*dsl.Step]int
}

// NewProgress returns the progress hook of a run of rb, writing to w.
func NewProgress(w io.Writer, rb *dsl.Runbook) *Progress {
	p := &Progress{w: w, rb: rb, index: map[*dsl.Step]int{}}
	for i, s := range rb.Steps {
		p.index[s] = i + 1
	}
	return p
}

func (p *Progress) printf(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, format, args...)
}

func (p *Progress) PreStep(s *dsl.Step) (HookAction, error) {
	if s.InRollback {
		p.printf("rollback step %s %q\n", s.Kind, s.Name)
	} else {
		p.printf("step %d/%d %s %q\n", p.index[s.Decl()], len(p.rb.Steps), s.Kind, s.Name)
	}
	return HookContinue, nil
}

func (p *Progress) Message(_ *dsl.Step, text string) { p.printf("    %s\n", text) }

func (p *Progress) PostStep(r *StepResult) (HookAction, error) {
	if r.Status == StatusSkipped {
		p.printf("  skipped: its when condition is false\n")
		return HookContinue, nil
	}
	line := fmt.Sprintf("  %s after %d attempt(s), %s", r.Status, r.Attempts, r.Duration.Round(time.Millisecond))
	if r.Diag != nil {
		line += ": " + dsl.DiagnosticLine(r.Diag)
	}
	p.printf("%s\n", line)
	for _, w := range r.Warnings {
		p.printf("  warning: %s\n", dsl.DiagnosticLine(w))
	}
	return HookContinue, nil
}

func (p *Progress) PreRollback(cause *StepResult) (HookAction, error) {
	why := "a step failed"
	if cause == nil || cause.Interrupted {
		why = "the run was interrupted"
	}
	p.printf("rollback (%s): %d step(s)\n", why, len(p.rb.Rollback.Steps))
	return HookContinue, nil
}

func (p *Progress) PostRollback(status string) (HookAction, error) {
	p.printf("rollback %s\n", status)
	return HookContinue, nil
}
