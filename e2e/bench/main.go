// Command bench rehearses the version matrix with the safe replica-swap
// runbook and with the unsafe "promote first, switch later" order, and
// prints per pair the lost and failed writes and the write stalls side by
// side, so the difference is visible in one run on one machine. A third row
// per pair runs the safe runbook with a job queue through the endpoint (two
// consumers in BLPOP 0 and a producer): the switchover's stall with blocked
// clients, and whether every acknowledged job was popped exactly once.
// Every row also prints the longest stall during the verify steps, which
// read every key of the seed, its big keys included, from the live master.
// Then the Sentinel table (sentinel.go): the shipped Sentinel rolling
// upgrade per pair next to the plain SENTINEL FAILOVER and the
// pause-failover-unpause orders. Then the Cluster table (cluster.go): the
// shipped Cluster rolling upgrade with the paused takeover, the default
// CLUSTER FAILOVER and FORCE side by side. At the end it prints the figures the
// apply and Sentinel tests measure against real servers (measured.go).
//
//	go run ./e2e/bench [-keys N] [-rate N] [-pairs 6.0:7.0,7.0:8.0] [-sentinel] [-cluster]
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"regexp"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/understudy/understudy/dsl"
	"github.com/understudy/understudy/internal/jobqueue"
	"github.com/understudy/understudy/steps/dataset"
	"github.com/understudy/understudy/steps/kinds"
	"github.com/understudy/understudy/steps/rehearsal"
	"github.com/understudy/understudy/steps/rehearsal/container"
	"github.com/understudy/understudy/steps/report"
)

var runbooks = []struct {
	label, path, switchStep string
	jobs                    bool // a job queue runs through the endpoint
}{
	{"replica-swap (ours)", "runbooks/replica-swap.hcl", "promote", false},
	{"promote-first (unsafe)", "runbooks/examples/unsafe-promote-first.hcl", "", false},
	{"replica-swap + BLPOP jobs", "runbooks/replica-swap.hcl", "promote", true},
}

// workerArg makes this program a comparison worker, as "understudy
// internal-compare" is for understudy: the verify steps run their full
// comparison in a child process, as they do in understudy rehearse.
const workerArg = "internal-compare"

func main() {
	if len(os.Args) == 2 && os.Args[1] == workerArg {
		if err := dataset.ServeWorker(context.Background(), os.Stdin, os.Stdout); err != nil {
			fail(err)
		}
		return
	}
	exe, err := os.Executable()
	if err != nil {
		fail(err)
	}
	comparer := &dataset.Worker{Command: []string{exe, workerArg}, Nice: 10}
	keys := flag.Int("keys", rehearsal.DefaultKeys, "keys to seed")
	rate := flag.Int("rate", rehearsal.DefaultWriteRate, "writes per second")
	pairs := flag.String("pairs", "6.0:7.0,7.0:8.0,7.0:valkey:8.1", "comma-separated from:to pairs")
	only := flag.Bool("measured", false, "print only the figures of the tests that measure apply and the Sentinel switchover")
	sentinelOnly := flag.Bool("sentinel", false, "rehearse only the Sentinel rows")
	clusterOnly := flag.Bool("cluster", false, "rehearse only the Cluster rows")
	flag.Parse()
	if *only {
		printMeasured(os.Stdout)
		return
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	catalog, err := container.CatalogFromEnv()
	if err != nil {
		fail(err)
	}
	if *sentinelOnly {
		runSentinel(ctx, os.Stdout, *keys, *rate, catalog, comparer)
		return
	}
	if *clusterOnly {
		runCluster(ctx, os.Stdout, *keys, *rate, catalog, comparer)
		return
	}
	tw := tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "pair\trunbook\tstatus\tacked\tlost\tfailed\tmax stall ms\tlongest stall during\tswitch stall ms\tapp held ms\tswitch method\tverify stall ms\tjobs")
	for _, pair := range strings.Split(*pairs, ",") {
		from, to, ok := strings.Cut(pair, ":")
		if !ok {
			fail(fmt.Errorf("pair %q: write from:to", pair))
		}
		for _, rbk := range runbooks {
			rb, diags := dsl.Load([]string{rbk.path}, dsl.LoadOptions{Vars: []string{"from=" + from, "to=" + to}, Mode: dsl.ModeRehearsal, Kinds: kinds.Registry})
			if diags.HasErrors() {
				fail(diags)
			}
			fmt.Fprintf(os.Stderr, "rehearsing %s %s → %s ...\n", rbk.path, from, to)
			opts := rehearsal.Options{Keys: *keys, WriteRate: *rate, Catalog: catalog, Comparer: comparer}
			var jobs *jobWatch
			if rbk.jobs {
				jobs = &jobWatch{password: "bench-" + strconv.FormatInt(time.Now().UnixNano(), 36), steps: len(rb.Steps)}
				opts.Password, opts.Log = jobs.password, jobs
			}
			startMix(rbk.label, from+" → "+to, &opts, len(rb.Steps)) // the client-mix row: clientmix.go
			rep, err := rehearsal.Rehearse(ctx, rb, rbk.path, opts)
			if err != nil {
				fail(err)
			}
			held, method, stall := switchFigures(rep, rbk.switchStep)
			t := rep.Traffic
			fmt.Fprintf(tw, "%s → %s\t%s\t%s\t%d\t%d\t%d\t%.1f\t%s\t%s\t%s\t%s\t%s\t%s\n",
				from, to, rbk.label, rep.Status, t.Acked, t.Lost, t.Failed, t.MaxStallMS, t.MaxStallStep, stall, held, method, verifyStall(rep), jobs.result())
		}
	}
	// One table at the end: the rows of one run, side by side.
	tw.Flush()
	printMixes(os.Stdout)
	fmt.Println()
	runSentinel(ctx, os.Stdout, *keys, *rate, catalog, comparer)
	fmt.Println()
	runCluster(ctx, os.Stdout, *keys, *rate, catalog, comparer)
	printMeasured(os.Stdout)
}

