package rehearsal

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/hcl/v2"
	goredis "github.com/redis/go-redis/v9"
	tclog "github.com/testcontainers/testcontainers-go/log"
	"github.com/understudy/understudy/dsl"
	"github.com/understudy/understudy/steps"
	"github.com/understudy/understudy/steps/dataset"
	"github.com/understudy/understudy/steps/redact"
	"github.com/understudy/understudy/steps/redis"
	"github.com/understudy/understudy/steps/rehearsal/container"
	"github.com/understudy/understudy/steps/rehearsal/proxy"
	"github.com/understudy/understudy/steps/report"
	"github.com/understudy/understudy/steps/topology"
	"github.com/understudy/understudy/steps/traffic"
)

// Defaults of a rehearsal.
const (
	DefaultKeys      = 100_000
	DefaultWriteRate = 1000
	// DefaultProbeDB is the database of the write probe: db0, where
	// applications write. Every comparison leaves its keys out by prefix
	// (TrafficPrefix); rehearsal { probe_db = N } moves it.
	DefaultProbeDB = 0
	// TrafficPrefix is the key prefix of the write probe.
	TrafficPrefix = "understudy:probe:"
	// PasswordEnv names the environment variable that fixes the password
	// of the rehearsal's nodes when the runbook's own does not resolve
	// (default: a random one per rehearsal), so that an outside client or
	// test suite can connect.
	PasswordEnv = "UNDERSTUDY_REHEARSAL_PASSWORD"
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
	// Log receives progress lines, with every secret of the run redacted;
	// nil discards.
	Log io.Writer
	// Variables are shown in the report.
	Variables map[string]string
	// Password of the nodes; empty: the runbook's own, else
	// $UNDERSTUDY_REHEARSAL_PASSWORD, else a random one per rehearsal
	// (credentials.go).
	Password string
	// Secrets collects the secrets of the run (the password, the
	// runbook's sensitive values) for the caller's own outputs; nil: a set
	// of the rehearsal's own.
	Secrets *redact.Secrets
	// Comparer runs the verify steps' full comparisons; nil: in this
	// process (understudy runs them in a worker process, see
	// dataset.Worker).
	Comparer dataset.Comparer
}

// rehearsal is one run: the phases below fill it in order.
type rehearsal struct {
	rb     *dsl.Runbook
	opts   Options
	layout *topology.Layout
	log    io.Writer
	// closeLog flushes the redacting log writer.
	closeLog func()
	origin   time.Time
	rep      *report.Report

	keys, rate int
	probeDB    int
	session    string
	password   string
	secrets    *redact.Secrets
	dep        *deployment
	exclude    []string
	work       *workload // the runbook's workload; nil without one
	seeded     *dataset.Snapshot
	shards     []clusterShard    // a Cluster layout's, in place of seeded
	ids        map[string]string // a Cluster layout's node ids once formed, by name
	writer     *traffic.Writer
	before     map[string]nodeInfo
	final      string // the node the application ends on
}

// phase is one stage of a rehearsal. A phase that fails with an error ends
// the rehearsal as a failure of the machinery (no Docker, an image
// missing); what the runbook does is judged in the report.
type phase struct {
	name string
	run  func(ctx context.Context) error
}

// Rehearse runs the runbook against containers and returns its report. The
// error is for failures of the rehearsal machinery itself (no Docker, an
// image missing) and for runbooks that cannot be rehearsed (hcl.Diagnostics,
// nothing started); a runbook that fails is a report with status failed. A
// cancelled ctx (SIGINT, SIGTERM) ends it with status interrupted after the
// rollback and the checks, which still run.
//
// The phases run over the runbook's layout (package topology, chosen by
// layoutOf): check the images, start the nodes, start the endpoints, seed,
// start the sentinels, start the write probe, run the steps, check what the
// application kept; the containers are removed at the end whatever
// happened. A Sentinel layout plugs in at "start nodes" (the replicas
// follow the master), "start sentinels" (sentinel.go), "start traffic" (a
// client that discovers the master through the sentinels) and "check" (the
// final master is the one the sentinels name); a Cluster layout
// (cluster.go) at "start nodes" and "form cluster", "seed" and "attach
// cluster replicas", "start traffic" and "check". The other phases stay as
// they are.
func Rehearse(ctx context.Context, rb *dsl.Runbook, name string, opts Options) (*report.Report, error) {
	return rehearseLayout(ctx, rb, layoutOf(rb), name, opts)
}

