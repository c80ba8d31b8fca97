package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/understudy/understudy/dsl"
	"github.com/understudy/understudy/steps/report"
)

func runPlan(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("plan", "FILE [--var NAME=VALUE]... [--var-file F]... [--format "+strings.Join(report.FormatNames(), "|")+"]",
		"Prints the ordered steps with every value that can be resolved without a server, the\n"+
			"commands each step will send, the live conditions as written, and the point of no\n"+
			"return. Touches no server. Secrets are shown as (sensitive).", stderr)
	in := inputFlags(fs)
	format := fs.String("format", "text", "output format: "+strings.Join(report.FormatNames(), ", ")+" (markdown for a pull-request comment)")
	files, err := parseInterleaved(fs, args)
	if err != nil {
		return flagExit(err)
	}
	f, ferr := report.LookupFormat(*format)
	switch {
	case len(files) == 0:
		return usageError(fs, stderr, "plan needs the runbook file")
	case len(files) > 1:
		return usageError(fs, stderr, fmt.Sprintf("plan takes one runbook file, got %d: %s", len(files), strings.Join(files, " ")))
	case ferr != nil:
		return usageError(fs, stderr, ferr.Error())
	}
	rb, ok := load(stderr, files, in, dsl.ModeValidate)
	if !ok {
		return exitUsage
	}
	p := report.BuildPlan(rb, files[0])
	if err := f.Plan(stdout, p); err != nil {
		fmt.Fprintf(stderr, "understudy plan: %v\n", err)
		return exitInternal
	}
	return exitOK
}
