package dsl

import (
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
	for name, content := range map[string]string{"token.txt": "s3cret\n", "two.txt": "two\n\n", "crlf.txt": "crlf\r\n", "bare.txt": "bare"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
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
		{`file("two.txt")`, cty.StringVal("two\n"), ""},
		{`file("crlf.txt")`, cty.StringVal("crlf"), ""},
		{`file("bare.txt")`, cty.StringVal("bare"), ""},
		{`file("missing.txt")`, cty.NilVal, "cannot read " + filepath.Join(dir, "missing.txt") + ": no such file or directory"},
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
