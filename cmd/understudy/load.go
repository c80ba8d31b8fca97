package main

import (
	"io"

	"github.com/understudy/understudy/dsl"
	"github.com/understudy/understudy/steps/dataset"
	"github.com/understudy/understudy/steps/kinds"
)

// load reads runbook files with the registered step kinds (and the names a
// rehearsal block's types may list: what the seed writes) and prints the
// diagnostics; ok is false when there were errors.
func load(stderr io.Writer, files []string, in *inputs, mode dsl.Mode) (*dsl.Runbook, bool) {
	rb, diags := dsl.Load(files, dsl.LoadOptions{Vars: in.vars, VarFiles: in.varFiles, Mode: mode, Kinds: kinds.Registry, SeedTypes: dataset.SeedTypes})
	_ = rb.WriteDiagnostics(stderr, diags, false)
	return rb, !diags.HasErrors()
}
