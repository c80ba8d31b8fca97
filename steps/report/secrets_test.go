package report

import (
	"bytes"
	"strings"
	"testing"

	"github.com/understudy/understudy/dsl"
	"github.com/understudy/understudy/steps/kinds"
)

// A step argument that reads a sensitive variable shows as (sensitive) in
// every plan format.
func TestPlanHidesSensitiveArguments(t *testing.T) {
	const secret = "plan-must-not-show-this"
	rb, diags := dsl.LoadSource("s.hcl", []byte(`
variable "pw" {
  sensitive = true
}
node "a" {
  address  = "127.0.0.1:1"
  password = var.pw
}
step "command" "set" {
  node    = node.a
  command = ["CONFIG", "SET", "masterauth", var.pw]
}
step "exec" "tell" {
  command = ["./notify.sh", "--token", var.pw]
}
`), dsl.LoadOptions{Kinds: kinds.Registry, Mode: dsl.ModeLive, Vars: []string{"pw=" + secret}})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	p := BuildPlan(rb, "s.hcl")
	for _, name := range FormatNames() {
		f, _ := LookupFormat(name)
		var b bytes.Buffer
		if err := f.Plan(&b, p); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(b.String(), secret) {
			t.Errorf("the %s plan shows the secret:\n%s", name, b.String())
		}
		if !strings.Contains(b.String(), "(sensitive)") {
			t.Errorf("the %s plan does not say (sensitive)", name)
		}
	}
}
