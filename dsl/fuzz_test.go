package dsl_test

import (
	"github.com/understudy/understudy/dsl"
	"github.com/understudy/understudy/steps/kinds"
	"github.com/understudy/understudy/steps/report"
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoadSource feeds arbitrary text to the loader: it must return
// diagnostics, never panic. The fixtures are the seed corpus; go test runs
// them, go test -fuzz=FuzzLoadSource explores further.
func FuzzLoadSource(f *testing.F) {
	for _, pattern := range []string{"testdata/*/*.hcl", "../runbooks/*.hcl", "../runbooks/examples/*.hcl"} {
		files, _ := filepath.Glob(pattern)
		for _, fn := range files {
			b, err := os.ReadFile(fn)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		for _, mode := range []dsl.Mode{dsl.ModeValidate, dsl.ModeRehearsal} {
			r, diags := dsl.LoadSource("fuzz.hcl", src, dsl.LoadOptions{Kinds: kinds.Registry, Mode: mode})
			if r == nil {
				t.Fatal("nil runbook")
			}
			if !diags.HasErrors() {
				_ = report.BuildPlan(r, "fuzz.hcl")
			}
		}
	})
}
