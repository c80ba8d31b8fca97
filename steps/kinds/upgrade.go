package kinds

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/understudy/understudy/dsl"
	"github.com/understudy/understudy/steps"
	"github.com/understudy/understudy/steps/redis"
	"github.com/zclconf/go-cty/cty"
)

// Upgrade replaces a node's server with another version through the
// topology, keeping its data and address, and checks the version it then
// reports.
type Upgrade struct{}

var upgradeSpec = &dsl.KindSpec{
	Name:           "upgrade",
	Doc:            "Replaces a node's server with another version, keeping its data and address (rehearsal: a new container; live: the node's lifecycle command).",
	DefaultTimeout: 5 * time.Minute,
	Args: []dsl.ArgSpec{
		{Name: "node", Type: dsl.ArgNode, Required: true, Doc: "The node to upgrade."},
		{Name: "version", Type: dsl.ArgVersion, Required: true, Doc: `The version to run: "8.0", "valkey:8.1".`},
	},
}

func (Upgrade) Spec() *dsl.KindSpec { return upgradeSpec }

// Check refuses a version that cannot load the node's data and marks the
// point after which the old version cannot load it back.
func (Upgrade) Check(s *dsl.Step, sim *redis.Sim) hcl.Diagnostics {
	var diags hcl.Diagnostics
	node := s.NodeArg("node")
	to := s.Args["version"].Version
	if n := s.Runbook().Nodes[node]; n != nil && n.Sentinel {
		// A sentinel holds no data: only its configuration file.
		sim.SetVersion(node, to)
		return nil
	}
	if from, ok := sim.Version(node); ok {
		if err := redis.CheckUpgrade(from, to); err != nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Upgrade cannot keep the data",
				Detail:   fmt.Sprintf("Step %s replaces node %q (%s) with %s: %s.", s.Ref(), node, from, to, err),
				Subject:  s.Args["version"].Range.Ptr(),
			})
		} else if redis.CheckUpgrade(to, from) != nil {
			s.PointOfNoReturn = fmt.Sprintf("once %q runs %s it writes RDB version %d, which %s cannot load: going back means restoring a backup", node, to, to.RDBVersion(), from)
		}
	}
	sim.SetVersion(node, to)
	return diags
}

// Describe says what replaces the server: a new container in a rehearsal,
// live the node's lifecycle upgrade command, resolved, and the wait for
// the new version; or that apply refuses the step, the node having no
// lifecycle block.
func (Upgrade) Describe(s *dsl.Step, sim *redis.Sim) []string {
	to := s.Args["version"].Version
	rb, name := s.Runbook(), s.NodeArg("node")
	n := rb.Nodes[name]
	keeps := "its data and address"
	if n != nil && n.Sentinel {
		keeps = "its configuration file (its id, the epochs, the replicas and sentinels it knows) and address"
	}
	out := []string{fmt.Sprintf("replaces the server of %s with %s, keeping %s (rehearsal: a new container)", nodeText(s, "node", sim), to, keeps)}
	if n == nil || n.Lifecycle == nil {
		return append(out, fmt.Sprintf("live: refused, node.%s has no lifecycle block to upgrade it with (a rehearsal does not need one)", name))
	}
	l := n.Lifecycle
	return append(out, fmt.Sprintf("live: runs the lifecycle upgrade command %s (from the runbook's directory), then waits until node.%s answers PING and reports %s; %s at most for both",
		l.Upgrade.Text(rb, n, to.String()), name, to.Series(), l.Timeout))
}

func (Upgrade) Run(ctx context.Context, x *steps.Exec) (cty.Value, error) {
	n, c, err := x.NodeArg("node")
	if err != nil {
		return cty.NilVal, err
	}
	to := x.Step.Args["version"].Version
	from, err := serverVersion(ctx, c, n.Name())
	if err != nil {
		return cty.NilVal, fmt.Errorf("before the upgrade: %w", err)
	}
	if err := n.Upgrade(ctx, to); err != nil {
		return cty.NilVal, fmt.Errorf("upgrade %q %s→%s: %w", n.Name(), from, to, err)
	}
	now, err := serverVersion(ctx, c, n.Name())
	if err != nil {
		return cty.NilVal, fmt.Errorf("after the upgrade: %w", err)
	}
	if now.Engine != to.Engine || now.Series().Compare(to.Series()) != 0 {
		return cty.NilVal, steps.Permanent(steps.ErrorAt(x.Step.Args["version"].Range, "Wrong version after upgrade", "Node %q reports %s after the upgrade, the step asked for %s.", n.Name(), now, to))
	}
	x.Log("%s upgraded %s → %s", n.Name(), from, now)
	return cty.ObjectVal(map[string]cty.Value{
		"from": cty.StringVal(from.String()),
		"to":   cty.StringVal(now.String()),
	}), nil
}

// Resume: done when the node already runs the target version (same engine
// and series); else run again. A node that does not answer (the upgrade
// stopped it) is refused: start it by hand, then resume.
func (Upgrade) Resume(ctx context.Context, x *steps.Exec) (steps.ResumeDecision, cty.Value, error) {
	n, c, err := x.NodeArg("node")
	if err != nil {
		return steps.ResumeRefuse, cty.NilVal, err
	}
	to := x.Step.Args["version"].Version
	now, err := serverVersion(ctx, c, n.Name())
	if err != nil {
		return steps.ResumeRefuse, cty.NilVal, fmt.Errorf("%w (the upgrade may have stopped it: start it by hand, then resume)", err)
	}
	if now.Engine != to.Engine || now.Series().Compare(to.Series()) != 0 {
		return steps.ResumeRun, cty.NilVal, nil
	}
	x.Log("%s already runs %s", n.Name(), now)
	return steps.ResumeDone, cty.ObjectVal(map[string]cty.Value{
		"from": cty.NullVal(cty.String),
		"to":   cty.StringVal(now.String()),
	}), nil
}
