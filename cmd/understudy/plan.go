package main

import (
	"io"

	"github.com/understudy/understudy/dsl"
)

func runPlan(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("plan", "FILE [--var NAME=VALUE]... [--var-file F]... [--format text|markdown]",
		"Prints the ordered steps with every value that can be resolved without a server, the\n"+
			"commands each step will send, the live conditions as written, and the point of no\n"+
			"return. Touches no server. Secrets are shown as (sensitive).", stderr)
	in := inputFlags(fs)
	format := fs.String("format", "text", "output format: text or markdown (for a pull-request comment)")
	files, err := parseInterleaved(fs, args)
	if err != nil {
		return flagExit(err)
	}
	if len(files) != 1 || (*format != "text" && *format != "markdown") {
		fs.Usage()
		return exitUsage
	}
	rb, diags := dsl.Load(files, dsl.LoadOptions{Vars: in.vars, VarFiles: in.varFiles, Mode: dsl.ModeValidate})
	_ = rb.WriteDiagnostics(stderr, diags, false)
	if diags.HasErrors() {
		return exitUsage
	}
	p := rb.BuildPlan(files[0])
	if *format == "markdown" {
		p.WriteMarkdown(stdout)
	} else {
		p.WriteText(stdout)
	}
	return exitOK
}
