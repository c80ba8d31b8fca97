package rehearsal

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/understudy/understudy/dsl"
	"github.com/understudy/understudy/steps"
	"github.com/understudy/understudy/steps/dataset"
	"github.com/understudy/understudy/steps/kinds"
	"github.com/understudy/understudy/steps/redact"
	"github.com/understudy/understudy/steps/redis"
	"github.com/understudy/understudy/steps/rehearsal/container"
	"github.com/understudy/understudy/steps/report"
	"github.com/understudy/understudy/steps/topology"
)

// sentinelRunbook declares the data nodes with the application's ACL user,
// so that the replicas and the sentinels authenticate as it, and one step
// that reads their roles through the rehearsal's topology.
const sentinelRunbook = `
node "m1" {
  address  = "10.0.0.1:6379"
  username = "app"
  rehearsal {
    version = "7.0"
  }
}
node "r1" {
  address  = "10.0.0.2:6379"
  username = "app"
  rehearsal {
    version = "7.0"
  }
}
node "r2" {
  address  = "10.0.0.3:6379"
  username = "app"
  rehearsal {
    version = "7.0"
  }
}
step "assert" "roles" {
  condition     = node.m1.role == "master" && node.r1.role == "replica" && node.r2.role == "replica"
  error_message = "roles: m1 ${node.m1.role}, r1 ${node.r1.role}, r2 ${node.r2.role}"
}
`

// sentinelLayout is what topology.SentinelLayout builds from a sentinel
// block: a master and two replicas, three sentinels, the monitoring
// settings of internal/redistest.
func sentinelLayout(version string) *topology.Layout {
	v := redis.MustParseVersion(version)
	l := &topology.Layout{Kind: topology.KindSentinel, Sentinel: &topology.SentinelSpec{
		Name: "cache", MasterName: "mymaster", Quorum: 2,
		DownAfter: 5 * time.Second, FailoverTimeout: 60 * time.Second, ParallelSyncs: 1,
	}}
	for i, name := range []string{"m1", "r1", "r2"} {
		l.Nodes = append(l.Nodes, topology.NodeSpec{Name: name, Version: v, Rehearsable: true, Seed: i == 0})
	}
	for _, name := range []string{"s1", "s2", "s3"} {
		l.Sentinel.Sentinels = append(l.Sentinel.Sentinels, topology.NodeSpec{Name: name, Version: v, Rehearsable: true})
	}
	return l
}