// switchFigures reads the switchover step's own account of the hold and
// the longest stall the probe saw during it.
func switchFigures(rep *report.Report, step string) (held, method, stall string) {
	for _, s := range rep.Steps {
		if s.Name != step || len(s.Output) == 0 {
			continue
		}
		var out struct {
			Method string  `json:"method"`
			HeldMS float64 `json:"held_ms"`
		}
		if json.Unmarshal(s.Output, &out) == nil {
			stall = "-"
			if s.MaxStallMS != nil {
				stall = fmt.Sprintf("%.1f", *s.MaxStallMS)
			}
			return fmt.Sprintf("%.2f", out.HeldMS), out.Method, stall
		}
	}
	return "-", "promote + repoint", "-"
}

// verifyStall is the longest stall the probe saw during the verify steps,
// which compare every key (the seed's big keys included) on the live
// master: "<ms> (<step>)", or "-" without one.
func verifyStall(rep *report.Report) string {
	best, name := -1.0, ""
	for _, s := range rep.Steps {
		if s.Kind == "verify" && s.MaxStallMS != nil && *s.MaxStallMS > best {
			best, name = *s.MaxStallMS, s.Name
		}
	}
	if name == "" {
		return "-"
	}
	return fmt.Sprintf("%.1f (%s)", best, name)
}

// jobWatch is the rehearsal's log: it starts a job queue through the
// endpoint once the log names its address and finishes it once the last
// step passed, while the nodes still run.
type jobWatch struct {
	password string
	steps    int
	buf      []byte
	q        *jobqueue.Queue
	last     bool
	res      string
}

var endpointRe = regexp.MustCompile(`endpoint app listens on (127\.0\.0\.1:\d+)`)

func (j *jobWatch) Write(b []byte) (int, error) {
	j.buf = append(j.buf, b...)
	for {
		i := bytes.IndexByte(j.buf, '\n')
		if i < 0 {
			return len(b), nil
		}
		line := string(j.buf[:i])
		j.buf = j.buf[i+1:]
		switch {
		case j.q == nil && endpointRe.MatchString(line):
			j.q = jobqueue.Start(endpointRe.FindStringSubmatch(line)[1], j.password, "app:jobs", 2, 10*time.Millisecond)
		case strings.HasPrefix(line, fmt.Sprintf("step %d/%d ", j.steps, j.steps)):
			j.last = true
		case j.last && j.q != nil && j.res == "" && strings.HasPrefix(line, "  passed after"):
			r, err := j.q.Finish()
			j.res = fmt.Sprintf("%d pushed, %d lost, %d twice", r.Pushed, r.Missing, r.Twice)
			if err != nil {
				j.res += " (" + err.Error() + ")"
			}
		}
	}
}

// result is the job queue's line of the table.
func (j *jobWatch) result() string {
	switch {
	case j == nil:
		return "-"
	case j.res == "":
		if j.q != nil {
			_, _ = j.q.Finish()
		}
		return "not finished: the last step did not pass"
	}
	return j.res
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench:", err)
	os.Exit(1)
}
