package report

import (
	"strings"
	"testing"

	"github.com/understudy/understudy/dsl"
	"github.com/understudy/understudy/steps/kinds"
)

// A plan warns about each upgrade step (rollback included) whose node has
// no lifecycle block, and says what the others run live: the command
// resolved, the wait for the version, the timeout.
func TestPlanLifecycle(t *testing.T) {
	src := `node "a" {
  address = "127.0.0.1:6380"
  lifecycle {
    upgrade = ["./docker-node.sh", "upgrade", "redis-{node}", "{address}", "{version}"]
    timeout = "2m"
  }
  rehearsal {
    version = "7.0"
  }
}
node "b" {
  address = "127.0.0.1:6381"
  rehearsal {
    version = "7.0"
  }
}
step "upgrade" "a" {
  node    = node.a
  version = "8.0"
}
step "upgrade" "b" {
  node    = node.b
  version = "8.0"
}
rollback {
  step "upgrade" "b_again" {
    node    = node.b
    version = "8.0"
  }
}
`
	rb, diags := dsl.LoadSource("lifecycle.hcl", []byte(src), dsl.LoadOptions{Kinds: kinds.Registry, Mode: dsl.ModeValidate})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	p := BuildPlan(rb, "lifecycle.hcl")
	want := []string{
		`step upgrade "b" (lifecycle.hcl:21) upgrades node "b", which has no lifecycle block: apply will refuse it; give the node lifecycle { upgrade = [...] } (a rehearsal does not need it)`,
		`step upgrade "b_again" (lifecycle.hcl:26) upgrades node "b", which has no lifecycle block: apply will refuse it; give the node lifecycle { upgrade = [...] } (a rehearsal does not need it)`,
	}
	if got := strings.Join(p.Warnings, "\n"); got != strings.Join(want, "\n") {
		t.Errorf("warnings:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
	if got := MissingLifecycles(rb); len(got) != 2 {
		t.Errorf("MissingLifecycles: %q", got)
	}
	for i, want := range []string{
		`live: runs the lifecycle upgrade command ["./docker-node.sh", "upgrade", "redis-a", "127.0.0.1:6380", "8.0"] (from the runbook's directory), then waits until node.a answers PING and reports 8.0; 2m0s at most for both`,
		`live: refused, node.b has no lifecycle block to upgrade it with (a rehearsal does not need one)`,
	} {
		if sends := p.Steps[i].Sends; len(sends) != 2 || sends[1] != want {
			t.Errorf("step %d sends %q, want its second line %q", i+1, sends, want)
		}
	}
}