// A Sentinel layout end to end, short of a runbook that declares one: the
// replicas follow the master, the sentinels start and know everything, the
// probe writes through Sentinel, a sentinel upgraded in place through the
// topology comes back with its myid and knowledge, the steps see the
// roles, the check finds the final master through the sentinels and
// reports the sentinels; after a SENTINEL FAILOVER the discovery names the
// new master, which holds the seeded data and ACL users. The password
// appears nowhere in the log.
func TestSentinelRehearsal(t *testing.T) {
	rb, diags := dsl.LoadSource("sentinel.hcl", []byte(sentinelRunbook), dsl.LoadOptions{Kinds: kinds.Registry, Mode: dsl.ModeRehearsal})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	t0 := time.Now()
	const password = "Sentinel-Rehearsal-Passw0rd_for-this-test"
	var log bytes.Buffer
	r, err := newRehearsal(rb, sentinelLayout("7.0"), "sentinel.hcl", Options{
		Keys: 500, WriteRate: 200, Log: &log, Password: password,
		Catalog: container.Catalog{Source: container.SourceLocal},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		r.closeLog()
		if strings.Contains(log.String(), password) {
			t.Error("the password appears in the log")
		}
		if t.Failed() {
			t.Logf("log:\n%s", log.String())
		}
	}()
	defer r.cleanup(ctx)
	if r.dep.user != "app" {
		t.Fatalf("ACL user %q, want the runbook's", r.dep.user)
	}

	for _, p := range r.setupPhases() {
		if err := p.run(ctx); err != nil {
			t.Fatalf("phase %q: %v", p.name, err)
		}
	}
	t.Logf("phases up to the traffic: %s", since(t0))
	for _, want := range []string{
		"node r1: replica of m1", "replicas in sync with node m1",
		"node r2: has the ACL users of m1 (app, understudy-seed-app), which replication does not carry",
		`starting 3 sentinel(s) monitoring node m1 as master "mymaster": quorum 2, down-after 5s, failover-timeout 1m0s, parallel-syncs 1`,
		"sentinels authenticate to the data nodes as user app",
		"sentinel s1: understudy/redis:7.0 on 127.0.0.1:",
		`each names node m1 as master "mymaster", knows 2 replica(s) and the 2 other sentinel(s); CKQUORUM OK`,
		`write probe: 200 writes/s through Sentinel (master name "mymaster", sentinels 127.0.0.1:`,
	} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("the log lacks %q", want)
		}
	}
	if ni := r.before["s2"]; ni.role != "sentinel" || !strings.HasPrefix(ni.version, "7.0.") {
		t.Errorf("s2 before: %+v", ni)
	}
	if t.Failed() {
		t.FailNow()
	}

	// Upgrade s1 in place through the topology, as an upgrade step would.
	ids, err := r.sentinelIDs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s1, err := r.dep.Node("s1")
	if err != nil {
		t.Fatal(err)
	}
	if sc, err := s1.Client(); err != nil || sc.Options().Password != password {
		t.Fatalf("s1's client: %v (with the rehearsal's password: %v)", err, err == nil && sc.Options().Password == password)
	}
	start := time.Now()
	if err := s1.Upgrade(ctx, redis.MustParseVersion("8.0")); err != nil {
		t.Fatal(err)
	}
	upgraded := since(start)
	if err := r.waitSentinels(ctx, "m1", sentinelReadyTimeout); err != nil {
		t.Fatalf("after the upgrade of s1: %v", err)
	}
	t.Logf("s1 7.0 → 8.0 in %s; every sentinel knows the deployment again %s later", upgraded, since(start.Add(upgraded)))
	after, err := r.sentinelIDs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if after["s1"] != ids["s1"] {
		t.Fatalf("s1's myid %s after the upgrade, was %s", after["s1"], ids["s1"])
	}
	if ni, err := r.readNodeInfo(ctx, "s1"); err != nil || ni.role != "sentinel" || !strings.HasPrefix(ni.version, "8.0.") {
		t.Fatalf("s1 after the upgrade: %+v, %v", ni, err)
	}

	r.runSteps(ctx)
	r.check(ctx)
	rep := r.rep
	if rep.Status != steps.StatusPassed || len(rep.Errors) > 0 {
		t.Fatalf("status %s, errors %v", rep.Status, rep.Errors)
	}
	if r.final != "m1" || rep.Data.FinalMaster != "m1" || !rep.Data.Equal {
		t.Fatalf("final master %q (report %q), data equal %v", r.final, rep.Data.FinalMaster, rep.Data.Equal)
	}
	tr := rep.Traffic
	if tr == nil || tr.Acked == 0 || tr.Lost != 0 || tr.Failed != 0 || !tr.Verified {
		t.Fatalf("traffic through Sentinel: %+v", tr)
	}
	t.Logf("probe through Sentinel: %d writes acknowledged, %d lost, %d failed, read back from m1; longest stall %.1f ms", tr.Acked, tr.Lost, tr.Failed, tr.MaxStallMS)
	checkReportNodes(t, rep.Nodes)

	// Discovery follows the sentinels: a failover led by the upgraded
	// sentinel moves the master they name.
	c, err := r.client("s1")
	if err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	if err := c.Do(ctx, "SENTINEL", "FAILOVER", "mymaster").Err(); err != nil {
		t.Fatal(err)
	}
	var final string
	var problems []string
	for final == "" || final == "m1" {
		if time.Since(start) > 30*time.Second {
			t.Fatalf("after SENTINEL FAILOVER the sentinels still name %q (%v)", final, problems)
		}
		final, problems = r.sentinelFinalMaster(ctx, sentinelAgreeTimeout)
		sleepCtx(ctx, sentinelPoll)
	}
	if len(problems) > 0 || (final != "r1" && final != "r2") {
		t.Fatalf("final master %q, problems %v", final, problems)
	}
	t.Logf("after SENTINEL FAILOVER on s1 every sentinel names %s: %s", final, since(start))
	// The new master holds the seeded data, ACL users included: the
	// rehearsal gave them to every replica before the first step.
	fc, err := r.client(final)
	if err != nil {
		t.Fatal(err)
	}
	res, err := dataset.CheckSnapshot(ctx, fc, r.seeded, dataset.CompareOptions{})
	if err != nil || !res.Equal {
		t.Fatalf("the seeded data on the new master %s: %v, %d difference(s), e.g. %v", final, err, res.DiffCount, res.Diffs[:min(3, len(res.Diffs))])
	}
	t.Logf("whole test: %s", since(t0))
}

// checkReportNodes checks the report's nodes: the data nodes with their
// roles, then the sentinels, s1 upgraded.
func checkReportNodes(t *testing.T, nodes []report.Node) {
	t.Helper()
	var got []string
	for _, n := range nodes {
		got = append(got, fmt.Sprintf("%s %s %s→%s %s", n.Name, n.Engine, n.VersionBefore[:3], n.VersionAfter[:3], n.RoleAfter))
	}
	want := []string{
		"m1 redis 7.0→7.0 master", "r1 redis 7.0→7.0 replica", "r2 redis 7.0→7.0 replica",
		"s1 redis 7.0→8.0 sentinel", "s2 redis 7.0→7.0 sentinel", "s3 redis 7.0→7.0 sentinel",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("report nodes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if nodes[3].Image != "understudy/redis:8.0" {
		t.Errorf("s1's image %q", nodes[3].Image)
	}
}

// Without an answer from any sentinel there is no final master, and the
// report says why; a layout the sentinels could never agree on is refused
// before anything starts.
func TestSentinelFinalMasterUnknown(t *testing.T) {
	r := &rehearsal{layout: sentinelLayout("7.0"), dep: newDeployment(), log: &bytes.Buffer{}, secrets: redact.New()}
	final, problems := r.sentinelFinalMaster(context.Background(), 0)
	if final != "" || len(problems) != 1 || !strings.HasPrefix(problems[0], `the final master: no sentinel named the master "mymaster": sentinel "s1": node "s1" has no rehearsal container`) {
		t.Fatalf("final %q, problems %q", final, problems)
	}

	l := sentinelLayout("7.0")
	l.Sentinel.Quorum = 4
	if d := checkSentinelLayout(l); !d.HasErrors() || !strings.Contains(d[0].Detail, "quorum 4 with 3 sentinel(s)") {
		t.Fatalf("quorum 4 of 3: %v", d)
	}
	l.Sentinel.Sentinels = nil
	if d := checkSentinelLayout(l); !d.HasErrors() || !strings.Contains(d[0].Detail, "no sentinel") {
		t.Fatalf("no sentinels: %v", d)
	}
}

func since(t time.Time) time.Duration { return time.Since(t).Round(time.Millisecond) }
