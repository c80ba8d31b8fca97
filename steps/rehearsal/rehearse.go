package rehearsal

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/understudy/understudy/steps/redis"
	"io"
	"sort"
	"sync"
	"time"

	"github.com/hashicorp/hcl/v2"
	goredis "github.com/redis/go-redis/v9"
	tclog "github.com/testcontainers/testcontainers-go/log"
	"github.com/understudy/understudy/dsl"
	"github.com/understudy/understudy/steps"
	"github.com/understudy/understudy/steps/dataset"
	"github.com/understudy/understudy/steps/rehearsal/container"
	"github.com/understudy/understudy/steps/rehearsal/proxy"
	"github.com/understudy/understudy/steps/rehearsal/traffic"
	"github.com/understudy/understudy/steps/report"
	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"
)

// Defaults of a rehearsal.
const (
	DefaultKeys      = 100_000
	DefaultWriteRate = 1000
	// TrafficDB is the database of the write probe: not the application's
	// db0, so key counts there stay exact while the probe writes.
	TrafficDB = 15
	// TrafficPrefix is the key prefix of the write probe.
	TrafficPrefix = "understudy:probe:"
	// settle is how long the probe writes before the first step and after
	// the last, so both ends of the timeline are measured.
	settle = 500 * time.Millisecond
)

// Options change how a rehearsal runs.
type Options struct {
	// Keys seeded into the application's database; 0: the runbook's
	// rehearsal block, else DefaultKeys. Negative: none.
	Keys int
	// WriteRate of the probe in writes/s; 0: the runbook's setting, else
	// DefaultWriteRate. Negative: no probe.
	WriteRate int
	Catalog   container.Catalog
	// Log receives progress lines; nil discards.
	Log io.Writer
	// Variables are shown in the report.
	Variables map[string]string
	// Password of the nodes; empty (the default) draws a random one per
	// rehearsal. Tests set it to check it is never printed.
	Password string
}

