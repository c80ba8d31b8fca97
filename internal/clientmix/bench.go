package clientmix

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"net"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// benchLoop runs redis-benchmark through the endpoint, one run after the
// other. redis-benchmark is a strict client: it exits 1 on the first error
// reply or closed connection, so a run that spans a switchover and exits 0
// saw neither.
type benchLoop struct {
	m    *Mix
	path string
	args []string

	mu      sync.Mutex
	runs    int
	running bool
	spans   []BenchRun
	res     BenchResult
}

// BenchRun is one redis-benchmark run.
type BenchRun struct {
	Start, End time.Time // End is zero while it runs
	Failed     bool
	Stopped    bool // killed by Stop while it ran
}

func newBenchLoop(o Options) (*benchLoop, error) {
	path, err := exec.LookPath(o.Bench.Path)
	if err != nil {
		return nil, fmt.Errorf("clientmix: redis-benchmark (Debian's redis-tools, installed with redis-server): %w", err)
	}
	host, port, err := net.SplitHostPort(o.Addr)
	if err != nil {
		return nil, fmt.Errorf("clientmix: address %q: %w", o.Addr, err)
	}
	b := o.Bench
	args := []string{"-h", host, "-p", port}
	if o.Password != "" {
		args = append(args, "-a", o.Password)
	}
	if o.DB != 0 {
		args = append(args, "--dbnum", strconv.Itoa(o.DB))
	}
	args = append(args, "-c", strconv.Itoa(b.Clients), "-P", strconv.Itoa(b.Pipeline),
		"-n", strconv.Itoa(b.Requests), "-t", b.Tests, "-r", strconv.Itoa(b.Keyspace), "--csv")
	return &benchLoop{path: path, args: args, res: BenchResult{
		Command: fmt.Sprintf("redis-benchmark --dbnum %d -c %d -P %d -n %d -t %s -r %d --csv", o.DB, b.Clients, b.Pipeline, b.Requests, b.Tests, b.Keyspace),
	}}, nil
}

func (b *benchLoop) progress() (int, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.runs, b.running
}

func (b *benchLoop) runSpans() []BenchRun {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.spans)
}

func (b *benchLoop) run() {
	gap := b.m.o.Bench.Gap
	for n := 0; n < b.m.o.Bench.MaxRuns; n++ {
		select {
		case <-b.m.stopping:
			return
		case <-b.m.ctx.Done():
			return
		case <-time.After(gap):
		}
		select {
		case <-b.m.stopping: // a select picks at random among ready cases
			return
		default:
		}
		b.once()
	}
}

// once runs redis-benchmark once, for at most a minute; Stop kills it.
func (b *benchLoop) once() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	stopped := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
		case <-b.m.stopping:
			close(stopped)
			cancel()
		}
	}()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, b.path, b.args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	b.mu.Lock()
	b.runs++
	b.running = true
	b.spans = append(b.spans, BenchRun{Start: start})
	b.mu.Unlock()
	err := cmd.Run()
	cancel()
	end := time.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	b.running = false
	span := &b.spans[len(b.spans)-1]
	span.End = end
	r := &b.res
	r.Runs++
	r.Seconds += end.Sub(start).Seconds()
	select {
	case <-stopped:
		// Killed by Stop: it had met no error so far (redis-benchmark
		// exits at the first one); what it printed still counts.
		span.Stopped = true
		r.Stopped++
		tests, _ := parseCSV(stdout.Bytes())
		b.count(tests)
		return
	default:
	}
	if err != nil {
		span.Failed = true
		r.Failed++
		code := -1
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
		r.LastFailure = fmt.Sprintf("exit %d: %s", code, lastLines(stderr.String()+stdout.String(), 3))
		return
	}
	tests, err := parseCSV(stdout.Bytes())
	if err != nil || len(tests) == 0 {
		span.Failed = true
		r.Failed++
		r.LastFailure = fmt.Sprintf("no result: %v", err)
		return
	}
	b.count(tests)
}

// count adds the tests of a run to the result; b.mu is held.
func (b *benchLoop) count(tests []benchTest) {
	r := &b.res
	for _, t := range tests {
		r.Requests += int64(b.m.o.Bench.Requests)
		r.MaxLatencyMS = max(r.MaxLatencyMS, t.maxMS)
		r.rps = append(r.rps, t.rps)
	}
}

type benchTest struct {
	name       string
	rps, maxMS float64
}

