package kinds_test

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/understudy/understudy/dsl"
	"github.com/understudy/understudy/internal/redistest"
	"github.com/understudy/understudy/internal/runtest"
	"github.com/understudy/understudy/steps"
	"github.com/understudy/understudy/steps/kinds"
	"github.com/understudy/understudy/steps/live"
	"github.com/understudy/understudy/steps/redis"
	"github.com/understudy/understudy/steps/traffic"
)

// clusterNodes declares a cluster's nodes as n1, n2, ... in the set's
// order (the masters, then their replicas), with the password from the
// environment variable env.
func clusterNodes(set *redistest.ClusterSet, env string) string {
	var b strings.Builder
	for i, addr := range set.Addrs() {
		fmt.Fprintf(&b, "node \"n%d\" {\n  address  = %q\n  password = env(%q)\n}\n", i+1, addr, env)
	}
	return b.String()
}

// runCluster loads src and runs it with the live backend, as apply does.
func runCluster(t *testing.T, name, src string) *steps.Result {
	t.Helper()
	rb, diags := dsl.LoadSource(name, []byte(src), dsl.LoadOptions{Kinds: kinds.Registry, Mode: dsl.ModeLive})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	ctx := context.Background()
	topo := live.New(rb)
	defer topo.Close(ctx)
	var log strings.Builder
	res := steps.New(rb, steps.Options{Topology: topo, Hooks: []steps.Hook{steps.NewProgress(&log, rb)}}).Run(ctx)
	t.Logf("%s:\n%s", name, log.String())
	return res
}

// TestClusterFailoverAndCheck runs cluster_check, cluster_failover (auto:
// the paused takeover) of the first shard's replica and cluster_check again
// against a real 3 × 1 cluster, with a cluster client writing through all
// of it: the replica is promoted, no acknowledged write is lost. A
// cluster_failover aimed at a master is refused at its replica argument.
func TestClusterFailoverAndCheck(t *testing.T) {
	set := redistest.StartCluster(t, 3, 1)
	t.Setenv("CLUSTER_KINDS_PASSWORD", set.Password)
	nodes := clusterNodes(set, "CLUSTER_KINDS_PASSWORD")
	src := nodes + `
step "cluster_check" "healthy" {
  nodes = [node.n1, node.n2, node.n3, node.n4, node.n5, node.n6]
}

step "cluster_failover" "promote" {
  replica = node.n4
  method  = "auto"
}

step "cluster_check" "healthy_after" {
  nodes = [node.n1, node.n2, node.n3, node.n4, node.n5, node.n6]
}

step "assert" "promoted" {
  condition     = node.n4.role == "master" && node.n1.role == "replica"
  error_message = "n4 is a ${node.n4.role}, n1 a ${node.n1.role}"
}
`
	ctx := context.Background()
	w, err := traffic.Start(ctx, traffic.Options{
		Cluster:  &traffic.ClusterTarget{Addrs: set.Addrs(), Password: set.Password},
		Password: set.Password, Rate: 1000, Prefix: "cluster-kinds:",
	})
	if err != nil {
		t.Fatal(err)
	}
	res := runCluster(t, "cluster.hcl", src)
	time.Sleep(300 * time.Millisecond) // writes after the failover, on the new master
	rep := w.Stop()
	if res.Status != steps.StatusPassed {
		t.Fatalf("run %s: %v", res.Status, res.Diagnostics)
	}
	if n := len(res.Steps); n != 4 {
		t.Fatalf("%d steps ran, want 4", n)
	}
	out := res.Steps[1].Output
	if got := out.GetAttr("method").AsString(); got != "takeover" {
		t.Errorf("method %s, want takeover (auto on %s)", got, "7.x")
	}
	if from, to := out.GetAttr("from").AsString(), out.GetAttr("to").AsString(); from != "n1" || to != "n4" {
		t.Errorf("failed over %s → %s, want n1 → n4", from, to)
	}
	check := res.Steps[2].Output
	if m, r := check.GetAttr("masters").AsBigFloat().String(), check.GetAttr("replicas").AsBigFloat().String(); m != "3" || r != "3" {
		t.Errorf("cluster_check: %s masters, %s replicas, want 3 and 3", m, r)
	}
	if err := w.VerifyCluster(ctx, rep); err != nil {
		t.Fatal(err)
	}
	pause, _ := out.GetAttr("pause_ms").AsBigFloat().Float64()
	swap, _ := out.GetAttr("role_swap_ms").AsBigFloat().Float64()
	t.Logf("takeover: paused %.1f ms, roles swapped %.1f ms; writer: %d acknowledged, %d lost, %d failed, longest stall %.1f ms",
		pause, swap, rep.Acked, rep.Lost, rep.Failed, rep.MaxStallMS)
	if rep.Acked == 0 || rep.Lost != 0 {
		t.Errorf("writer: %d acknowledged, %d lost", rep.Acked, rep.Lost)
	}

	// n2 is a master: refused at the replica argument, nothing sent.
	bad := nodes + `
step "cluster_failover" "wrong" {
  replica = node.n2
}
`
	res = runCluster(t, "wrong.hcl", bad)
	if res.Status == steps.StatusPassed || len(res.Steps) != 1 {
		t.Fatalf("a failover sent to a master: run %s with %d step(s)", res.Status, len(res.Steps))
	}
	d := res.Steps[0].Diag
	wantLine := strings.Count(nodes, "\n") + 3 // the replica = line
	switch {
	case d == nil:
		t.Fatal("no diagnostic")
	case !strings.Contains(d.Detail, `CLUSTER FAILOVER must be sent to a replica: node "n2" is a master`):
		t.Errorf("diagnostic %q: %s", d.Summary, d.Detail)
	case d.Subject == nil || d.Subject.Filename != "wrong.hcl" || d.Subject.Start.Line != wantLine:
		t.Errorf("diagnostic at %v, want wrong.hcl line %d", d.Subject, wantLine)
	}
	if a := res.Steps[0].Attempts; a > 1 {
		t.Errorf("%d attempts: a permanent error is not retried", a)
	}

	testClusterFailoverResume(t, nodes)
	testClusterCheckVersion(t, set, nodes)
}

