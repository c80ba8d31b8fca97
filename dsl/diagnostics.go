package dsl

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

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

// WriteDiagnostics is the same for callers that have only the files. Each
// diagnostic starts with a "file:line:col: severity: summary" line that
// editors and CI logs recognise, followed by HCL's rendering with the
// source snippet and the detail.
//
// At most MaxDiagnostics are printed, then a count of the rest: a file that
// is not HCL at all would otherwise print one per line. Control characters
// from the source (a binary file, escape sequences) are printed escaped,
// never raw.
func WriteDiagnostics(w io.Writer, files map[string]*hcl.File, diags hcl.Diagnostics, color bool) error {
	var buf bytes.Buffer
	dw := hcl.NewDiagnosticTextWriter(&buf, files, 0, color)
	w = &sanitizer{w: w}
	for i, d := range diags {
		if i == MaxDiagnostics {
			errs, warns := 0, 0
			for _, rest := range diags[i:] {
				if rest.Severity == hcl.DiagError {
					errs++
				} else {
					warns++
				}
			}
			_, err := fmt.Fprintf(w, "... and %d more diagnostic(s) (%d error(s), %d warning(s)) not shown.\n", len(diags)-i, errs, warns)
			return err
		}
		sev := "error"
		if d.Severity == hcl.DiagWarning {
			sev = "warning"
		}
		if d.Subject != nil {
			if _, err := fmt.Fprintf(w, "%s:%d:%d: %s: %s\n", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column, sev, d.Summary); err != nil {
				return err
			}
		}
		buf.Reset()
		if err := dw.WriteDiagnostic(d); err != nil {
			return err
		}
		out := buf.Bytes()
		if d.Subject != nil {
			// The summary is on the location line already.
			if i := bytes.IndexByte(out, '\n'); i >= 0 {
				out = out[i+1:]
			}
		}
		if _, err := w.Write(out); err != nil {
			return err
		}
	}
	return nil
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

// MaxDiagnostics is how many diagnostics WriteDiagnostics prints.
const MaxDiagnostics = 10

// sanitizer escapes control characters other than newline and tab.
type sanitizer struct{ w io.Writer }

func (s *sanitizer) Write(p []byte) (int, error) {
	var b strings.Builder
	for _, r := range string(p) {
		switch {
		case r == '\n' || r == '\t':
			b.WriteRune(r)
		case r == utf8.RuneError:
			b.WriteString(`\ufffd`)
		case unicode.IsControl(r):
			b.WriteString(strconv.QuoteRuneToASCII(r)[1 : len(strconv.QuoteRuneToASCII(r))-1])
		default:
			b.WriteRune(r)
		}
	}
	if _, err := io.WriteString(s.w, b.String()); err != nil {
		return 0, err
	}
	return len(p), nil
}
