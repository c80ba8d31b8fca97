package dsl_test

import (
	"github.com/understudy/understudy/dsl"
	"github.com/understudy/understudy/steps/kinds"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"
)

func TestEnvUnsetWhileValidating(t *testing.T) {
	src := `
node "a" {
  address  = "127.0.0.1:1"
  password = env("UNDERSTUDY_TEST_UNSET_PASSWORD")
}
step "promote" "p" {
  node = node.a
}
`
	r, diags := dsl.LoadSource("x.hcl", []byte(src), dsl.LoadOptions{Kinds: kinds.Registry, Mode: dsl.ModeValidate})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if got := r.MissingEnv(); len(got) != 1 || got[0] != "UNDERSTUDY_TEST_UNSET_PASSWORD" {
		t.Errorf("missing env: %v", got)
	}
	if r.Nodes["a"].Password != "" || !r.Nodes["a"].HasPassword {
		t.Errorf("password %q, has %v", r.Nodes["a"].Password, r.Nodes["a"].HasPassword)
	}
	_, diags = dsl.LoadSource("x.hcl", []byte(src), dsl.LoadOptions{Kinds: kinds.Registry, Mode: dsl.ModeLive})
	if !diags.HasErrors() || !strings.Contains(diags.Error(), "UNDERSTUDY_TEST_UNSET_PASSWORD is not set") {
		t.Errorf("live mode: %v", diags)
	}
}

func TestVarsAndVarFiles(t *testing.T) {
	dir := t.TempDir()
	vf := filepath.Join(dir, "prod.hcl")
	if err := os.WriteFile(vf, []byte("from = \"6.0\"\nto = \"7.0\"\nkeys = 5\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	src := `
variable "from" {}
variable "to" {}
variable "keys" {
  type = number
}
node "a" {
  address = "127.0.0.1:1"
  rehearsal {
    version = var.from
  }
}
step "upgrade" "a" {
  node    = node.a
  version = var.to
}
`
	r, diags := dsl.LoadSource(filepath.Join(dir, "rb.hcl"), []byte(src), dsl.LoadOptions{Kinds: kinds.Registry, VarFiles: []string{vf}, Vars: []string{"to=8.0"}})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if got := r.Steps[0].Args["version"].Version.String(); got != "8.0" {
		t.Errorf("--var must win over --var-file: version %s", got)
	}
	if got := r.Nodes["a"].Rehearsal.Version.String(); got != "6.0" {
		t.Errorf("from the var file: %s", got)
	}
	if v, _ := r.Var("keys"); !v.RawEquals(cty.NumberIntVal(5)) {
		t.Errorf("keys = %#v", v)
	}
	if r.Steps[0].PointOfNoReturn == "" {
		t.Error("an upgrade 6.0 → 8.0 must be a point of no return")
	}
	_, diags = dsl.LoadSource(filepath.Join(dir, "rb.hcl"), []byte(src), dsl.LoadOptions{Kinds: kinds.Registry, VarFiles: []string{vf}, Vars: []string{"keys=many"}})
	if !diags.HasErrors() || !strings.Contains(diags.Error(), "Invalid value for variable") {
		t.Errorf("keys=many: %v", diags)
	}
}

// An empty or malformed version given on the command line is a validate
// error at the line that uses it, not a rehearsal of a default.
func TestEmptyVersionVariable(t *testing.T) {
	for _, to := range []string{"", "8", "eight.oh", "valkey:"} {
		_, diags := dsl.Load([]string{"../runbooks/replica-swap.hcl"}, dsl.LoadOptions{Kinds: kinds.Registry, Mode: dsl.ModeRehearsal, Vars: []string{"to=" + to}})
		if !diags.HasErrors() {
			t.Errorf("to=%q: no error", to)
			continue
		}
		d := diags[0]
		if d.Summary != "Invalid version" || d.Subject == nil || !strings.HasSuffix(d.Subject.Filename, "replica-swap.hcl") {
			t.Errorf("to=%q: %s", to, dsl.DiagnosticLine(d))
		}
	}
}

// An INFO field no supported version reports is an error that suggests the
// closest known field.
func TestUnknownInfoFieldSuggests(t *testing.T) {
	_, diags := dsl.LoadSource("x.hcl", []byte(`
node "a" {
  address = "127.0.0.1:1"
}
step "assert" "link" {
  condition = node.a.info.master_link_stat == "up"
}
`), dsl.LoadOptions{Kinds: kinds.Registry, Mode: dsl.ModeValidate})
	if !diags.HasErrors() || !strings.Contains(diags[0].Detail, `Did you mean "master_link_status"?`) {
		t.Errorf("diagnostics: %v", diags)
	}
}
