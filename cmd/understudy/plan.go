package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/understudy/understudy/dsl"
	"github.com/understudy/understudy/steps/apply"
	"github.com/understudy/understudy/steps/live"
	"github.com/understudy/understudy/steps/redact"
	"github.com/understudy/understudy/steps/report"
)

func runPlan(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("plan", "FILE [--var NAME=VALUE]... [--var-file F]... [--format "+strings.Join(report.FormatNames(), "|")+"]",
		"Prints the ordered steps with every value that can be resolved without a server, the\n"+
			"commands each step will send, the live conditions as written, and the point of no\n"+
			"return. Touches no server. Secrets are shown as (sensitive).\n\n"+
			"With --out PATH it also reads every node's live state (INFO only: version, role, run id,\n"+
			"replication id) and saves the plan for 'understudy apply PATH', which refuses when the\n"+
			"runbook or a node changed since. The plan file holds no secret.", stderr)
	in := inputFlags(fs)
	format := fs.String("format", "text", "output format: "+strings.Join(report.FormatNames(), ", ")+" (markdown for a pull-request comment)")
	outPath := fs.String("out", "", "save the plan, bound to the nodes' live state, for 'understudy apply'")
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
	mode := dsl.ModeValidate
	if *outPath != "" {
		mode = dsl.ModeLive
	}
	rb, ok := load(stderr, files, in, mode)
	if !ok {
		return exitUsage
	}
	p := report.BuildPlan(rb, files[0])
	if err := f.Plan(stdout, p); err != nil {
		fmt.Fprintf(stderr, "understudy plan: %v\n", err)
		return exitInternal
	}
	if *outPath == "" {
		return exitOK
	}
	return savePlan(rb, files[0], in, *outPath, stdout, stderr)
}

// savePlan reads the nodes' live state and saves the plan bound to it.
func savePlan(rb *dsl.Runbook, runbook string, in *inputs, path string, stdout, stderr io.Writer) int {
	secrets := redact.New(rb.Secrets()...)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	t := live.New(rb)
	defer t.Close(context.WithoutCancel(ctx))
	nodes, err := apply.Preflight(ctx, rb, t, nil)
	if err != nil {
		fmt.Fprintf(stderr, "understudy plan: %s\n", secrets.String(err.Error()))
		return exitUsage
	}
	out := secrets.Writer(stdout)
	defer out.Close()
	writeNodeStates(out, nodes)
	p, err := apply.NewPlan(rb, runbook, in.varFiles, nodes, version)
	if err == nil {
		err = p.Save(path)
	}
	if err != nil {
		fmt.Fprintf(stderr, "understudy plan: %v\n", err)
		return exitInternal
	}
	fmt.Fprintf(out, "\nSaved the plan to %s. Apply it with:\n  understudy apply %s\n", path, path)
	return exitOK
}
