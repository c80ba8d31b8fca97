package report

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/understudy/understudy/dsl"
	"github.com/understudy/understudy/steps/kinds"
	"github.com/understudy/understudy/steps/redis"
)

// The plans of the shipped replica-swap runbook, as text and Markdown, for
// the three supported pairs, and of the Sentinel and Cluster rolling
// upgrades (their groups walked as a rehearsal starts; the cluster's
// mixed-version window and point of no return stated): what a reviewer
// reads in a pull request.
func TestPlanGolden(t *testing.T) {
	t.Setenv("REDIS_PASSWORD", "never-printed")
	t.Setenv("SENTINEL_PASSWORD", "never-printed")
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir("../..") // sources read as runbooks/replica-swap.hcl, as a user runs plan
	for _, tc := range []struct{ name, runbook, from, to string }{
		{"replica-swap-6.0-7.0", "runbooks/replica-swap.hcl", "6.0", "7.0"},
		{"replica-swap-7.0-8.0", "runbooks/replica-swap.hcl", "7.0", "8.0"},
		{"replica-swap-7.0-valkey-8.1", "runbooks/replica-swap.hcl", "7.0", "valkey:8.1"},
		{"sentinel-rolling-7.0-8.0", "runbooks/sentinel-rolling.hcl", "7.0", "8.0"},
		{"cluster-rolling-7.0-8.0", "runbooks/cluster-rolling.hcl", "7.0", "8.0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rb, diags := dsl.Load([]string{tc.runbook}, dsl.LoadOptions{Vars: []string{"from=" + tc.from, "to=" + tc.to}, Mode: dsl.ModeLive, Kinds: kinds.Registry})
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			p := BuildPlan(rb, tc.runbook)
			var text, md bytes.Buffer
			if err := writePlanText(&text, p); err != nil {
				t.Fatal(err)
			}
			if err := writePlanMarkdown(&md, p); err != nil {
				t.Fatal(err)
			}
			for _, out := range []struct {
				file string
				got  []byte
			}{{tc.name + ".txt", text.Bytes()}, {tc.name + ".md", md.Bytes()}} {
				if bytes.Contains(out.got, []byte("never-printed")) {
					t.Errorf("%s prints the password", out.file)
				}
				path := filepath.Join(dir, "testdata", "plan", out.file)
				if *update {
					if err := os.WriteFile(path, out.got, 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("%v (go test ./steps/report -run TestPlanGolden -update)", err)
				}
				if !bytes.Equal(out.got, want) {
					t.Errorf("%s differs from the golden file:\n%s", out.file, out.got)
				}
			}
		})
	}
}

// The mixed-version window runs from the first step after which a cluster
// runs two versions to the step after which it runs one again for good, or
// to the end; its point of no return is the first cluster_failover in it
// that has one.
func TestMixedWindow(t *testing.T) {
	v := func(list ...string) []redis.Version {
		var out []redis.Version
		for _, s := range list {
			out = append(out, redis.MustParseVersion(s))
		}
		return out
	}
	steps := func(kinds ...string) []PlanStep {
		var out []PlanStep
		for i, k := range kinds {
			ps := PlanStep{Number: i + 1, Kind: k, Name: fmt.Sprintf("s%d", i+1)}
			if k == clusterFailoverKind && i == 2 {
				ps.PointOfNoReturn = "after it, the old master follows by partial resync only"
			}
			out = append(out, ps)
		}
		return out
	}
	for _, tc := range []struct {
		name  string
		steps []PlanStep
		after [][]redis.Version
		want  string // m.text with plain refs; "" for nil
	}{
		{"never mixed", steps("cluster_check", "cluster_check"), [][]redis.Version{v("7.0"), v("7.0")}, ""},
		{"no versions known", steps("upgrade"), [][]redis.Version{nil}, ""},
		{"rolling", steps("cluster_check", "upgrade", "cluster_failover", "upgrade", "cluster_check"),
			[][]redis.Version{v("7.0"), v("7.0", "8.0"), v("7.0", "8.0"), v("8.0"), v("8.0")},
			`the cluster runs 7.0 and 8.0 from 2 upgrade "s2" to 4 upgrade "s4": 3 step(s), 1 failover(s); mixed-version clusters have known bugs, keep this window short|3 cluster_failover "s3"`},
		{"ends mixed", steps("upgrade", "cluster_check", "upgrade"),
			[][]redis.Version{v("7.0", "8.0"), v("7.0", "8.0"), v("7.0", "valkey:8.1", "8.0")},
			`the cluster runs 7.0, 8.0 and valkey:8.1 from 1 upgrade "s1" to the end of the runbook, which leaves it mixed: 3 step(s), 0 failover(s); mixed-version clusters have known bugs, keep this window short`},
		{"mixed twice", steps("upgrade", "upgrade", "upgrade", "upgrade", "cluster_check"),
			[][]redis.Version{v("7.0", "8.0"), v("8.0"), v("7.0", "8.0"), v("8.0"), v("8.0")},
			`the cluster runs 7.0 and 8.0 from 1 upgrade "s1" to 4 upgrade "s4": 4 step(s), 0 failover(s); mixed-version clusters have known bugs, keep this window short`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := mixedWindow(tc.steps, tc.after)
			if tc.want == "" {
				if m != nil {
					t.Errorf("window %+v, want none", m)
				}
				return
			}
			if m == nil {
				t.Fatal("no window")
			}
			ref := func(r PlanStepRef) string { return fmt.Sprintf("%d %s", r.Number, r.Ref) }
			got := m.text(ref)
			if m.NoReturn != nil {
				got += "|" + ref(*m.NoReturn)
			}
			if got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}
