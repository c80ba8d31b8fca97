package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/hashicorp/hcl/v2"
	"github.com/understudy/understudy/dsl"
	"github.com/understudy/understudy/steps"
	"github.com/understudy/understudy/steps/redact"
	"github.com/understudy/understudy/steps/rehearsal"
	"github.com/understudy/understudy/steps/rehearsal/container"
)

func runRehearse(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("rehearse", "FILE [--var NAME=VALUE]... [--var-file F]... [--report PATH]",
		"Runs the runbook against containers of the real old and new versions: one container per\n"+
			"node, seeded with data of every common type, a write probe through the endpoint for the\n"+
			"whole run, then checks that no acknowledged write was lost and that the final master\n"+
			"holds the seeded data. Every container is removed at the end, also after a failure or\n"+
			"Ctrl-C. Exit code 0 only when the rehearsal passed; 1 when it did not; 130 when a signal\n"+
			"(Ctrl-C, SIGTERM) interrupted it (the rollback and the checks still run).\n\n"+
			"Images: UNDERSTUDY_IMAGES=auto (default: the local understudy/* image when it exists,\n"+
			"else the official one), local, or official; build the local ones with 'make images'.\n"+
			"Password: the runbook's own when its nodes' password resolves (env(\"REDIS_PASSWORD\") set),\n"+
			"else $"+rehearsal.PasswordEnv+", else a random one; an outside client can connect with it\n"+
			"to the endpoint the log prints. It never appears in any output.", stderr)
	in := inputFlags(fs)
	reportPath := fs.String("report", "", "write the JSON report to this path")
	reportMode := fs.String("report-mode", "0600", "the report file's mode, in octal")
	keys := fs.Int("keys", 0, fmt.Sprintf("keys to seed (default: the runbook's rehearsal block, else %d; -1 for none)", rehearsal.DefaultKeys))
	rate := fs.Int("rate", 0, fmt.Sprintf("write probe rate in writes/s (default: the runbook's, else %d; -1 for none)", rehearsal.DefaultWriteRate))
	images := fs.String("images", "", "image source: auto, local or official (default: $UNDERSTUDY_IMAGES, else auto)")
	quiet := fs.Bool("quiet", false, "no progress lines, only the summary")
	files, err := parseInterleaved(fs, args)
	if err != nil {
		return flagExit(err)
	}
	switch {
	case len(files) == 0:
		return usageError(fs, stderr, "rehearse needs the runbook file")
	case len(files) > 1:
		return usageError(fs, stderr, fmt.Sprintf("rehearse takes one runbook file, got %d", len(files)))
	}
	mode, err := strconv.ParseUint(*reportMode, 8, 32)
	if err != nil || mode > 0o777 {
		return usageError(fs, stderr, fmt.Sprintf("--report-mode %q is not a file mode such as 0600 or 0640", *reportMode))
	}
	catalog, err := container.CatalogFromEnv()
	if *images != "" {
		var src container.Source
		src, err = container.ParseSource(*images)
		catalog = container.Catalog{Source: src}
	}
	if err != nil {
		return usageError(fs, stderr, err.Error())
	}

	rb, ok := load(stderr, files, in, dsl.ModeRehearsal)
	if !ok {
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
			fmt.Fprintln(stderr, "\ninterrupted: running the rollback and the checks, then removing the containers (Ctrl-C again to quit at once)")
		}
	}()
	var log io.Writer = stderr
	if *quiet {
		log = io.Discard
	}
	varsShown := shownVariables(rb)
	secrets := redact.New()
	rep, err := rehearsal.Rehearse(ctx, rb, files[0], rehearsal.Options{
		Keys: *keys, WriteRate: *rate, Catalog: catalog, Log: log, Variables: varsShown, Secrets: secrets,
		Comparer: comparer(),
	})
	if err != nil {
		var hd hcl.Diagnostics
		if errors.As(err, &hd) {
			_ = rb.WriteDiagnostics(stderr, hd, false)
			return exitUsage
		}
		fmt.Fprintf(stderr, "understudy rehearse: %s\n", secrets.String(err.Error()))
		return exitInternal
	}
	out := secrets.Writer(stdout)
	defer out.Close()
	if err := rep.Write(out, "text"); err != nil {
		fmt.Fprintf(stderr, "understudy rehearse: %v\n", err)
		return exitInternal
	}
	if *reportPath != "" {
		if err := rep.WriteFileMode(*reportPath, secrets, os.FileMode(mode)); err != nil {
			fmt.Fprintf(stderr, "understudy rehearse: %v\n", err)
			return exitInternal
		}
		fmt.Fprintf(out, "  report: %s\n", *reportPath)
	}
	switch rep.Status {
	case steps.StatusPassed:
		return exitOK
	case steps.StatusInterrupted:
		return exitInterrupted
	}
	return exitFailed
}
