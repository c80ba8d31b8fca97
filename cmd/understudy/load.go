package main

import (
	"io"

	"github.com/understudy/understudy/dsl"
	"github.com/understudy/understudy/steps/kinds"
)

// load reads runbook files with the registered step kinds and prints the
// diagnostics; ok is false when there were errors.
func load(stderr io.Writer, files []string, in *inputs, mode dsl.Mode) (*dsl.Runbook, bool) {
	rb, diags := dsl.Load(files, dsl.LoadOptions{Vars: in.vars, VarFiles: in.varFiles, Mode: mode, Kinds: kinds.Registry})
	_ = rb.WriteDiagnostics(stderr, diags, false)
	return rb, !diags.HasErrors()
}
