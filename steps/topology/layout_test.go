package topology_test

import (
	"slices"
	"strconv"
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

// A cluster's layout in a rehearsal has masters × (1 + replicas) nodes,
// the masters first and seeded, and replica r of master i at index
// masters + r×masters + i.
func TestClusterLayout(t *testing.T) {
	for _, tc := range []struct {
		masters, replicas int
		replicasOf0       []int
		seeded            []string
	}{
		{3, 1, []int{3}, []string{"c-1", "c-2", "c-3"}},
		{3, 2, []int{3, 6}, []string{"c-1", "c-2", "c-3"}},
		{5, 1, []int{5}, []string{"c-1", "c-2", "c-3", "c-4", "c-5"}},
		{3, 0, nil, []string{"c-1", "c-2", "c-3"}},
	} {
		rb, diags := dsl.LoadSource("c.hcl", []byte(`
cluster "c" {
  nodes = ["127.0.0.1:1"]
  rehearsal {
    version  = "7.0"
    masters  = `+strconv.Itoa(tc.masters)+`
    replicas = `+strconv.Itoa(tc.replicas)+`
  }
}
step "cluster_check" "healthy" {
  nodes = cluster.c.nodes
}
`), dsl.LoadOptions{Kinds: kinds.Registry, Mode: dsl.ModeRehearsal})
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		l := topology.For(rb)
		if l.Kind != topology.KindCluster || l.Cluster == nil || l.Cluster.Masters != tc.masters || l.Cluster.Replicas != tc.replicas {
			t.Fatalf("%d×%d: layout %+v", tc.masters, tc.replicas, l)
		}
		if n := len(l.Nodes); n != tc.masters*(1+tc.replicas) {
			t.Errorf("%d×%d: %d nodes", tc.masters, tc.replicas, n)
		}
		if got := l.Cluster.ReplicasOf(0); !slices.Equal(got, tc.replicasOf0) {
			t.Errorf("%d×%d: replicas of master 0 at %v, want %v", tc.masters, tc.replicas, got, tc.replicasOf0)
		}
		if got := l.SeedNodes(); !slices.Equal(got, tc.seeded) {
			t.Errorf("%d×%d: seeded %v, want %v", tc.masters, tc.replicas, got, tc.seeded)
		}
	}
}
