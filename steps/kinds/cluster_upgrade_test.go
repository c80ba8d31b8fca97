package kinds_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/understudy/understudy/dsl"
	"github.com/understudy/understudy/internal/redistest"
	"github.com/understudy/understudy/steps"
	"github.com/understudy/understudy/steps/kinds"
)

// clusterRolling is a rolling upgrade of a 3 × 1 cluster from one version
// to another, replicas first; the replicas' version argument is on line
// 12, column 15, the old masters' on line 21.
const clusterRolling = `cluster "cache" {
  nodes = ["127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3", "127.0.0.1:4", "127.0.0.1:5", "127.0.0.1:6"]
  rehearsal {
    version = "%s"
  }
}

group "replicas" {
  for_each = cluster.cache.replicas
  step "upgrade" "replica" {
    node    = each.node
    version = "%s"
  }
}

group "masters" {
  for_each = cluster.cache.masters
  step "cluster_failover" "failover" {
    master = each.node
  }
  step "upgrade" "old_master" {
    node    = each.node
    version = "%[2]s"
  }
}
`

// An upgrade that would make a cluster run a known-bad pair of versions is
// refused before anything runs, once, at the version argument of the
// upgrade that brings the pair in, with the reason and its reference;
// upgrading a master before its replica is refused by the replication
// rules. Pairs with no known bug pass.
func TestClusterUpgradeRefusedStatically(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		want      []string // diagnostic lines: prefix "file:line:col: summary; detail"
	}{
		{"7.0 to 7.2", fmt.Sprintf(clusterRolling, "7.0", "7.2"), []string{
			`cluster.hcl:12:15: Known-bad mixed-version cluster; Step upgrade "replica[cache-4]" upgrades node "cache-4" of cluster "cache" to 7.2 while nodes "cache-1", "cache-2", "cache-3", "cache-5" and "cache-6" run 7.0: a cluster with nodes on 7.2 and on 7.0 is known to fail: Redis 7.0 does not gossip the shard IDs that Redis 7.2 records in nodes.conf`,
		}},
		{"6.2 to 7.2", fmt.Sprintf(clusterRolling, "6.2", "7.2"), []string{
			`cluster.hcl:12:15: Known-bad mixed-version cluster; Step upgrade "replica[cache-4]" upgrades node "cache-4" of cluster "cache" to 7.2 while nodes "cache-1", "cache-2", "cache-3", "cache-5" and "cache-6" run 6.2: a cluster with nodes on 7.2 and on 6.2 is known to fail: Redis 7.2 sends cluster bus messages with ping extensions`,
		}},
		{"masters first", strings.Replace(fmt.Sprintf(clusterRolling, "7.0", "8.0"), "cluster.cache.replicas", "cluster.cache.masters", 1), []string{
			`cluster.hcl:12:15: Versions cannot replicate; Step upgrade "replica[cache-1]" upgrades node "cache-1" of cluster "cache" to 8.0 while its replica "cache-4" runs 7.0: a replica on 7.0 cannot follow a master on 8.0`,
			`cluster.hcl:12:15: Versions cannot replicate; Step upgrade "replica[cache-2]" upgrades node "cache-2"`,
			`cluster.hcl:12:15: Versions cannot replicate; Step upgrade "replica[cache-3]" upgrades node "cache-3"`,
		}},
		{"7.0 to 8.0", fmt.Sprintf(clusterRolling, "7.0", "8.0"), nil},
		{"7.0 to valkey:8.1", fmt.Sprintf(clusterRolling, "7.0", "valkey:8.1"), nil},
		{"6.0 to 7.0", fmt.Sprintf(clusterRolling, "6.0", "7.0"), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, diags := dsl.LoadSource("cluster.hcl", []byte(tc.src), dsl.LoadOptions{Kinds: kinds.Registry, Mode: dsl.ModeValidate})
			if len(diags) != len(tc.want) {
				t.Fatalf("%d diagnostic(s), want %d:\n%s", len(diags), len(tc.want), diags)
			}
			for i, d := range diags {
				if got := dsl.DiagnosticLine(d); !strings.HasPrefix(got, tc.want[i]) {
					t.Errorf("diagnostic %d:\n got %s\nwant %s…", i, got, tc.want[i])
				}
			}
		})
	}
}