// layoutOf is the deployment a rehearsal of rb starts, and the one place
// that chooses it: a runbook with a sentinel or a cluster block selects
// its Sentinel or Cluster layout here (topology.For). Everything after
// this point dispatches on Layout.Kind.
func layoutOf(rb *dsl.Runbook) *topology.Layout { return topology.For(rb) }

// rehearseLayout is Rehearse over a given layout.
func rehearseLayout(ctx context.Context, rb *dsl.Runbook, layout *topology.Layout, name string, opts Options) (*report.Report, error) {
	r, err := newRehearsal(rb, layout, name, opts)
	if err != nil {
		return nil, err
	}
	defer r.closeLog()
	defer r.cleanup(ctx)
	for _, p := range r.setupPhases() {
		if err := p.run(ctx); err != nil {
			if ctx.Err() != nil {
				return r.interruptedBefore(p.name), nil
			}
			return nil, err
		}
		if ctx.Err() != nil {
			return r.interruptedBefore(p.name), nil
		}
	}
	r.runSteps(ctx)
	r.stopWorkload()
	r.check(ctx)
	r.rep.DurationMS = ms(time.Since(r.origin))
	return r.rep, nil
}

// newRehearsal checks that the layout can be rehearsed, chooses the
// credentials and sets up the log, which closeLog flushes. Nothing is
// started yet.
func newRehearsal(rb *dsl.Runbook, layout *topology.Layout, name string, opts Options) (*rehearsal, error) {
	if diags := checkRehearsable(rb, layout); diags.HasErrors() {
		return nil, diags
	}
	r := &rehearsal{
		rb: rb, opts: opts, layout: layout, origin: time.Now(),
		keys:    firstNonZero(opts.Keys, rb.Rehearsal.Keys, DefaultKeys),
		rate:    firstNonZero(opts.WriteRate, rb.Rehearsal.WriteRate, DefaultWriteRate),
		probeDB: DefaultProbeDB,
		dep:     newDeployment(), exclude: []string{TrafficPrefix + "*"},
		secrets: opts.Secrets,
	}
	if r.secrets == nil {
		r.secrets = redact.New()
	}
	if rb.Rehearsal.ProbeDB != nil {
		r.probeDB = *rb.Rehearsal.ProbeDB
	}
	creds, diags := chooseCredentials(rb, opts)
	if diags.HasErrors() {
		return nil, diags
	}
	if err := checkSentinelCredentials(layout, creds); err != nil {
		return nil, err
	}
	r.password, r.dep.user = creds.password, creds.user
	creds.addSecrets(r.secrets)
	r.secrets.Add(rb.Secrets()...)
	log := opts.Log
	if log == nil {
		log = io.Discard
	}
	lw := r.secrets.Writer(log)
	r.log, r.closeLog = lw, func() { _ = lw.Close() }
	fmt.Fprintf(r.log, "password of the nodes: %s\n", creds.source)
	r.rep = &report.Report{Runbook: name, Mode: "rehearsal", Status: steps.StatusFailed, Variables: opts.Variables}
	// testcontainers-go prints a banner and its own progress on the default
	// logger: the rehearsal's log says what matters.
	tclog.SetDefault(tclog.NewNoopLogger())
	return r, nil
}

// setupPhases are the phases before the first step, in order.
func (r *rehearsal) setupPhases() []phase {
	return []phase{
		{"check images", r.checkImages},
		{"start nodes", r.startNodes},
		{"form cluster", r.formCluster},
		{"start endpoints", r.startEndpoints},
		{"seed", r.seed},
		{"attach cluster replicas", r.attachClusterReplicas},
		{"start sentinels", r.startSentinels},
		{"start traffic", r.startTraffic},
		{"start workload", r.startWorkload},
	}
}

// interruptedBefore is the report of a rehearsal a signal stopped before
// its first step: nothing of the runbook ran.
func (r *rehearsal) interruptedBefore(phase string) *report.Report {
	r.rep.Status = steps.StatusInterrupted
	r.rep.Interrupted = "before the first step, while the rehearsal was in phase " + fmt.Sprintf("%q", phase)
	r.rep.Errors = append(r.rep.Errors, "interrupted by a signal "+r.rep.Interrupted+"; no step ran")
	r.rep.DurationMS = ms(time.Since(r.origin))
	return r.rep
}