// parseCSV reads redis-benchmark --csv: a header line, then one line per
// test with "test","rps",...,"max_latency_ms".
func parseCSV(out []byte) ([]benchTest, error) {
	rows, err := csv.NewReader(bytes.NewReader(out)).ReadAll()
	if err != nil || len(rows) < 1 {
		return nil, fmt.Errorf("redis-benchmark output not understood: %q", lastLines(string(out), 3))
	}
	head := rows[0]
	col := func(name string) int {
		for i, h := range head {
			if h == name {
				return i
			}
		}
		return -1
	}
	rpsCol, maxCol := col("rps"), col("max_latency_ms")
	if rpsCol < 0 || maxCol < 0 {
		return nil, fmt.Errorf("redis-benchmark CSV header %q", head)
	}
	var tests []benchTest
	for _, row := range rows[1:] {
		if len(row) != len(head) {
			return nil, fmt.Errorf("redis-benchmark CSV row %q", row)
		}
		rps, err1 := strconv.ParseFloat(row[rpsCol], 64)
		mx, err2 := strconv.ParseFloat(row[maxCol], 64)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("redis-benchmark CSV row %q", row)
		}
		tests = append(tests, benchTest{name: row[0], rps: rps, maxMS: mx})
	}
	return tests, nil
}

func lastLines(s string, n int) string {
	l := strings.Split(strings.TrimSpace(s), "\n")
	var keep []string
	for _, line := range l {
		// redis-benchmark warns about -a on every run.
		if !strings.Contains(line, "Using a password") && strings.TrimSpace(line) != "" {
			keep = append(keep, strings.TrimSpace(line))
		}
	}
	if len(keep) > n {
		keep = keep[len(keep)-n:]
	}
	return strings.Join(keep, " | ")
}

func (b *benchLoop) result() BenchResult {
	b.mu.Lock()
	defer b.mu.Unlock()
	r := b.res
	if len(r.rps) > 0 {
		sum := 0.0
		for _, v := range r.rps {
			sum += v
		}
		r.MeanRPS = sum / float64(len(r.rps))
	}
	r.rps = nil
	return r
}

// BenchResult is the account of the redis-benchmark runs.
type BenchResult struct {
	Disabled     bool    `json:"disabled,omitempty"`
	Command      string  `json:"command"` // without the address and password
	Runs         int     `json:"runs"`
	Failed       int     `json:"failed"`  // runs that exited non-zero or printed no result
	Stopped      int     `json:"stopped"` // runs Stop killed while they ran, before any error
	LastFailure  string  `json:"last_failure,omitempty"`
	Requests     int64   `json:"requests"`       // requests of the runs that passed
	Seconds      float64 `json:"seconds"`        // time spent in runs
	MeanRPS      float64 `json:"mean_rps"`       // mean of the tests' requests per second
	MaxLatencyMS float64 `json:"max_latency_ms"` // the slowest request of every run that passed
	rps          []float64
}

func (r BenchResult) String() string {
	if r.Disabled {
		return "not run"
	}
	s := fmt.Sprintf("%d runs (%d stopped), %d failed, %d requests, %.0f requests/s, slowest %.1f ms", r.Runs, r.Stopped, r.Failed, r.Requests, r.MeanRPS, r.MaxLatencyMS)
	if r.LastFailure != "" {
		s += " (" + r.LastFailure + ")"
	}
	return s
}

// benchGap is the longest pause between two redis-benchmark runs that
// still counts as one stream of requests (the loop starts the next run at
// once; measured: tens of microseconds).
const benchGap = 50 * time.Millisecond

// BenchCovered reports whether redis-benchmark runs that did not fail were
// sending requests from before at until at+d without a pause longer than
// benchGap: runs follow one another, so one run ending inside the window is
// not a gap.
func BenchCovered(runs []BenchRun, at time.Time, d time.Duration) bool {
	covered := time.Time{} // requests were in flight up to here
	for _, r := range runs {
		if r.Failed {
			covered = time.Time{}
			continue
		}
		switch {
		case covered.IsZero() && !r.Start.Before(at):
			continue
		case !covered.IsZero() && r.Start.Sub(covered) > benchGap:
			covered = time.Time{}
			if !r.Start.Before(at) {
				continue
			}
		}
		if r.End.IsZero() || r.Stopped {
			return true
		}
		covered = r.End
		if covered.After(at.Add(d)) {
			return true
		}
	}
	return false
}
