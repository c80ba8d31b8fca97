package steps

import (
	"errors"
	"fmt"

	"github.com/hashicorp/hcl/v2"
)

// DiagError is an error that points at a runbook range.
type DiagError struct {
	Diag *hcl.Diagnostic
}

func (e *DiagError) Error() string {
	s := e.Diag.Summary
	if e.Diag.Detail != "" {
		s += ": " + e.Diag.Detail
	}
	return s
}

// ErrorAt builds an error pointing at rng.
func ErrorAt(rng hcl.Range, summary, format string, args ...any) error {
	return &DiagError{Diag: &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  summary,
		Detail:   fmt.Sprintf(format, args...),
		Subject:  rng.Ptr(),
	}}
}

// permanentError marks a failure that retrying cannot fix (a refused
// version pair, a wrong role): the step fails at once.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Permanent marks err as not worth retrying.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err}
}

func isPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

// diagFor turns any error of a step into a diagnostic at the step's range
// unless it already carries one.
func diagFor(x *Exec, err error) *hcl.Diagnostic {
	var de *DiagError
	if errors.As(err, &de) {
		d := *de.Diag
		if d.Subject == nil {
			d.Subject = x.Step.DeclRange.Ptr()
		}
		if d.Context == nil && d.Subject != nil && *d.Subject != x.Step.DeclRange {
			d.Context = hcl.RangeOver(x.Step.DeclRange, *d.Subject).Ptr()
		}
		d.Summary = fmt.Sprintf("Step %s failed: %s", x.Step.Ref(), d.Summary)
		return &d
	}
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  fmt.Sprintf("Step %s failed", x.Step.Ref()),
		Detail:   err.Error(),
		Subject:  x.Step.DeclRange.Ptr(),
	}
}