// testClusterCheckVersion: cluster_check with the nodes' own version
// passes once the cluster has settled; with another one it fails when its
// timeout ends, naming the nodes' version.
func testClusterCheckVersion(t *testing.T, set *redistest.ClusterSet, nodes string) {
	c := set.Masters()[0].Client()
	defer c.Close()
	v, err := redis.ServerVersion(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	other := redis.Version{Engine: v.Engine, Major: v.Major + 1, Patch: -1}
	check := func(version, timeout string) string {
		return fmt.Sprintf("step \"cluster_check\" \"v\" {\n  nodes   = [node.n1, node.n2, node.n3, node.n4, node.n5, node.n6]\n  version = %q\n  timeout = %q\n}\n", version, timeout)
	}
	// The resume's failover of n5 is still being gossiped (0.5-1.6 s).
	if res := runCluster(t, "same.hcl", nodes+check(v.Series().String(), "20s")); res.Status != steps.StatusPassed {
		t.Errorf("cluster_check on %s: %s %v", v.Series(), res.Status, res.Diagnostics)
	}
	res := runCluster(t, "other.hcl", nodes+check(other.String(), "1s"))
	want := fmt.Sprintf(`node "n6" runs %s, want %s`, v, other)
	if d := res.Steps[0].Diag; res.Status == steps.StatusPassed || d == nil || !strings.Contains(d.Detail, want) {
		t.Errorf("cluster_check on %s: %s %v, want it to say %q", other, res.Status, res.Diagnostics, want)
	}
}

// testClusterFailoverResume judges an in-flight cluster_failover on the
// cluster after TestClusterFailoverAndCheck's swap (n4 master, n1 its
// replica; n5 still a replica of n2): the logged master n1 now a replica of
// n4 is done; n5, still a replica, is run again (and swapped); no logged
// master is run again (and refused at its argument, n4 being a master); a
// logged master that is not the promoted node's replica is refused.
func testClusterFailoverResume(t *testing.T, nodes string) {
	tests := []struct {
		name, replica string
		log           []string
		// done: judged done; status of the run; refused: what the
		// refusal or the failure says.
		done    bool
		status  string
		refused string
	}{
		{name: "swapped", replica: "n4", log: []string{"fails over n1 → n4 (takeover)"}, done: true, status: steps.StatusPassed},
		{name: "not swapped", replica: "n5", log: []string{"fails over n2 → n5 (takeover)"}, status: steps.StatusPassed},
		{name: "nothing logged", replica: "n4", status: steps.StatusFailed, refused: "must be sent to a replica"},
		{name: "old master elsewhere", replica: "n4", log: []string{"fails over n3 → n4 (takeover)"}, status: steps.StatusFailed, refused: "stopped half-way"},
	}
	for _, tt := range tests {
		t.Run("resume "+tt.name, func(t *testing.T) {
			rb, diags := dsl.LoadSource("resume.hcl", []byte(nodes+fmt.Sprintf("step \"cluster_failover\" \"x\" {\n  replica = node.%s\n}\n", tt.replica)),
				dsl.LoadOptions{Kinds: kinds.Registry, Mode: dsl.ModeLive})
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			res := runtest.RunResumed(t, rb, &steps.Resume{InFlight: "x", InFlightAttempts: 1, InFlightLog: tt.log})
			r := res.Steps[0]
			if res.Status != tt.status || r.Resumed != tt.done {
				t.Fatalf("status %s, resumed %v; want %s, %v: %v", res.Status, r.Resumed, tt.status, tt.done, res.Diagnostics)
			}
			if tt.refused != "" && (r.Diag == nil || !strings.Contains(r.Diag.Detail, tt.refused)) {
				t.Errorf("diagnostic %+v, want it to say %q", r.Diag, tt.refused)
			}
		})
	}
}

// TestClusterGroups runs a runbook that names no node against a real
// 3×1 cluster (the live backend): its groups read the masters and the
// replicas from CLUSTER NODES when they start, each master is failed over
// to its replica (master = each.node) and checked, and a cluster client
// writing all the while loses nothing.
func TestClusterGroups(t *testing.T) {
	set := redistest.StartCluster(t, 3, 1)
	t.Setenv("CLUSTER_GROUPS_PASSWORD", set.Password)
	var addrs []string
	for _, a := range set.Addrs() {
		addrs = append(addrs, strconv.Quote(a))
	}
	src := fmt.Sprintf(`
cluster "cache" {
  nodes    = [%s]
  password = env("CLUSTER_GROUPS_PASSWORD")
}

step "cluster_check" "healthy" {
  nodes = cluster.cache.nodes
}

group "replicas" {
  for_each = cluster.cache.replicas
  step "assert" "is_replica" {
    condition = each.node.role == "replica"
  }
}

group "masters" {
  for_each = cluster.cache.masters
  step "cluster_failover" "failover" {
    master = each.node
  }
  step "wait" "old_master_follows" {
    until = each.node.role == "replica" && each.node.info.master_link_status == "up"
  }
  step "cluster_check" "healthy_again" {
    nodes = cluster.cache.nodes
  }
}

group "after" {
  for_each = cluster.cache.masters
  step "assert" "was_replica" {
    condition = each.node.role == "master"
  }
}
`, strings.Join(addrs, ", "))
	ctx := context.Background()
	w, err := traffic.Start(ctx, traffic.Options{
		Cluster:  &traffic.ClusterTarget{Addrs: set.Addrs(), Password: set.Password},
		Password: set.Password, Rate: 1000, Prefix: "cluster-groups:",
	})
	if err != nil {
		t.Fatal(err)
	}
	res := runCluster(t, "groups.hcl", src)
	rep := w.Stop()
	if res.Status != steps.StatusPassed {
		t.Fatalf("run %s: %v", res.Status, res.Diagnostics)
	}
	var names []string
	for _, s := range res.Steps {
		names = append(names, s.Step.Name)
	}
	want := []string{"healthy", "is_replica[cache-4]", "is_replica[cache-5]", "is_replica[cache-6]",
		"failover[cache-1]", "old_master_follows[cache-1]", "healthy_again[cache-1]",
		"failover[cache-2]", "old_master_follows[cache-2]", "healthy_again[cache-2]",
		"failover[cache-3]", "old_master_follows[cache-3]", "healthy_again[cache-3]",
		"was_replica[cache-4]", "was_replica[cache-5]", "was_replica[cache-6]"}
	if !slices.Equal(names, want) {
		t.Errorf("steps ran: %v\nwant %v", names, want)
	}
	if err := w.VerifyCluster(ctx, rep); err != nil {
		t.Fatal(err)
	}
	t.Logf("cluster client: %d acknowledged, %d lost, %d failed, longest stall %.1f ms over three takeovers", rep.Acked, rep.Lost, rep.Failed, rep.MaxStallMS)
	if rep.Acked == 0 || rep.Lost != 0 {
		t.Errorf("writer: %d acknowledged, %d lost", rep.Acked, rep.Lost)
	}
}
