package dsl

import (
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
		for _, mode := range []Mode{ModeValidate, ModeRehearsal} {
			r, diags := LoadSource("fuzz.hcl", src, LoadOptions{Mode: mode})
			if r == nil {
				t.Fatal("nil runbook")
			}
			if !diags.HasErrors() {
				_ = r.BuildPlan("fuzz.hcl")
			}
		}
	})
}
