package main

import (
	"fmt"
	"io"

	"github.com/understudy/understudy/dsl"
)

func runValidate(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("validate", "[--var NAME=VALUE]... [--var-file F]... FILE...",
		"Parses and checks runbooks without touching any server: syntax, references, types,\n"+
			"step arguments, and whether the rehearsal versions can replicate. Exit code 2 on errors.", stderr)
	in := inputFlags(fs)
	files, err := parseInterleaved(fs, args)
	if err != nil {
		return flagExit(err)
	}
	if len(files) == 0 {
		return usageError(fs, stderr, "validate needs at least one runbook file")
	}
	code := exitOK
	for _, f := range files {
		rb, ok := load(stderr, []string{f}, in, dsl.ModeValidate)
		if !ok {
			code = exitUsage
			continue
		}
		fmt.Fprintf(stdout, "%s: valid (%d steps, %d rollback steps%s)\n", f, len(rb.Steps), rollbackLen(rb), workloadNote(rb))
	}
	return code
}

func rollbackLen(rb *dsl.Runbook) int {
	if rb.Rollback == nil {
		return 0
	}
	return len(rb.Rollback.Steps)
}

// workloadNote is ", workload CMD" when the runbook's rehearsal runs one.
func workloadNote(rb *dsl.Runbook) string {
	if cmd, _ := rb.WorkloadText(); cmd != "" {
		return ", workload " + cmd
	}
	return ""
}
