package dsl

import (
	"github.com/understudy/understudy/steps/redis"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

func TestFunctions(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "token.txt"), []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("UNDERSTUDY_TEST_SET", "value")
	r := &Runbook{Dir: dir, envMissing: map[string]bool{}, mode: ModeLive}
	ctx := &hcl.EvalContext{Functions: r.functions(nil)}
	for _, tc := range []struct {
		expr string
		want cty.Value
		err  string
	}{
		{`env("UNDERSTUDY_TEST_SET")`, cty.StringVal("value"), ""},
		{`env("UNDERSTUDY_TEST_UNSET", "fallback")`, cty.StringVal("fallback"), ""},
		{`env("UNDERSTUDY_TEST_UNSET")`, cty.NilVal, "UNDERSTUDY_TEST_UNSET is not set"},
		{`file("token.txt")`, cty.StringVal("s3cret"), ""},
		{`file("missing.txt")`, cty.NilVal, "no such file"},
		{`version_compare("7.0.15", "7.0")`, cty.NumberIntVal(0), ""},
		{`version_compare("6.0.16", "7.0")`, cty.NumberIntVal(-1), ""},
		{`version_compare("8.0.2", "7.0.15")`, cty.NumberIntVal(1), ""},
		{`version_at_least("8.1.1", "valkey:8.1")`, cty.True, ""},
		{`version_at_least("7.0.15", "7.2")`, cty.False, ""},
		{`version_compare("seven", "7.0")`, cty.NilVal, "must be MAJOR.MINOR"},
		{`startswith("7.0.15", "7.0")`, cty.True, ""},
		{`endswith("7.0.15", ".16")`, cty.False, ""},
		{`tonumber("42") + 1`, cty.NumberIntVal(43), ""},
		{`upper(format("%s-%d", "a", 1))`, cty.StringVal("A-1"), ""},
	} {
		t.Run(tc.expr, func(t *testing.T) {
			expr, diags := hclsyntax.ParseExpression([]byte(tc.expr), "test.hcl", hcl.InitialPos)
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			got, diags := expr.Value(ctx)
			if tc.err != "" {
				if !diags.HasErrors() || !strings.Contains(diags.Error(), tc.err) {
					t.Fatalf("got %#v, %v; want an error containing %q", got, diags, tc.err)
				}
				return
			}
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			if !got.RawEquals(tc.want) {
				t.Errorf("got %#v, want %#v", got, tc.want)
			}
		})
	}
}

// While validating, an unset env() makes the value unknown and is reported
// by name, so a plan can be reviewed without the production secrets.
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
	r, diags := LoadSource("x.hcl", []byte(src), LoadOptions{Mode: ModeValidate})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if got := r.MissingEnv(); len(got) != 1 || got[0] != "UNDERSTUDY_TEST_UNSET_PASSWORD" {
		t.Errorf("missing env: %v", got)
	}
	if r.Nodes["a"].Password != "" || !r.Nodes["a"].HasPassword {
		t.Errorf("password %q, has %v", r.Nodes["a"].Password, r.Nodes["a"].HasPassword)
	}
	_, diags = LoadSource("x.hcl", []byte(src), LoadOptions{Mode: ModeLive})
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
	r, diags := LoadSource(filepath.Join(dir, "rb.hcl"), []byte(src), LoadOptions{VarFiles: []string{vf}, Vars: []string{"to=8.0"}})
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
	_, diags = LoadSource(filepath.Join(dir, "rb.hcl"), []byte(src), LoadOptions{VarFiles: []string{vf}, Vars: []string{"keys=many"}})
	if !diags.HasErrors() || !strings.Contains(diags.Error(), "Invalid value for variable") {
		t.Errorf("keys=many: %v", diags)
	}
}

func TestCheckReplication(t *testing.T) {
	for _, tc := range []struct {
		master, replica string
		ok              bool
	}{
		{"6.0", "7.0", true},
		{"7.0", "8.0", true},
		{"7.0", "valkey:8.1", true},
		{"6.0", "valkey:8.1", true},
		{"7.0", "7.0", true},
		{"8.0", "7.0", false},
		{"7.0", "6.0", false},
		{"8.0", "valkey:8.1", false},
		{"valkey:8.1", "7.0", false},
		{"valkey:9.1", "valkey:8.1", false},
	} {
		err := redis.CheckReplication(redis.MustParseVersion(tc.master), redis.MustParseVersion(tc.replica))
		if (err == nil) != tc.ok {
			t.Errorf("%s master, %s replica: %v", tc.master, tc.replica, err)
		}
	}
}
