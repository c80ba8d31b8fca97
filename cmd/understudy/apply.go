package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"

	"github.com/understudy/understudy/dsl"
	"github.com/understudy/understudy/steps"
	"github.com/understudy/understudy/steps/apply"
	"github.com/understudy/understudy/steps/live"
	"github.com/understudy/understudy/steps/redact"
	"github.com/understudy/understudy/steps/report"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"golang.org/x/sys/unix"
)

func runApply(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("apply", "FILE|PLAN [--var NAME=VALUE]... [--var-file F]... [--auto-approve] [--report PATH]",
		"Runs the runbook against the live nodes it names: the servers understudy did not start.\n"+
			"Every node is read first (unreachable, wrong password, not what a saved plan saw: refused\n"+
			"before the first write). Given a runbook FILE, it prints the plan and the nodes' live\n"+
			"state and asks for a typed 'yes' on a terminal (--auto-approve skips the question; with\n"+
			"no terminal and no flag it refuses). Given a PLAN saved by 'understudy plan --out', it\n"+
			"applies what was approved and refuses when the runbook or a node changed since; only\n"+
			"sensitive variables may be given again with --var.\n\n"+
			"A canary writes at a low rate through the first endpoint that declares the application's\n"+
			"address, on keys "+apply.CanaryPrefix+"* that it removes at the end, and the report\n"+
			"gives its acknowledged, lost and failed writes and its longest stall.\n"+
			"Exit code 0 only when every step passed and the canary lost nothing; 1 when the apply\n"+
			"ran and did not pass; 2 when it was refused; 130 when a signal interrupted it.", stderr)
	in := inputFlags(fs)
	autoApprove := fs.Bool("auto-approve", false, "apply without asking")
	reportPath := fs.String("report", "", "write the JSON report to this path (mode 0600)")
	canaryRate := fs.Int("canary-rate", 0, fmt.Sprintf("the canary's writes/s (default %d; -1 for none)", apply.DefaultCanaryRate))
	quiet := fs.Bool("quiet", false, "no progress lines, only the summary")
	files, err := parseInterleaved(fs, args)
	if err != nil {
		return flagExit(err)
	}
	switch {
	case len(files) == 0:
		return usageError(fs, stderr, "apply needs the runbook file or a saved plan")
	case len(files) > 1:
		return usageError(fs, stderr, fmt.Sprintf("apply takes one runbook file or plan, got %d: %s", len(files), strings.Join(files, " ")))
	}

	// A saved plan brings its runbook, its variables and the live state it
	// was approved against.
	var plan *apply.Plan
	runbook := files[0]
	if p, err := apply.ReadPlan(files[0]); err == nil {
		plan, runbook = p, p.Runbook
		if len(in.varFiles) > 0 {
			return usageError(fs, stderr, "a saved plan brings its own --var-file; give only sensitive variables with --var")
		}
		given := in.vars
		in = &inputs{vars: append(stringList(p.VarArgs()), given...), varFiles: stringList(p.VarFiles)}
		for _, kv := range given {
			name, _, _ := strings.Cut(kv, "=")
			if !slices.Contains(p.Sensitive, name) {
				return usageError(fs, stderr, fmt.Sprintf("--var %s: a saved plan fixes its variables; only sensitive ones (%s) are given again", name, orNone(p.Sensitive)))
			}
		}
	} else if !errors.Is(err, apply.ErrNotPlan) {
		fmt.Fprintf(stderr, "understudy apply: %v\n", err)
		return exitUsage
	}

	rb, ok := load(stderr, []string{runbook}, in, dsl.ModeLive)
	if !ok {
		return exitUsage
	}
	secrets := redact.New(rb.Secrets()...)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	t := live.New(rb)
	defer t.Close(context.WithoutCancel(ctx))
	nodes, err := apply.Preflight(ctx, rb, t, plan)
	if err != nil {
		fmt.Fprintf(stderr, "understudy apply: %s\n", secrets.String(err.Error()))
		return exitUsage
	}
	out := secrets.Writer(stdout)
	defer out.Close()
	if plan == nil {
		f, _ := report.LookupFormat("text")
		if err := f.Plan(out, report.BuildPlan(rb, runbook)); err != nil {
			fmt.Fprintf(stderr, "understudy apply: %v\n", err)
			return exitInternal
		}
	} else {
		fmt.Fprintf(out, "Applying the plan saved %s for %s (%d steps); the runbook and the nodes are as planned.\n", plan.Created.Format("2006-01-02 15:04:05 MST"), runbook, len(plan.Steps))
	}
	writeNodeStates(out, nodes)
	if plan == nil && !*autoApprove {
		if !isTerminal(os.Stdin) {
			fmt.Fprintln(stderr, "understudy apply: refused: no terminal to approve on; review the plan and pass --auto-approve, or apply a plan saved with 'understudy plan --out'")
			return exitUsage
		}
		fmt.Fprint(out, "\nDo you want to apply this runbook to these nodes? Only 'yes' will be accepted: ")
		answer, _ := bufio.NewReader(os.Stdin).ReadString('\n')
		if strings.TrimSpace(answer) != "yes" {
			fmt.Fprintln(out, "Apply cancelled; nothing was sent.")
			return exitFailed
		}
	}

	var log io.Writer = stderr
	if *quiet {
		log = io.Discard
	}
	rep, err := apply.Run(ctx, rb, t, nodes, apply.Options{
		Runbook: runbook, Version: version, Log: log, Secrets: secrets, Variables: shownVariables(rb),
		CanaryRate: *canaryRate, Comparer: comparer(),
	})
	if err != nil {
		fmt.Fprintf(stderr, "understudy apply: %s\n", secrets.String(err.Error()))
		if held := (*apply.HeldError)(nil); errors.As(err, &held) {
			return exitUsage
		}
		return exitInternal
	}
	if err := rep.Write(out, "text"); err != nil {
		fmt.Fprintf(stderr, "understudy apply: %v\n", err)
		return exitInternal
	}
	if *reportPath != "" {
		if err := rep.WriteFileMode(*reportPath, secrets, 0o600); err != nil {
			fmt.Fprintf(stderr, "understudy apply: %v\n", err)
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

// writeNodeStates prints the nodes as read before the first write.
func writeNodeStates(w io.Writer, nodes []apply.NodeState) {
	fmt.Fprintln(w, "\nLive nodes (read now):")
	for _, n := range nodes {
		role := n.Role
		if n.Master != "" {
			role += " of " + n.Master
		}
		fmt.Fprintf(w, "  %-10s %s  %s, %s, %d keys, run id %s\n", n.Name, n.Address, n.Version, role, n.Keys, n.RunID[:min(len(n.RunID), 12)])
	}
}

// shownVariables are the runbook's variables for a report: sensitive ones
// masked, the others as text.
func shownVariables(rb *dsl.Runbook) map[string]string {
	out := map[string]string{}
	for name := range rb.Variables {
		if rb.SensitiveVar(name) {
			out[name] = "(sensitive)"
			continue
		}
		if v, ok := rb.Var(name); ok && v.IsWhollyKnown() && !v.IsNull() {
			if text, err := convert.Convert(v, cty.String); err == nil {
				out[name] = text.AsString()
			}
		}
	}
	return out
}

// isTerminal reports whether f is a terminal (not /dev/null, a pipe or a
// file).
func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

func orNone(list []string) string {
	if len(list) == 0 {
		return "none"
	}
	return strings.Join(list, ", ")
}
