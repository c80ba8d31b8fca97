package steps_test

import (
	"fmt"
	"testing"

	"github.com/understudy/understudy/internal/redistest"
	"github.com/understudy/understudy/internal/runtest"
	"github.com/understudy/understudy/steps"
	"github.com/understudy/understudy/steps/kinds"
	"github.com/zclconf/go-cty/cty"
)

// A resumed run matches a group's iterations by name: an iteration that
// ended is not run again, the one in flight is judged (a command is run
// again only when the operator says so), the rest run; step.NAME after the
// group reads the last iteration.
func TestGroupIterationsResume(t *testing.T) {
	var servers []*redistest.Server
	for range 3 {
		servers = append(servers, redistest.Start(t))
	}
	src := fmt.Sprintf(`
sentinel "cache" {
  master_name = "mymaster"
  data_nodes  = [%q, %q, %q]
  sentinels   = ["127.0.0.1:1"]
  password    = env("GROUP_RESUME_PASSWORD")
}

group "all" {
  for_each = sentinel.cache.data_nodes
  step "command" "mark" {
    node    = each.node
    command = ["INCR", "marks"]
  }
  step "assert" "marked" {
    condition = step.mark.output >= 1 && each.node.keys == 1
  }
}

step "assert" "last" {
  condition = step.mark.output >= 1
}
`, servers[0].Addr, servers[1].Addr, servers[2].Addr)
	t.Setenv("GROUP_RESUME_PASSWORD", servers[0].Password)
	for _, s := range servers[1:] {
		c := s.Client()
		if err := c.ConfigSet(t.Context(), "requirepass", servers[0].Password).Err(); err != nil {
			t.Fatal(err)
		}
		c.Close()
	}
	rb := runtest.LoadWith(t, kinds.Registry, src)
	rs := &steps.Resume{
		Ended: map[string]steps.ResumedStep{
			"mark[cache-1]":   {Status: steps.StatusPassed, Output: cty.NumberIntVal(7), Attempts: 1},
			"marked[cache-1]": {Status: steps.StatusPassed, Attempts: 1},
		},
		InFlight:         "mark[cache-2]",
		InFlightAttempts: 1,
		InFlightAs:       steps.ResumeRun,
	}
	res := runtest.RunResumed(t, rb, rs)
	if res.Status != steps.StatusPassed {
		t.Fatalf("status %s: %v", res.Status, res.Diagnostics)
	}
	runs := map[string]bool{}
	for _, r := range res.Steps {
		runs[r.Step.Name] = !r.Resumed
	}
	want := map[string]bool{"mark[cache-1]": false, "marked[cache-1]": false, "mark[cache-2]": true, "marked[cache-2]": true, "mark[cache-3]": true, "marked[cache-3]": true, "last": true}
	for name, ran := range want {
		if got, ok := runs[name]; !ok || got != ran {
			t.Errorf("%s: ran %v (present %v), want ran %v", name, got, ok, ran)
		}
	}
	// cache-1's INCR was not sent again: the server never saw it.
	c := servers[0].Client()
	defer c.Close()
	if n, err := c.Exists(t.Context(), "marks").Result(); err != nil || n != 0 {
		t.Errorf("cache-1 holds marks (%d, %v): its ended iteration ran again", n, err)
	}
}
