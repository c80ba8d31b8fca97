// Package report holds the result of a rehearsal (and, later, of an apply)
// as the JSON document written by --report, and its summary for a terminal.
//
// A report is built from what the interpreter and the probes observed; it
// never holds a secret: node passwords are not part of any field, and
// errors are the runbook diagnostics, which name nodes, not credentials.
package report
