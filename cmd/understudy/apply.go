package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/signal"
	"path/filepath"
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
			"A canary writes at a low rate where the application writes: through the first endpoint\n"+
			"that declares the application's address, or, for a Sentinel deployment, to the master\n"+
			"the sentinels name (following their failovers). Its acknowledged writes are read back\n"+
			"from the final master and its keys "+apply.CanaryPrefix+"* removed at the end; the report\n"+
			"gives its acknowledged, lost and failed writes and its longest stall.\n"+
			"Exit code 0 only when every step passed and the canary lost nothing; 1 when the apply\n"+
			"ran and did not pass; 2 when it was refused; 130 when a signal interrupted it.", stderr)
	in := inputFlags(fs)
	autoApprove := fs.Bool("auto-approve", false, "apply without asking")
	reportPath := fs.String("report", "", "write the JSON report to this path (mode 0600)")
	canaryRate := fs.Int("canary-rate", 0, fmt.Sprintf("the canary's writes/s (default %d; -1 for none)", apply.DefaultCanaryRate))
	quiet := fs.Bool("quiet", false, "no progress lines, only the summary")
	journalPath := fs.String("journal", "", "the journal: every step's start, attempts and end, fsynced (default: understudy-apply-LOCKID.journal here)")
	dryRun := fs.Bool("dry-run", false, "read the nodes for real and run every step once for its reads; print each write command and program it would send or run, and send none (no lock, canary or journal)")
	inFlight := fs.String("in-flight", "", `with --resume: what the step in flight did, as you checked by hand when the resume refused it: "done" (count it as passed) or "run" (run it again)`)
	resumePath := fs.String("resume", "", "continue the run this journal recorded, after a crash or a kill: passed steps are not run again, the step in flight is checked against the nodes first")
	files, err := parseInterleaved(fs, args)
	if err != nil {
		return flagExit(err)
	}
	var journal *apply.Journal
	if *resumePath != "" {
		if len(files) > 0 || len(in.varFiles) > 0 || *journalPath != "" {
			return usageError(fs, stderr, "--resume takes the journal alone: the runbook, its files and variables are the journal's (only sensitive variables may be given with --var)")
		}
		j, err := apply.ReadJournal(*resumePath)
		if err != nil {
			fmt.Fprintf(stderr, "understudy apply: %v\n", err)
			return exitUsage
		}
		journal = j
		files = []string{j.Header.Runbook}
		in = &inputs{vars: append(journalVars(j), in.vars...)}
		for f := range j.Header.Files {
			if f != j.Header.Runbook {
				in.varFiles = append(in.varFiles, f)
			}
		}
		slices.Sort(in.varFiles)
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
	if journal != nil {
		// The runbook, files and variables come from the journal.
	} else if p, err := apply.ReadPlan(files[0]); err == nil {
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
	abs, err := filepath.Abs(runbook)
	if err != nil {
		fmt.Fprintf(stderr, "understudy apply: %v\n", err)
		return exitInternal
	}
	sums, err := apply.FileSums(append([]string{abs}, in.varFiles...)...)
	if err != nil {
		fmt.Fprintf(stderr, "understudy apply: %v\n", err)
		return exitUsage
	}
	var resume *steps.Resume
	if journal != nil {
		err := journal.CheckFiles(sums)
		if err == nil {
			resume, err = journal.Resume(rb)
		}
		if err != nil {
			fmt.Fprintf(stderr, "understudy apply: refused: %v\n", err)
			return exitUsage
		}
		switch *inFlight {
		case "":
		case "done":
			resume.InFlightAs = steps.ResumeDone
		case "run":
			resume.InFlightAs = steps.ResumeRun
		default:
			return usageError(fs, stderr, fmt.Sprintf("--in-flight %q: say done or run", *inFlight))
		}
		if *inFlight != "" && resume.InFlight == "" {
			return usageError(fs, stderr, "--in-flight: the journal shows no step in flight")
		}
	} else if *inFlight != "" {
		return usageError(fs, stderr, "--in-flight goes with --resume")
	}
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
	switch {
	case journal != nil:
		fmt.Fprintf(out, "Resuming the run journaled in %s (%d step(s) ended before; in flight: %s).\n", *resumePath, len(journal.Steps)+len(journal.RollbackSteps), orNone(inFlightStep(journal)))
	case plan == nil:
		f, _ := report.LookupFormat("text")
		if err := f.Plan(out, report.BuildPlan(rb, runbook)); err != nil {
			fmt.Fprintf(stderr, "understudy apply: %v\n", err)
			return exitInternal
		}
	default:
		fmt.Fprintf(out, "Applying the plan saved %s for %s (%d steps); the runbook and the nodes are as planned.\n", plan.Created.Format("2006-01-02 15:04:05 MST"), runbook, len(plan.Steps))
	}
	writeNodeStates(out, nodes)
	if *dryRun {
		if journal != nil {
			return usageError(fs, stderr, "--dry-run and --resume do not go together")
		}
		return dryRunApply(ctx, rb, t, nodes, runbook, out, stderr, *quiet, secrets)
	}
	if plan == nil && journal == nil && !*autoApprove {
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
	lock := apply.NewLockInfo("apply", abs, version)
	info := apply.RunInfo{RunID: lock.ID, Runbook: abs, Files: sums, Version: version}
	var jw *apply.JournalWriter
	takeOver := ""
	if journal != nil {
		takeOver = journal.Header.RunID
		if n := len(journal.Resumes); n > 0 {
			takeOver = journal.Resumes[n-1].RunID
		}
		jw, err = apply.AppendJournal(*resumePath, rb, info, secrets)
	} else {
		if *journalPath == "" {
			*journalPath = "understudy-apply-" + lock.ID + ".journal"
		}
		jw, err = apply.CreateJournal(*journalPath, rb, info, secrets)
	}
	if err != nil {
		fmt.Fprintf(stderr, "understudy apply: %s\n", secrets.String(err.Error()))
		return exitUsage
	}
	// Lifecycle commands' output: the progress log and the journal.
	t.Log = func(line string) {
		fmt.Fprintf(log, "    %s\n", secrets.String(line))
		jw.Note(line)
	}
	fmt.Fprintf(out, "\nJournal: %s (resume with: understudy apply --resume %s)\n", jw.Path(), jw.Path())
	rep, err := apply.Run(ctx, rb, t, nodes, apply.Options{
		Runbook: runbook, Version: version, Log: log, Secrets: secrets, Variables: shownVariables(rb),
		CanaryRate: *canaryRate, Comparer: comparer(), Hooks: []steps.Hook{jw},
		Lock: lock, Resume: resume, TakeOver: takeOver,
	})
	if cerr := jw.Close(); cerr != nil && err == nil {
		fmt.Fprintf(stderr, "understudy apply: journal: %s\n", secrets.String(cerr.Error()))
	}
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

// dryRunApply runs the runbook once for its reads, sending no write, and
// lists what it did not send.
func dryRunApply(ctx context.Context, rb *dsl.Runbook, t *live.Topology, nodes []apply.NodeState, runbook string, out, stderr io.Writer, quiet bool, secrets *redact.Secrets) int {
	var log io.Writer = stderr
	if quiet {
		log = io.Discard
	}
	var notSent []string
	t.DryRun(func(ns *steps.NotSent) { notSent = append(notSent, fmt.Sprintf("%s: %s", ns.Target, ns.What)) })
	fmt.Fprintln(out, "\nDry run: every read is real; no write command, switch or lifecycle command, or program is sent.")
	rep, err := apply.Run(ctx, rb, t, nodes, apply.Options{Runbook: runbook, Version: version, Log: log, Secrets: secrets, Variables: shownVariables(rb), DryRun: true})
	if err != nil {
		fmt.Fprintf(stderr, "understudy apply: %s\n", secrets.String(err.Error()))
		return exitInternal
	}
	if err := rep.Write(out, "text"); err != nil {
		fmt.Fprintf(stderr, "understudy apply: %v\n", err)
		return exitInternal
	}
	fmt.Fprintf(out, "\nNot sent (%d):\n", len(notSent))
	for _, l := range notSent {
		fmt.Fprintf(out, "  would send to %s\n", l)
	}
	if rep.Status == steps.StatusDryRun {
		return exitOK
	}
	return exitFailed
}

// journalVars are a journal's variables as NAME=VALUE.
func journalVars(j *apply.Journal) []string {
	var out []string
	for _, name := range slices.Sorted(maps.Keys(j.Header.Variables)) {
		raw := j.Header.Variables[name]
		var s string
		if json.Unmarshal(raw, &s) != nil {
			s = string(raw)
		}
		out = append(out, name+"="+s)
	}
	return out
}

// inFlightStep names the step a journal shows in flight.
func inFlightStep(j *apply.Journal) []string {
	if j.InFlight == nil {
		return nil
	}
	return []string{j.InFlight.Name}
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