// Rehearse runs the runbook against containers and returns its report. The
// error is for failures of the rehearsal machinery itself (no Docker, an
// image missing); a runbook that fails is a report with status failed.
func Rehearse(ctx context.Context, rb *dsl.Runbook, name string, opts Options) (*report.Report, error) {
	if diags := CheckRehearsable(rb); diags.HasErrors() {
		return nil, diags
	}
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	// testcontainers-go prints a banner and its own progress on the default
	// logger: the rehearsal's log says what matters.
	tclog.SetDefault(tclog.NewNoopLogger())
	keys := firstNonZero(opts.Keys, rb.Rehearsal.Keys, DefaultKeys)
	rate := firstNonZero(opts.WriteRate, rb.Rehearsal.WriteRate, DefaultWriteRate)
	start := time.Now()
	rep := &report.Report{Runbook: name, Mode: "rehearsal", Status: steps.StatusFailed, Variables: opts.Variables}

	if n, err := container.RemoveStale(ctx); err != nil {
		fmt.Fprintf(opts.Log, "warning: could not look for containers of crashed runs: %v\n", err)
	} else if n > 0 {
		fmt.Fprintf(opts.Log, "removed %d container(s) left by a crashed run\n", n)
	}

	session := container.NewSessionID()
	password := opts.Password
	if password == "" {
		password = randomHex(16)
	}
	be := newBackend()
	defer func() {
		// Cleanup must run even when ctx was cancelled (Ctrl-C).
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
		defer cancel()
		for _, err := range be.close(cctx) {
			fmt.Fprintf(opts.Log, "warning: %v\n", err)
		}
		if err := container.RemoveSession(cctx, session); err != nil {
			fmt.Fprintf(opts.Log, "warning: remove session %s: %v\n", session, err)
		}
	}()

	// Nodes, in parallel.
	fmt.Fprintf(opts.Log, "starting %d node(s) (session %s)\n", len(rb.Nodes), session)
	if err := startNodes(ctx, rb, be, session, password, opts); err != nil {
		return nil, err
	}
	before := map[string]nodeInfo{}
	for _, name := range rb.NodeNames() {
		ni, err := readNodeInfo(ctx, be, name)
		if err != nil {
			return nil, err
		}
		before[name] = ni
	}

	// Endpoints.
	eps := map[string]steps.Endpoint{}
	var first *endpoint
	for _, epName := range sortedEndpointNames(rb) {
		e := rb.Endpoints[epName]
		addr, _ := be.Address(e.Target)
		var popts []proxy.Option
		if e.Connections == dsl.ConnectionsClose {
			popts = append(popts, proxy.WithCloseOnRepoint())
		}
		p, err := proxy.Listen("127.0.0.1:0", addr, popts...)
		if err != nil {
			return nil, fmt.Errorf("endpoint %q: %w", epName, err)
		}
		defer p.Close()
		ep := &endpoint{p: p, target: e.Target}
		eps[epName] = ep
		if first == nil {
			first = ep
		}
		fmt.Fprintf(opts.Log, "endpoint %s listens on %s → node %s (open connections %s on a switch)\n", epName, p.Addr(), e.Target, e.Connections)
	}

	// Data.
	seedNodes := seedTargets(rb)
	data := &report.Data{}
	var seeded dataset.Fingerprint
	exclude := []string{TrafficPrefix + "*"}
	for _, n := range seedNodes {
		if keys <= 0 {
			break
		}
		c, _ := be.Client(n)
		t0 := time.Now()
		sum, err := dataset.Seed(ctx, c, dataset.SeedOptions{Keys: keys, Seed: 1})
		if err != nil {
			return nil, fmt.Errorf("seed node %q: %w", n, err)
		}
		fp, err := dataset.Take(ctx, c, dataset.CompareOptions{Exclude: exclude})
		if err != nil {
			return nil, fmt.Errorf("fingerprint node %q: %w", n, err)
		}
		seeded = fp
		data.SeededKeys = int64(sum.Keys)
		data.SeedSeconds = time.Since(t0).Seconds()
		fmt.Fprintf(opts.Log, "seeded node %s with %d keys %v in %.1f s\n", n, sum.Keys, sum.ByType, data.SeedSeconds)
	}

	// Traffic, through the first endpoint (or the first seeded node).
	var writer *traffic.Writer
	if rate > 0 {
		addr := ""
		if first != nil {
			addr = first.p.Addr()
		} else if len(seedNodes) > 0 {
			addr, _ = be.Address(seedNodes[0])
		}
		if addr != "" {
			w, err := traffic.Start(ctx, traffic.Options{Addr: addr, Password: password, DB: TrafficDB, Prefix: TrafficPrefix, Rate: rate})
			if err != nil {
				return nil, fmt.Errorf("start write probe: %w", err)
			}
			writer = w
			defer w.Stop()
			fmt.Fprintf(opts.Log, "write probe: %d writes/s through %s (db %d, prefix %s)\n", rate, addr, TrafficDB, TrafficPrefix)
			sleepCtx(ctx, settle)
		}
	}

	// The runbook.
	obs := &observer{start: start, writer: writer}
	in := steps.New(rb, steps.Options{
		Backend: be, Endpoints: eps, Observer: obs, ExcludeKeys: exclude, Log: opts.Log,
	})
	res := in.Run(ctx)
	if writer != nil {
		sleepCtx(ctx, settle)
	}
	rep.Status = res.Status
	rep.Steps = stepReports(rb, res.Steps, start)
	rep.Rollback = stepReports(rb, res.Rollback, start)
	for _, d := range res.Diagnostics {
		rep.Errors = append(rep.Errors, dsl.DiagnosticLine(d))
	}

	// What the application would see now: the final master.
	final := ""
	if first != nil {
		final = first.Target()
	} else if len(seedNodes) > 0 {
		final = seedNodes[0]
	}
	vctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Minute)
	defer cancel()
	if writer != nil {
		tr := writer.Stop()
		fc, err := be.Client(final)
		if err == nil {
			probeDB := onDB(fc, TrafficDB)
			err = writer.Verify(vctx, probeDB, tr)
			_ = probeDB.Close()
		}
		if err != nil {
			rep.Errors = append(rep.Errors, fmt.Sprintf("read back acknowledged writes from %q: %v", final, err))
			rep.Status = steps.StatusFailed
		}
		rep.Traffic = tr
		stepStalls(rep.Steps, tr)
		stepStalls(rep.Rollback, tr)
		if tr.Lost > 0 {
			rep.Errors = append(rep.Errors, fmt.Sprintf("%d acknowledged write(s) lost: missing or wrong on the final master %q (e.g. %v)", tr.Lost, final, tr.LostSamples))
			rep.Status = steps.StatusFailed
		}
	}
	if keys > 0 && final != "" {
		data.FinalMaster = final
		data.Method = "fingerprint (scan, type and value per key)"
		fc, _ := be.Client(final)
		fp, err := dataset.Take(vctx, fc, dataset.CompareOptions{Exclude: exclude})
		if err != nil {
			rep.Errors = append(rep.Errors, fmt.Sprintf("fingerprint final master %q: %v", final, err))
			rep.Status = steps.StatusFailed
		} else {
			data.FinalKeys = fp.Keys
			data.Equal = fp == seeded
			if !data.Equal {
				rep.Errors = append(rep.Errors, fmt.Sprintf("the final master %q does not hold the seeded data: %d keys, %d seeded, fingerprints differ", final, fp.Keys, seeded.Keys))
				rep.Status = steps.StatusFailed
			}
		}
		rep.Data = data
	}
	for _, name := range rb.NodeNames() {
		ni, err := readNodeInfo(vctx, be, name)
		if err != nil {
			ni = nodeInfo{version: "unreachable: " + err.Error()}
		}
		n, _ := be.node(name)
		rn := report.Node{
			Name: name, Engine: string(before[name].engine),
			VersionBefore: before[name].version, VersionAfter: ni.version, RoleAfter: ni.role, Image: n.Image(),
		}
		if ni.engine != "" && ni.engine != before[name].engine {
			rn.EngineAfter = string(ni.engine)
		}
		rep.Nodes = append(rep.Nodes, rn)
	}
	rep.DurationMS = float64(time.Since(start).Microseconds()) / 1000
	return rep, nil
}

