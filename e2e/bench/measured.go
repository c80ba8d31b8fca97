package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
)

// measured are the figures that tests against real servers measure and
// log, run here again so that make bench prints them next to the
// rehearsals': the live apply (servers started with docker run, an
// independent writer following the endpoint file, SIGKILL and resume) and
// the Sentinel switchover next to a plain SENTINEL FAILOVER. Each runs
// with go test -v; the lines matching its pattern are printed.
var measured = []struct {
	title, pkg, run string
	lines           *regexp.Regexp
}{
	{"apply to servers started with docker run (7.0 → 8.0)", "./e2e", "^TestApply(ReplicaSwap|KilledAndResumed)$",
		regexp.MustCompile(`(canary|independent writer[^:]*): .*`)},
	{"Sentinel switchover, 1 master + 2 replicas + 3 sentinels, go-redis failover client at 1000 writes/s (7.0.15)", "./steps/redis", "^TestSentinel(SwitchoverLossless|FailoverLosesWrites)$",
		regexp.MustCompile(`(run \d+: \S+ → \S+ by .*application: .*|plain SENTINEL FAILOVER: .*)`)},
}

// printMeasured runs the measuring tests and prints their figures.
func printMeasured(w io.Writer) {
	for _, m := range measured {
		fmt.Fprintf(os.Stderr, "measuring: %s ...\n", m.title)
		cmd := exec.Command("go", "test", "-count=1", "-v", "-run", m.run, m.pkg)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		fmt.Fprintf(w, "\n%s:\n", m.title)
		for _, l := range m.lines.FindAll(out.Bytes(), -1) {
			fmt.Fprintf(w, "  %s\n", l)
		}
		if err != nil {
			fmt.Fprintf(w, "  FAILED: go test -run '%s' %s: %v\n", m.run, m.pkg, err)
		}
	}
}
