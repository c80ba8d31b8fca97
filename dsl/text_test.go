package dsl_test

import (
	"strings"
	"testing"

	"github.com/understudy/understudy/dsl"
	"github.com/understudy/understudy/steps/kinds"
)

// TestPlanTextHidesWhatEnvReads: a step argument or an exec env entry
// that reads env(), directly or through a local, is shown as written in a
// plan, never with the value it read from the environment.
func TestPlanTextHidesWhatEnvReads(t *testing.T) {
	t.Setenv("PLAN_TEXT_TOKEN", "tok-4f9a2c")
	src := `
locals {
  token = "Bearer ${env("PLAN_TEXT_TOKEN")}"
}

node "a" {
  address = "127.0.0.1:6379"
}

step "exec" "check" {
  command = ["./check.sh", local.token]
  env = {
    TOKEN = env("PLAN_TEXT_TOKEN")
    PLAIN = "visible"
  }
}
`
	for _, mode := range []dsl.Mode{dsl.ModeValidate, dsl.ModeLive} {
		rb, diags := dsl.LoadSource("text.hcl", []byte(src), dsl.LoadOptions{Kinds: kinds.Registry, Mode: mode})
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		s := rb.Steps[0]
		text := rb.ArgText(s.Args["command"]) + "\n" + strings.Join(rb.EnvText(s.Args["env"].Expr), "\n")
		if strings.Contains(text, "tok-4f9a2c") {
			t.Errorf("mode %d: the plan text shows the environment's value:\n%s", mode, text)
		}
		for _, want := range []string{`local.token`, `TOKEN = env("PLAN_TEXT_TOKEN")`, `PLAIN = "visible"`} {
			if !strings.Contains(text, want) {
				t.Errorf("mode %d: the plan text lacks %q:\n%s", mode, want, text)
			}
		}
	}
}
