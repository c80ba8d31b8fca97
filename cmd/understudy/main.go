// Command understudy makes Redis upgrades reviewable, rehearsable and safe.
//
//	understudy validate FILE...            check runbooks without touching a server
//	understudy fmt [-check] FILE...        rewrite runbooks in canonical style
//	understudy plan FILE [--var N=V]...    print what a runbook will do
//	understudy rehearse FILE [--var N=V]... [--report PATH]
//	                                       run it against containers of the real versions
//	understudy apply FILE|PLAN [--auto-approve] [--report PATH]
//	                                       run it against the live nodes
package main

import (
	"context"
	"fmt"
	"io"
	"os"

	goredis "github.com/redis/go-redis/v9"
)

// Exit codes.
const (
	exitOK       = 0
	exitFailed   = 1 // the runbook ran and did not pass
	exitUsage    = 2 // bad input: flags, HCL diagnostics, refused runbooks
	exitInternal = 3 // the machinery failed (no Docker, no image)
	// exitInterrupted is 128+SIGINT, as shells report a command a signal ended.
	exitInterrupted = 130
)

type command struct {
	name    string
	summary string
	run     func(args []string, stdout, stderr io.Writer) int
}

// commands is the explicit list of subcommands.
var commands = []command{
	{"validate", "Check runbooks without touching any server", runValidate},
	{"fmt", "Rewrite runbooks in canonical HCL style", runFmt},
	{"plan", "Print the ordered steps with resolved values and the point of no return", runPlan},
	{"rehearse", "Run a runbook against containers of the real versions under write traffic", runRehearse},
	{"apply", "Run a runbook or a saved plan against the live nodes, with a canary writer", runApply},
	{"unlock", "Remove an apply lock left by a run that ended without releasing it", runUnlock},
	{"version", "Print understudy's version", runVersion},
}

// version is set by the build (-ldflags "-X main.version=...").
var version = "dev"

func main() {
	// go-redis logs its pool's dial failures on its own; understudy says
	// what failed where it matters, once, with the node's name.
	goredis.SetLogger(quietLogger{})
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stdout)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	if args[0] == workerCommand {
		return runWorker(args[1:], stdout, stderr)
	}
	for _, c := range commands {
		if c.name == args[0] {
			return c.run(args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "understudy: unknown command %q\n\n", args[0])
	usage(stderr)
	return exitUsage
}

// quietLogger discards go-redis's internal log lines.
type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: understudy <command> [arguments]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'understudy <command> -h' for the options of a command.")
}

func runVersion(_ []string, stdout, _ io.Writer) int {
	fmt.Fprintf(stdout, "understudy %s\n", version)
	return exitOK
}
