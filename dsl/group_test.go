package dsl_test

import (
	"slices"
	"testing"

	"github.com/understudy/understudy/dsl"
	"github.com/understudy/understudy/steps/kinds"
)

// A group's steps are among the runbook's steps, marked with their group;
// the static walk repeats them per member a rehearsal starts with (the
// replicas: every data node but the first), binds each.node and
// sentinel.NAME.master, and follows the roles a switchover changes.
func TestGroupWalk(t *testing.T) {
	src := `
sentinel "cache" {
  master_name = "mymaster"
  data_nodes  = ["127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"]
  sentinels   = ["127.0.0.1:4", "127.0.0.1:5", "127.0.0.1:6"]
  rehearsal {
    version = "7.0"
  }
}

group "replicas" {
  for_each = sentinel.cache.replicas
  step "upgrade" "replica" {
    node    = each.node
    version = "8.0"
  }
  step "wait" "synced" {
    until = in_sync(each.node, sentinel.cache.master)
  }
}

step "sentinel_switchover" "failover" {
  deployment = sentinel.cache
}

group "old" {
  for_each = sentinel.cache.replicas
  step "command" "ping" {
    node    = each.node
    command = ["PING"]
  }
}
`
	rb, diags := dsl.LoadSource("walk.hcl", []byte(src), dsl.LoadOptions{Kinds: kinds.Registry, Mode: dsl.ModeValidate})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if len(rb.Steps) != 4 || rb.Steps[0].Group == nil || rb.Steps[0].Group != rb.Steps[1].Group || rb.Steps[2].Group != nil || rb.Steps[3].Group.Name != "old" {
		t.Fatalf("steps: %+v", rb.Steps)
	}
	if got := rb.Steps[0].Args["node"].Ref; got != dsl.RefEach {
		t.Errorf("each.node is kept as %q until the step runs", got)
	}
	var names, nodes []string
	sim := rb.Sim()
	rb.Walk(rb.Steps, sim, func(s *dsl.Step) {
		names = append(names, s.Name)
		nodes = append(nodes, s.NodeArg("node"))
		if s.Decl().Name == "ping" && s.Each == nil {
			t.Errorf("%s has no iteration", s.Name)
		}
		s.Impl.Check(s, sim)
	})
	wantNames := []string{"replica[cache-2]", "synced[cache-2]", "replica[cache-3]", "synced[cache-3]", "failover", "ping[cache-1]", "ping[cache-3]"}
	if !slices.Equal(names, wantNames) {
		t.Errorf("walk: %v, want %v", names, wantNames)
	}
	wantNodes := []string{"cache-2", "", "cache-3", "", "", "cache-1", "cache-3"}
	if !slices.Equal(nodes, wantNodes) {
		t.Errorf("bound nodes: %v, want %v", nodes, wantNodes)
	}
	if v, _ := sim.Version("cache-2"); v.String() != "8.0" {
		t.Errorf("cache-2 after the walk: %s", v)
	}
	if m := sim.MasterOf("cache-1"); m != "cache-2" {
		t.Errorf("cache-1 follows %q after the switchover, want cache-2", m)
	}
}
