package report

import (
	"bytes"
	"github.com/understudy/understudy/dsl"
	"github.com/understudy/understudy/steps/kinds"
	"os"
	"path/filepath"
	"testing"
)

// The plans of the shipped replica-swap runbook, as text and Markdown, for
// the three supported pairs, and of the Sentinel rolling upgrade (its
// groups walked as a rehearsal starts): what a reviewer reads in a pull
// request.
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
