package dsl

import (
	"fmt"
	"io"

	"github.com/hashicorp/hcl/v2"
)

// WriteDiagnostics prints diagnostics for a human: file:line:col, the
// summary, the detail and the source snippet. width 0 means no wrapping.
func (r *Runbook) WriteDiagnostics(w io.Writer, diags hcl.Diagnostics, color bool) error {
	var files map[string]*hcl.File
	if r != nil {
		files = r.Files
	}
	return WriteDiagnostics(w, files, diags, color)
}

// WriteDiagnostics is the same for callers that have only the files.
func WriteDiagnostics(w io.Writer, files map[string]*hcl.File, diags hcl.Diagnostics, color bool) error {
	dw := hcl.NewDiagnosticTextWriter(w, files, 0, color)
	return dw.WriteDiagnostics(diags)
}

// DiagnosticLine is one diagnostic on one line:
// "file:line,col-col: Summary; Detail". Reports and journals use it.
func DiagnosticLine(d *hcl.Diagnostic) string {
	s := d.Summary
	if d.Detail != "" {
		s += "; " + d.Detail
	}
	if d.Subject != nil {
		return fmt.Sprintf("%s:%d:%d: %s", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column, s)
	}
	return s
}