// cleanup removes every container of the rehearsal, also after Ctrl-C: it
// runs on a fresh context.
func (r *rehearsal) cleanup(ctx context.Context) {
	r.stopWorkload()
	if r.writer != nil {
		r.writer.Stop()
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	defer cancel()
	if err := r.dep.remove(cctx); err != nil {
		fmt.Fprintf(r.log, "warning: %v\n", err)
	}
	if r.session != "" {
		if err := container.RemoveSession(cctx, r.session); err != nil {
			fmt.Fprintf(r.log, "warning: remove session %s: %v\n", r.session, err)
		}
	}
}

// checkImages makes sure every version's image exists before anything
// starts (the data nodes', the sentinels' and those the upgrade steps name):
// a missing one is refused with the command that builds it.
func (r *rehearsal) checkImages(ctx context.Context) error {
	var versions []redis.Version
	for _, n := range r.layout.Nodes {
		versions = append(versions, n.Version)
	}
	if r.layout.Sentinel != nil {
		for _, n := range r.layout.Sentinel.Sentinels {
			versions = append(versions, n.Version)
		}
	}
	for _, s := range r.rb.AllSteps() {
		if a, ok := s.Args["version"]; ok && s.Kind == "upgrade" {
			versions = append(versions, a.Version)
		}
	}
	if r.opts.Catalog.Source == container.SourceOfficial {
		return nil // the user asked for pulls from a registry
	}
	return r.opts.Catalog.CheckImages(ctx, versions)
}

// startNodes starts one container per node, in parallel, after removing
// those that crashed earlier runs left. In a Sentinel layout the replicas
// then follow the master (attachReplicas); the sentinels start after the
// seed (startSentinels).
func (r *rehearsal) startNodes(ctx context.Context) error {
	if n, err := container.RemoveStale(ctx); err != nil {
		fmt.Fprintf(r.log, "warning: could not look for containers of crashed runs: %v\n", err)
	} else if n > 0 {
		fmt.Fprintf(r.log, "removed %d container(s) left by a crashed run\n", n)
	}
	r.session = container.NewSessionID()
	fmt.Fprintf(r.log, "starting %d node(s) (session %s)\n", len(r.layout.Nodes), r.session)
	var (
		wg   sync.WaitGroup
		errs []error
	)
	opts := []container.Option{container.WithSession(r.session), container.WithPassword(r.password), container.WithUser(r.dep.user), container.WithCatalog(r.opts.Catalog)}
	if r.layout.Kind == topology.KindCluster {
		opts = append(opts, container.WithCluster())
	}
	for _, spec := range r.layout.Nodes {
		wg.Go(func() {
			n, err := container.Run(ctx, spec.Name, spec.Version, opts...)
			r.dep.mu.Lock()
			defer r.dep.mu.Unlock()
			if err != nil {
				errs = append(errs, fmt.Errorf("start node %q (%s): %w", spec.Name, spec.Version, err))
				return
			}
			r.dep.nodes[spec.Name] = n
			fmt.Fprintf(r.log, "node %s: %s on %s\n", spec.Name, n.Image(), n.Addr())
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	r.before = map[string]nodeInfo{}
	for _, spec := range r.layout.Nodes {
		ni, err := r.readNodeInfo(ctx, spec.Name)
		if err != nil {
			return err
		}
		r.before[spec.Name] = ni
	}
	return nil
}

// startEndpoints puts a proxy at every endpoint, pointing at its target.
func (r *rehearsal) startEndpoints(context.Context) error {
	for _, e := range r.layout.Endpoints {
		target, err := r.dep.container(e.Target)
		if err != nil {
			return fmt.Errorf("endpoint %q: %w", e.Name, err)
		}
		var popts []proxy.Option
		if e.Connections == dsl.ConnectionsClose {
			popts = append(popts, proxy.WithCloseOnRepoint())
		}
		p, err := proxy.Listen("127.0.0.1:0", target.Addr(), popts...)
		if err != nil {
			return fmt.Errorf("endpoint %q: %w", e.Name, err)
		}
		r.dep.mu.Lock()
		r.dep.eps[e.Name] = &endpoint{p: p, target: e.Target}
		r.dep.mu.Unlock()
		fmt.Fprintf(r.log, "endpoint %s listens on %s → node %s (open connections %s on a switch)\n", e.Name, p.Addr(), e.Target, e.Connections)
	}
	return nil
}

// seededKeys selects the keys the data check snapshots: the seeded ones.
// Keys a workload or an outside client writes never fail the check, which
// proves every seeded key present and unchanged; the runbook's verify steps
// compare them between nodes like any other key.
var seededKeys = dataset.CompareOptions{Match: dataset.SeedPrefix + "*"}

// seed loads test data into the seeded nodes and snapshots it.
func (r *rehearsal) seed(ctx context.Context) error {
	if r.keys <= 0 {
		return nil
	}
	if r.layout.Kind == topology.KindCluster {
		return r.seedCluster(ctx)
	}
	r.rep.Data = &report.Data{}
	for _, name := range r.layout.SeedNodes() {
		c, err := r.client(name)
		if err != nil {
			return err
		}
		t0 := time.Now()
		sum, err := dataset.Seed(ctx, c, r.seedOptions())
		if err != nil {
			return fmt.Errorf("seed node %q: %w", name, err)
		}
		snap, err := dataset.TakeSnapshot(ctx, c, seededKeys)
		if err != nil {
			return fmt.Errorf("snapshot node %q: %w", name, err)
		}
		r.seeded = snap
		r.rep.Data.SeededKeys = int64(sum.Total())
		r.rep.Data.SeedSeconds = time.Since(t0).Seconds()
		r.rep.Data.Seed = sum.String()
		fmt.Fprintf(r.log, "seeded node %s in %.1f s: %s\n", name, r.rep.Data.SeedSeconds, sum)
	}
	return nil
}

// seedOptions are the runbook's rehearsal settings for the seed.
func (r *rehearsal) seedOptions() dataset.SeedOptions {
	s := r.rb.Rehearsal
	return dataset.SeedOptions{
		Keys: r.keys, Seed: 1, DBs: s.DBs, Types: s.Types,
		SkipBigKeys: s.BigKeys != nil && !*s.BigKeys,
	}
}

// startTraffic starts the write probe through the first endpoint (or the
// first seeded node; through the sentinels in a Sentinel layout), measured
// from the run's origin.
func (r *rehearsal) startTraffic(ctx context.Context) error {
	if r.rate <= 0 {
		return nil
	}
	switch r.layout.Kind {
	case topology.KindSentinel:
		return r.startSentinelTraffic(ctx)
	case topology.KindCluster:
		return r.startClusterTraffic(ctx)
	}
	addr := ""
	if len(r.layout.Endpoints) > 0 {
		ep, _ := r.dep.Endpoint(r.layout.Endpoints[0].Name)
		addr = ep.(*endpoint).p.Addr()
	} else if seeds := r.layout.SeedNodes(); len(seeds) > 0 {
		n, _ := r.dep.container(seeds[0])
		addr = n.Addr()
	}
	if addr == "" {
		return nil
	}
	w, err := traffic.Start(ctx, traffic.Options{Addr: addr, Password: r.password, DB: r.probeDB, Prefix: TrafficPrefix, Rate: r.rate, Origin: r.origin})
	if err != nil {
		return fmt.Errorf("start write probe: %w", err)
	}
	r.writer = w
	fmt.Fprintf(r.log, "write probe: %d writes/s through %s (db %d, prefix %s)\n", r.rate, addr, r.probeDB, TrafficPrefix)
	sleepCtx(ctx, settle)
	return nil
}

// runSteps runs the interpreter with the containers as its topology; the
// hooks print progress, record the report and mark the probe's timeline.
func (r *rehearsal) runSteps(ctx context.Context) {
	hooks := []steps.Hook{steps.NewProgress(r.log, r.rb), report.NewRecorder(r.rep, r.rb, r.origin, r.secrets)}
	if r.writer != nil {
		hooks = append(hooks, &traffic.StepMarks{W: r.writer})
	}
	steps.New(r.rb, steps.Options{Topology: r.dep, Hooks: hooks, ExcludeKeys: r.exclude, Comparer: r.opts.Comparer}).Run(ctx)
	if r.writer != nil {
		sleepCtx(ctx, settle)
	}
}

// check reads every acknowledged write back from the final master (the
// endpoint's target at the end; in a Sentinel layout, the data node the
// sentinels name), checks it holds the seeded data, and reads the versions
// of the nodes and sentinels. It runs after an interruption too, on a
// context of its own.
func (r *rehearsal) check(ctx context.Context) {
	rep := r.rep
	vctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Minute)
	defer cancel()
	fail := func(format string, args ...any) {
		rep.Errors = append(rep.Errors, r.secrets.String(fmt.Sprintf(format, args...)))
		if rep.Status == steps.StatusPassed {
			rep.Status = steps.StatusFailed
		}
	}
	r.final = ""
	switch {
	case r.layout.Kind == topology.KindCluster:
		r.checkCluster(vctx, fail)
	case r.layout.Kind == topology.KindSentinel:
		var problems []string
		r.final, problems = r.sentinelFinalMaster(vctx, sentinelAgreeTimeout)
		for _, p := range problems {
			fail("%s", p)
		}
		if r.final != "" {
			fmt.Fprintf(r.log, "final master: node %s, as the sentinels name master %q\n", r.final, r.layout.Sentinel.MasterName)
		}
		r.checkMaster(vctx, fail)
	case len(r.layout.Endpoints) > 0:
		ep, _ := r.dep.Endpoint(r.layout.Endpoints[0].Name)
		r.final = ep.Target()
		r.checkMaster(vctx, fail)
	default:
		if seeds := r.layout.SeedNodes(); len(seeds) > 0 {
			r.final = seeds[0]
		}
		r.checkMaster(vctx, fail)
	}
	for _, name := range r.nodeAndSentinelNames() {
		ni, err := r.readNodeInfo(vctx, name)
		if err != nil {
			ni = nodeInfo{version: "unreachable: " + err.Error()}
		}
		rn := report.Node{
			Name: name, Engine: string(r.before[name].engine),
			VersionBefore: r.before[name].version, VersionAfter: ni.version, RoleAfter: ni.role,
			Image: r.dep.image(name),
		}
		if ni.engine != "" && ni.engine != r.before[name].engine {
			rn.EngineAfter = string(ni.engine)
		}
		rep.Nodes = append(rep.Nodes, rn)
	}
	if ctx.Err() != nil && rep.Status != steps.StatusInterrupted {
		// The signal came after the steps: the checks ran, but the run
		// did not end by itself.
		rep.Status = steps.StatusInterrupted
		if rep.Interrupted == "" {
			rep.Interrupted = "after the last step"
		}
	}
	if rep.Status == steps.StatusInterrupted {
		rep.Errors = append(rep.Errors, "interrupted by a signal "+rep.Interrupted)
	}
}

// checkMaster reads every acknowledged write back from the final master,
// and checks that it holds the seeded data.
func (r *rehearsal) checkMaster(ctx context.Context, fail func(string, ...any)) {
	rep := r.rep
	if r.writer != nil {
		tr := r.writer.Stop()
		fc, err := r.client(r.final)
		if r.final == "" {
			err = errors.New("no final master is known")
		}
		if err == nil {
			probeDB := onDB(fc, r.probeDB)
			err = r.writer.Verify(ctx, probeDB, tr)
			_ = probeDB.Close()
		}
		r.recordTraffic(tr, err, fmt.Sprintf("the final master %q", r.final), fail)
	}
	if r.keys <= 0 || r.final == "" || rep.Data == nil {
		return
	}
	rep.Data.FinalMaster = r.final
	rep.Data.Method = "snapshot after seeding of the seeded keys (" + seededKeys.Match + ": type, value, TTL, hash field TTLs, stream metadata), the function libraries and the ACL users"
	fc, err := r.client(r.final)
	var res dataset.Result
	if err == nil {
		res, err = dataset.CheckSnapshot(ctx, fc, r.seeded, dataset.CompareOptions{})
	}
	if err != nil {
		fail("check the seeded data on the final master %q: %v", r.final, err)
		return
	}
	rep.Data.FinalKeys = res.KeysB
	rep.Data.Equal = res.Equal
	rep.Data.TTLToleranceMS = res.TTLToleranceMS
	r.recordData(res, strconv.Quote(r.final), fail)
}

// recordTraffic puts the write probe's report, read back from where
// (verr: why it could not be), in the report, with its stalls per step;
// a lost acknowledged write fails the rehearsal.
func (r *rehearsal) recordTraffic(tr *traffic.Report, verr error, where string, fail func(string, ...any)) {
	if verr != nil {
		fail("read back acknowledged writes from %s: %v", where, verr)
	}
	r.rep.Traffic = tr
	r.rep.AttributeStalls(tr)
	if tr.Lost > 0 {
		fail("%d acknowledged write(s) lost: missing or wrong on %s (e.g. %v)", tr.Lost, where, tr.LostSamples)
	}
}

// recordData logs the notes of a check of the seeded data on master (a
// quoted node name, and what of the data it holds) and fails the rehearsal
// when it does not hold them.
func (r *rehearsal) recordData(res dataset.Result, master string, fail func(string, ...any)) {
	for _, n := range res.Notes {
		n = r.secrets.String(n)
		r.rep.Data.Notes = append(r.rep.Data.Notes, n)
		fmt.Fprintf(r.log, "data check: %s\n", n)
	}
	if res.Equal {
		return
	}
	var diffs []string
	for _, d := range res.Diffs[:min(5, len(res.Diffs))] {
		diffs = append(diffs, d.String())
	}
	fail("the final master %s does not hold the seeded data: %d of %d seeded keys there, %d difference(s) (TTLs equal within %d ms), e.g. %s",
		master, res.KeysB, res.KeysA, res.DiffCount, res.TTLToleranceMS, strings.Join(diffs, "; "))
}

// CheckRehearsable reports nodes that cannot be rehearsed.
func CheckRehearsable(rb *dsl.Runbook) hcl.Diagnostics {
	return checkRehearsable(rb, layoutOf(rb))
}

// checkRehearsable is CheckRehearsable over a given layout: every node and
// sentinel says which version a rehearsal runs, a Sentinel layout can be
// started (checkSentinelLayout), and the credentials agree.
func checkRehearsable(rb *dsl.Runbook, layout *topology.Layout) hcl.Diagnostics {
	var diags hcl.Diagnostics
	if layout.Kind == topology.KindCluster {
		// The cluster's rehearsal block gives every node its version.
		if diags := checkClusterLayout(rb, layout); diags.HasErrors() {
			return diags
		}
	}
	specs := layout.Nodes
	if layout.Sentinel != nil {
		specs = append(specs[:len(specs):len(specs)], layout.Sentinel.Sentinels...)
	}
	for _, n := range specs {
		if !n.Rehearsable {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Node cannot be rehearsed",
				Detail:   fmt.Sprintf("Node %q has no rehearsal block: add rehearsal { version = \"7.0\" } to say which version a rehearsal runs.", n.Name),
				Subject:  n.DeclRange.Ptr(),
			})
		}
	}
	diags = append(diags, checkSentinelLayout(layout)...)
	return append(diags, checkCredentials(rb)...)
}

type nodeInfo struct {
	engine        redis.Engine
	version, role string
}

func (r *rehearsal) client(name string) (*goredis.Client, error) {
	n, err := r.dep.Node(name)
	if err != nil {
		return nil, err
	}
	return n.Client()
}

func (r *rehearsal) readNodeInfo(ctx context.Context, name string) (nodeInfo, error) {
	c, err := r.client(name)
	if err != nil {
		return nodeInfo{}, err
	}
	info, err := redis.ReadInfo(ctx, c)
	if err != nil {
		return nodeInfo{}, fmt.Errorf("INFO on node %q: %w", name, err)
	}
	engine, version := redis.EngineVersionFromInfo(info)
	role := redis.RoleFromInfo(info)
	if info["redis_mode"] == "sentinel" || info["server_mode"] == "sentinel" {
		role = "sentinel"
	}
	return nodeInfo{engine: engine, version: version, role: role}, nil
}

// nodeAndSentinelNames lists the data nodes, then the sentinels.
func (r *rehearsal) nodeAndSentinelNames() []string {
	names := r.layout.NodeNames()
	if r.layout.Sentinel != nil {
		for _, s := range r.layout.Sentinel.Sentinels {
			names = append(names, s.Name)
		}
	}
	return names
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

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