// The same refusal at run time, from the versions the live nodes report
// (a plan's walk knows none without a rehearsal block), before anything is
// sent: against a real 3 × 1 cluster of 7.0, upgrading a replica to 7.2 is
// refused for the pair, upgrading a master to 8.0 for its replica; a
// replica to 8.0 passes the check and reaches the lifecycle (which this
// runbook does not declare).
func TestClusterUpgradeRefusedLive(t *testing.T) {
	set := redistest.StartCluster(t, 3, 1)
	t.Setenv("CLUSTER_UPGRADE_PASSWORD", set.Password)
	block := fmt.Sprintf("cluster \"c\" {\n  nodes    = [\"%s\"]\n  password = env(\"CLUSTER_UPGRADE_PASSWORD\")\n}\n", strings.Join(set.Addrs(), `", "`))
	src := func(node, version string) string {
		return block + fmt.Sprintf("\nstep \"upgrade\" \"u\" {\n  node    = node.%s\n  version = %q\n}\n", node, version)
	}
	versionLine := strings.Count(block, "\n") + 4
	for _, tc := range []struct {
		name, node, version string
		summary             string   // "" for a step that gets past the check
		want                []string // substrings of the detail
	}{
		{"replica to 7.2", "c-4", "7.2", "Known-bad mixed-version cluster",
			[]string{`Node "c-4" of cluster "c" runs 7.0.`, "upgrading it to 7.2 now is refused, nothing was changed", `nodes "c-1", "c-2", "c-3", "c-5" and "c-6" run 7.0.`, "redis#12761"}},
		{"master to 8.0", "c-1", "8.0", "Versions cannot replicate",
			[]string{`its replica "c-4" runs 7.0.`, "a replica on 7.0.", "cannot follow a master on 8.0", "Upgrade replicas first"}},
		{"replica to 8.0", "c-4", "8.0", "", []string{"needs a lifecycle command"}},
		// Same version on both sides: no pair rule refuses it, but the
		// master serves slots and has a replica to fail over to.
		{"master serving slots", "c-2", "7.0", "Master serves slots",
			[]string{`Node "c-2" is a master of cluster "c" serving 5461 slot(s), with replica(s) "c-5"`, "nothing was changed", "cluster_failover { master = node.c-2 }"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := runCluster(t, "upgrade.hcl", src(tc.node, tc.version))
			if res.Status == steps.StatusPassed || len(res.Steps) != 1 {
				t.Fatalf("run %s with %d step(s)", res.Status, len(res.Steps))
			}
			d := res.Steps[0].Diag
			if d == nil {
				t.Fatal("no diagnostic")
			}
			text := d.Summary + ": " + d.Detail
			if tc.summary != "" && !strings.HasSuffix(d.Summary, ": "+tc.summary) {
				t.Errorf("summary %q, want %q (%s)", d.Summary, tc.summary, d.Detail)
			}
			if tc.summary == "" && strings.Contains(text, "cluster") {
				t.Errorf("the cluster check refused a pair with no known bug: %s", text)
			}
			for _, w := range tc.want {
				if !strings.Contains(text, w) {
					t.Errorf("%s\nlacks %q", text, w)
				}
			}
			if tc.summary != "" {
				line := versionLine
				if tc.summary == "Master serves slots" {
					line-- // at the node argument
				}
				if d.Subject == nil || d.Subject.Filename != "upgrade.hcl" || d.Subject.Start.Line != line {
					t.Errorf("diagnostic at %v, want upgrade.hcl line %d", d.Subject, line)
				}
				if a := res.Steps[0].Attempts; a > 1 {
					t.Errorf("%d attempts: a refusal is not retried", a)
				}
			}
		})
	}
}