// CheckRehearsable reports nodes that cannot be rehearsed.
func CheckRehearsable(rb *dsl.Runbook) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, name := range rb.NodeNames() {
		n := rb.Nodes[name]
		if n.Rehearsal == nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Node cannot be rehearsed",
				Detail:   fmt.Sprintf("Node %q has no rehearsal block: add rehearsal { version = \"7.0\" } to say which version a rehearsal runs.", name),
				Subject:  n.DeclRange.Ptr(),
			})
		}
	}
	return diags
}

func startNodes(ctx context.Context, rb *dsl.Runbook, be *backend, session, password string, opts Options) error {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	for _, name := range rb.NodeNames() {
		v := rb.Nodes[name].Rehearsal.Version
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := container.Run(ctx, name, v,
				container.WithSession(session), container.WithPassword(password), container.WithCatalog(opts.Catalog))
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, fmt.Errorf("start node %q (%s): %w", name, v, err))
				return
			}
			be.nodes[name] = n
			fmt.Fprintf(opts.Log, "node %s: %s on %s\n", name, n.Image(), n.Addr())
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

type nodeInfo struct {
	engine        redis.Engine
	version, role string
}

func readNodeInfo(ctx context.Context, be *backend, name string) (nodeInfo, error) {
	c, err := be.Client(name)
	if err != nil {
		return nodeInfo{}, err
	}
	info, err := steps.ReadInfo(ctx, c)
	if err != nil {
		return nodeInfo{}, fmt.Errorf("INFO on node %q: %w", name, err)
	}
	engine, version := redis.EngineVersionFromInfo(info)
	return nodeInfo{engine: engine, version: version, role: redis.RoleFromInfo(info)}, nil
}

// seedTargets are the nodes whose rehearsal block says seed = true, or,
// where no node says, the endpoints' targets, or else the first node.
func seedTargets(rb *dsl.Runbook) []string {
	var explicit, targets []string
	anySet := false
	for _, name := range rb.NodeNames() {
		if s := rb.Nodes[name].Rehearsal.Seed; s != nil {
			anySet = true
			if *s {
				explicit = append(explicit, name)
			}
		}
	}
	if anySet {
		return explicit
	}
	seen := map[string]bool{}
	for _, ep := range sortedEndpointNames(rb) {
		t := rb.Endpoints[ep].Target
		if !seen[t] {
			targets = append(targets, t)
			seen[t] = true
		}
	}
	if len(targets) == 0 && len(rb.Nodes) > 0 {
		targets = []string{rb.NodeNames()[0]}
	}
	return targets
}

func sortedEndpointNames(rb *dsl.Runbook) []string {
	names := make([]string, 0, len(rb.Endpoints))
	for n := range rb.Endpoints {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func stepReports(rb *dsl.Runbook, results []*steps.StepResult, start time.Time) []report.Step {
	var out []report.Step
	for _, r := range results {
		s := report.Step{
			Name: r.Step.Name, Kind: r.Step.Kind, Status: r.Status, Attempts: r.Attempts,
			DurationMS: float64(r.Duration.Microseconds()) / 1000,
			Source:     fmt.Sprintf("%s:%d", r.Step.DeclRange.Filename, r.Step.DeclRange.Start.Line),
		}
		if !r.Started.IsZero() {
			s.StartMS = float64(r.Started.Sub(start).Microseconds()) / 1000
		}
		if r.Diag != nil {
			s.Error = dsl.DiagnosticLine(r.Diag)
		}
		if r.Output != cty.NilVal && !r.Output.IsNull() && r.Output.IsWhollyKnown() {
			if b, err := ctyjson.Marshal(r.Output, r.Output.Type()); err == nil {
				s.Output = b
			}
		}
		out = append(out, s)
	}
	return out
}

// stepStalls sets each step's longest write stall from the probe's gaps,
// using the step boundaries the observer marked.
func stepStalls(steps []report.Step, tr *traffic.Report) {
	at := map[string]float64{}
	for _, m := range tr.Marks {
		at[m.Label] = m.AtMS
	}
	for i := range steps {
		s := &steps[i]
		from, ok := at["start "+s.Name]
		to, ok2 := at[s.Status+" "+s.Name]
		if !ok || !ok2 {
			continue
		}
		stall := tr.MaxStallWithin(from, to)
		s.MaxStallMS = &stall
	}
}

// observer marks step boundaries on the probe's timeline.
type observer struct {
	start  time.Time
	writer *traffic.Writer
}

func (o *observer) StepStarted(s *dsl.Step) {
	if o.writer != nil {
		o.writer.Mark("start " + s.Name)
	}
}

func (o *observer) StepFinished(r *steps.StepResult) {
	if o.writer != nil {
		o.writer.Mark(r.Status + " " + r.Step.Name)
	}
}

func onDB(c *goredis.Client, db int) *goredis.Client {
	o := c.Options()
	return goredis.NewClient(&goredis.Options{Addr: o.Addr, Password: o.Password, ClientName: o.ClientName, DB: db})
}

func firstNonZero(vals ...int) int {
	for _, v := range vals {
		if v != 0 {
			return v
		}
	}
	return 0
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
