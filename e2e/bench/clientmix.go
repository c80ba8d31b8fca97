package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/understudy/understudy/internal/clientmix"
	"github.com/understudy/understudy/steps/rehearsal"
)

// The client-mix row of each pair: the safe runbook with an application's
// whole client mix through the endpoint (internal/clientmix: BLPOP 0
// consumers, XREAD BLOCK 0, RESP2 and RESP3 subscribers, MULTI/EXEC,
// redis-benchmark -P 16, a RESP3 client), from the endpoint's first log
// line to the last step. The main table shows the switchover's stall with
// the mix running; printMixes prints what each client saw. The mix writes
// in db 5 (its job queue in db 0), so that every connection it moves
// carries a SELECT.
const mixLabel = "replica-swap + client mix"

// mixPrefix starts the mix's keys, which the mix row's runbook leaves out
// of its verify steps, so that the row's verify stall compares with the
// other rows': verify settles keys written every few milliseconds (a
// counter, a growing stream) with a write pause of up to 50 ms, and from
// 6.0, which has no WRITE pause, cannot settle them at all. The mix checks
// its keys itself on the final master; e2e/client_mix_test.go has verify
// compare them (7.0 → 8.0).
const mixPrefix = "clientmix:"

// init adds the mix row after the others: runbooks/replica-swap.hcl with
// exclude = ["clientmix:*"] in its verify steps, written to a temporary
// file.
func init() {
	for _, r := range runbooks {
		if r.path != "runbooks/replica-swap.hcl" || r.jobs {
			continue
		}
		src, err := os.ReadFile(r.path)
		if err != nil {
			fail(err)
		}
		out, _, err := clientmix.ExcludeFromVerify(src, mixPrefix)
		if err != nil {
			fail(fmt.Errorf("%s: %w", r.path, err))
		}
		dir, err := os.MkdirTemp("", "understudy-bench-")
		if err != nil {
			fail(err)
		}
		r.path = filepath.Join(dir, "replica-swap-client-mix.hcl")
		if err := os.WriteFile(r.path, out, 0o644); err != nil {
			fail(err)
		}
		r.label = mixLabel
		runbooks = append(runbooks, r)
		return
	}
}

// mixes are the client-mix rows run so far, in order.
var mixes []*mixWatch

// startMix prepares the client mix of a rehearsal of the mix row (label):
// the rehearsal's password and log go to the mix's watcher. Other rows are
// left alone.
func startMix(label, pair string, opts *rehearsal.Options, steps int) {
	if label != mixLabel {
		return
	}
	w := &mixWatch{pair: pair, password: "bench-mix-" + strconv.FormatInt(time.Now().UnixNano(), 36), steps: steps, benchTests: "set,get"}
	if strings.HasPrefix(pair, "6.0 ") {
		// From 6.0 the old master is demoted only after its 2 s pause: the
		// new master's 1 MB backlog must hold every write of those 2 s for
		// the old node to follow it, and redis-benchmark's SETs at full
		// speed overflow it (e2e/client_mix_test.go, benchTests).
		w.benchTests = "get"
	}
	opts.Password, opts.Log = w.password, w
	mixes = append(mixes, w)
}

// mixWatch is the rehearsal's log for the client-mix row: it starts the
// mix once the log names the endpoint, notes the mix's progress when the
// switchover starts and ends, and stops it once the last step passed,
// while the nodes still run.
type mixWatch struct {
	pair, password string
	benchTests     string
	steps          int
	buf            []byte
	mix            *clientmix.Mix
	err            error
	inSwitch       bool
	switchAt       time.Time
	before, after  *clientmix.Progress
	res            *clientmix.Result
}

var switchStartRe = regexp.MustCompile(`^step \d+/\d+ switchover "promote"`)

