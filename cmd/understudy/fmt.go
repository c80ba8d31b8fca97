package main

import (
	"bytes"
	"fmt"
	"io"
	"os"

	"github.com/understudy/understudy/dsl"
)

func runFmt(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("fmt", "[-check] FILE...",
		"Rewrites runbooks in canonical HCL style. With -check, changes nothing and exits 1\n"+
			"when a file is not formatted (for CI).", stderr)
	check := fs.Bool("check", false, "list files that are not formatted and exit 1; write nothing")
	files, err := parseInterleaved(fs, args)
	if err != nil {
		return flagExit(err)
	}
	if len(files) == 0 {
		return usageError(fs, stderr, "fmt needs at least one runbook file")
	}
	code := exitOK
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			fmt.Fprintf(stderr, "understudy fmt: %v\n", err)
			code = exitUsage
			continue
		}
		out, diags := dsl.Format(src, f)
		if diags.HasErrors() {
			_ = dsl.WriteDiagnostics(stderr, nil, diags, false)
			code = exitUsage
			continue
		}
		if bytes.Equal(src, out) {
			continue
		}
		if *check {
			fmt.Fprintln(stdout, f)
			if code == exitOK {
				code = exitFailed
			}
			continue
		}
		if err := os.WriteFile(f, out, 0o644); err != nil {
			fmt.Fprintf(stderr, "understudy fmt: %v\n", err)
			code = exitUsage
			continue
		}
		fmt.Fprintln(stdout, f)
	}
	return code
}
