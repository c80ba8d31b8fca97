package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/hashicorp/hcl/v2"
	"github.com/understudy/understudy/dsl"
	"github.com/understudy/understudy/steps"
	"github.com/understudy/understudy/steps/rehearsal"
	"github.com/understudy/understudy/steps/rehearsal/container"
	"github.com/zclconf/go-cty/cty"
)

func runRehearse(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("rehearse", "FILE [--var NAME=VALUE]... [--var-file F]... [--report PATH]",
		"Runs the runbook against containers of the real old and new versions: one container per\n"+
			"node, seeded with data of every common type, a write probe through the endpoint for the\n"+
			"whole run, then checks that no acknowledged write was lost and that the final master\n"+
			"holds the seeded data. Every container is removed at the end, also after a failure or\n"+
			"Ctrl-C. Exit code 0 only when the rehearsal passed.\n\n"+
			"Images: UNDERSTUDY_IMAGES=auto (default: the local understudy/* image when it exists,\n"+
			"else the official one), local, or official; build the local ones with 'make images'.", stderr)
	in := inputFlags(fs)
	reportPath := fs.String("report", "", "write the JSON report to this path")
	keys := fs.Int("keys", 0, fmt.Sprintf("keys to seed (default: the runbook's rehearsal block, else %d; -1 for none)", rehearsal.DefaultKeys))
	rate := fs.Int("rate", 0, fmt.Sprintf("write probe rate in writes/s (default: the runbook's, else %d; -1 for none)", rehearsal.DefaultWriteRate))
	images := fs.String("images", "", "image source: auto, local or official (default: $UNDERSTUDY_IMAGES, else auto)")
	quiet := fs.Bool("quiet", false, "no progress lines, only the summary")
	files, err := parseInterleaved(fs, args)
	if err != nil {
		return flagExit(err)
	}
	if len(files) != 1 {
		fs.Usage()
		return exitUsage
	}
	catalog, err := container.CatalogFromEnv()
	if *images != "" {
		var src container.Source
		src, err = container.ParseSource(*images)
		catalog = container.Catalog{Source: src}
	}
	if err != nil {
		fmt.Fprintf(stderr, "understudy rehearse: %v\n", err)
		return exitUsage
	}

	rb, diags := dsl.Load(files, dsl.LoadOptions{Vars: in.vars, VarFiles: in.varFiles, Mode: dsl.ModeRehearsal})
	_ = rb.WriteDiagnostics(stderr, diags, false)
	if diags.HasErrors() {
		return exitUsage
	}
	if d := rehearsal.CheckRehearsable(rb); d.HasErrors() {
		_ = rb.WriteDiagnostics(stderr, d, false)
		return exitUsage
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	finished := make(chan struct{})
	defer close(finished)
	go func() {
		select {
		case <-finished:
		case <-ctx.Done():
			// A second Ctrl-C kills the process at once; the next
			// rehearsal removes what this one leaves.
			stop()
			fmt.Fprintln(stderr, "\ninterrupted: running the rollback and removing the containers (Ctrl-C again to quit at once)")
		}
	}()
	var log io.Writer = stderr
	if *quiet {
		log = io.Discard
	}
	varsShown := map[string]string{}
	for name := range rb.Variables {
		if rb.SensitiveVar(name) {
			varsShown[name] = "(sensitive)"
		} else if v, ok := rb.Var(name); ok && v.IsKnown() && !v.IsNull() && v.Type() == cty.String {
			varsShown[name] = v.AsString()
		}
	}
	rep, err := rehearsal.Rehearse(ctx, rb, files[0], rehearsal.Options{
		Keys: *keys, WriteRate: *rate, Catalog: catalog, Log: log, Variables: varsShown,
	})
	if err != nil {
		var hd hcl.Diagnostics
		if errors.As(err, &hd) {
			_ = rb.WriteDiagnostics(stderr, hd, false)
			return exitUsage
		}
		fmt.Fprintf(stderr, "understudy rehearse: %v\n", err)
		return exitInternal
	}
	rep.WriteSummary(stdout)
	if *reportPath != "" {
		if err := rep.WriteFile(*reportPath); err != nil {
			fmt.Fprintf(stderr, "understudy rehearse: %v\n", err)
			return exitInternal
		}
		fmt.Fprintf(stdout, "  report: %s\n", *reportPath)
	}
	if rep.Status != steps.StatusPassed {
		return exitFailed
	}
	return exitOK
}
