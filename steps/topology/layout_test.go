package topology_test

import (
	"slices"
	"testing"

	"github.com/understudy/understudy/dsl"
	"github.com/understudy/understudy/steps/kinds"
	"github.com/understudy/understudy/steps/topology"
)

// The standalone layout is data from the runbook: nodes and endpoints sorted
// by name, the versions a rehearsal runs, and which nodes are seeded.
func TestStandaloneLayout(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		seeded    []string
	}{
		{"endpoint targets", `
node "b" {
  address = "127.0.0.1:2"
  rehearsal {
    version = "8.0"
  }
}
node "a" {
  address = "127.0.0.1:1"
  rehearsal {
    version = "7.0"
  }
}
endpoint "app" {
  target = node.a
}
`, []string{"a"}},
		{"explicit seed", `
node "a" {
  address = "127.0.0.1:1"
  rehearsal {
    version = "7.0"
    seed    = false
  }
}
node "b" {
  address = "127.0.0.1:2"
  rehearsal {
    version = "8.0"
    seed    = true
  }
}
endpoint "app" {
  target = node.a
}
`, []string{"b"}},
		{"no endpoint", `
node "b" {
  address = "127.0.0.1:2"
}
node "a" {
  address = "127.0.0.1:1"
}
`, []string{"a"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rb, diags := dsl.LoadSource("l.hcl", []byte(tc.src+`
step "wait" "w" {
  until = true
}
`), dsl.LoadOptions{Kinds: kinds.Registry, Mode: dsl.ModeValidate})
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			l := topology.Standalone(rb)
			if l.Kind != topology.KindStandalone || !slices.Equal(l.NodeNames(), []string{"a", "b"}) {
				t.Errorf("layout %+v", l)
			}
			if got := l.SeedNodes(); !slices.Equal(got, tc.seeded) {
				t.Errorf("seeded %v, want %v", got, tc.seeded)
			}
			if tc.name != "no endpoint" && (l.Nodes[0].Version.String() != "7.0" || !l.Nodes[0].Rehearsable) {
				t.Errorf("node a: %+v", l.Nodes[0])
			}
			if tc.name == "no endpoint" && l.Nodes[0].Rehearsable {
				t.Errorf("a node without a rehearsal block is rehearsable")
			}
		})
	}
}