func (w *mixWatch) Write(b []byte) (int, error) {
	w.buf = append(w.buf, b...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			return len(b), nil
		}
		line := string(w.buf[:i])
		w.buf = w.buf[i+1:]
		switch {
		case w.mix == nil && w.err == nil && endpointRe.MatchString(line):
			w.mix, w.err = clientmix.Start(context.Background(), clientmix.Options{Addr: endpointRe.FindStringSubmatch(line)[1], Password: w.password, DB: 5, Prefix: mixPrefix,
				Bench: clientmix.Bench{Tests: w.benchTests}})
		case w.mix == nil || w.res != nil:
		case switchStartRe.MatchString(line):
			p := w.mix.Progress()
			w.inSwitch, w.switchAt, w.before = true, time.Now(), &p
		case w.inSwitch && strings.HasPrefix(line, "  passed after"):
			p := w.mix.Progress()
			w.inSwitch, w.after = false, &p
		case w.after != nil && strings.HasPrefix(line, fmt.Sprintf("step %d/%d ", w.steps, w.steps)):
			// The last step starts, after the switchover: stop the mix
			// and check its data on the final master while the
			// rehearsal runs its last step.
			r := w.mix.Stop()
			w.res = &r
		}
	}
}

// across says whether the mix was at work across the switchover: a
// redis-benchmark run was in progress when the step started and runs went
// on until 200 ms later (the hold begins within milliseconds), and the other clients
// went on.
func (w *mixWatch) across() string {
	if w.before == nil || w.after == nil {
		return "switchover not seen"
	}
	b := w.before
	switch {
	case !clientmix.BenchCovered(w.mix.BenchRuns(), w.switchAt, 200*time.Millisecond):
		return "no redis-benchmark run spanned it"
	case w.res == nil:
		return "the mix did not finish"
	case b.StreamAdded == 0 || b.Transactions == 0 || b.Received == 0 || b.RESP3Writes == 0 ||
		w.res.Stream.Added <= b.StreamAdded || w.res.Tx.Acked <= b.Transactions || w.res.PubSub.Published <= b.Published || w.res.RESP3.Writes <= b.RESP3Writes:
		// Each client worked before the switchover and after it (the
		// step lasts a few milliseconds: compared with the mix's end).
		return "a client was not at work"
	}
	return "yes"
}

// printMixes prints one line per client-mix row: what each client of the
// mix saw, checked on the final master.
func printMixes(out io.Writer) {
	if len(mixes) == 0 {
		return
	}
	fmt.Fprintln(out, "\nclient mix through the endpoint (replica-swap + client mix rows):")
	tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "pair\tacross the switch\tBLPOP jobs\tXREAD BLOCK stream\tMULTI/EXEC\tpub/sub (4 subscriptions)\tredis-benchmark -P 16\tRESP3 client\tchecks")
	for _, w := range mixes {
		if w.res == nil {
			why := "the last step did not pass"
			switch {
			case w.err != nil:
				why = w.err.Error()
			case w.mix != nil:
				r := w.mix.Stop()
				w.res = &r
			}
			if w.res == nil {
				fmt.Fprintf(tw, "%s\tnot run: %s\n", w.pair, why)
				continue
			}
		}
		r := w.res
		checks := "all hold"
		if err := r.Err(); err != nil {
			checks = strings.ReplaceAll(err.Error(), "\n", "; ")
		}
		fmt.Fprintf(tw, "%s\t%s\t%d pushed, %d missing, %d twice\t%d added, %d missing, %d twice\t%d, counter %d, list %d%s\t%s\t%s\t%d writes, %d missing, %d stale reads\t%s\n",
			w.pair, w.across(), r.Jobs.Pushed, r.Jobs.Missing, r.Jobs.Twice, r.Stream.Added, r.Stream.Missing, r.Stream.Twice,
			r.Tx.Acked, r.Tx.Counter, r.Tx.ListLen, txWhole(r.Tx), pubsubLine(r.PubSub), benchLine(r.Bench),
			r.RESP3.Writes, r.RESP3.Missing, r.RESP3.BadReads, checks)
	}
	tw.Flush()
}

func txWhole(t clientmix.TxResult) string {
	if t.Whole() {
		return ", whole"
	}
	return ", NOT whole"
}

// pubsubLine is "N published, M missed, D disconnects" over the four
// subscriptions (RESP2 and RESP3, channel and pattern).
func pubsubLine(p clientmix.PubSubResult) string {
	missed, disc := 0, 0
	for _, s := range p.Subscribers {
		missed += len(s.Missed)
		disc = max(disc, s.Disconnects)
	}
	return fmt.Sprintf("%d published, %d missed, %d disconnect(s)", p.Published, missed, disc)
}

func benchLine(b clientmix.BenchResult) string {
	return fmt.Sprintf("%d runs, %d failed, %.0f req/s, slowest %.1f ms", b.Runs, b.Failed, b.MeanRPS, b.MaxLatencyMS)
}
