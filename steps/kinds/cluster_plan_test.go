package kinds_test

import (
	"strings"
	"testing"

	"github.com/understudy/understudy/dsl"
	"github.com/understudy/understudy/steps/kinds"
	"github.com/understudy/understudy/steps/report"
)

// A plan describes cluster_failover by its method and walks the swap when
// it knows the replica's master: after b is promoted, a is b's replica, so
// the second failover names b as the master it finds.
func TestClusterFailoverPlan(t *testing.T) {
	src := `
node "a" {
  address = "127.0.0.1:7001"
}
node "b" {
  address = "127.0.0.1:7002"
}
step "replicate" "attach" {
  replica = node.b
  master  = node.a
}
step "cluster_failover" "promote_b" {
  replica = node.b
}
step "cluster_failover" "back" {
  replica = node.a
  method  = "force"
}
step "cluster_check" "healthy" {
  nodes   = [node.a, node.b]
  version = "7.2"
}
`
	rb, diags := dsl.LoadSource("plan.hcl", []byte(src), dsl.LoadOptions{Kinds: kinds.Registry, Mode: dsl.ModeValidate})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	p := report.BuildPlan(rb, "plan.hcl")
	sends := func(i int) string { return strings.Join(p.Steps[i].Sends, "\n") }
	for _, tc := range []struct {
		step int
		want []string
	}{
		{1, []string{"node.a in the walk", "on a 6.2+ master takeover: CLIENT PAUSE 3s WRITE", "CLUSTER FAILOVER TAKEOVER", "CLIENT UNPAUSE", "on a 6.0 master (no CLIENT PAUSE WRITE) default: CLUSTER FAILOVER"}},
		{2, []string{"node.b in the walk", "CLUSTER FAILOVER FORCE", "CAN LOSE"}},
		{3, []string{"node.a, node.b", "cluster_state ok", "every node on 7.2", "reads only"}},
	} {
		t.Logf("step %d sends:\n%s", tc.step+1, sends(tc.step))
		for _, w := range tc.want {
			if got := sends(tc.step); !strings.Contains(got, w) {
				t.Errorf("step %d sends:\n%s\nwant it to say %q", tc.step+1, got, w)
			}
		}
	}
}
