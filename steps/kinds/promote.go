package kinds

import (
	"context"
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/understudy/understudy/dsl"
	"github.com/understudy/understudy/steps"
	"github.com/understudy/understudy/steps/redis"
	"github.com/zclconf/go-cty/cty"
)

// Promote promotes a replica with REPLICAOF NO ONE.
type Promote struct{}

var promoteSpec = &dsl.KindSpec{
	Name: "promote",
	Doc:  "Promotes a replica to master (REPLICAOF NO ONE).",
	Args: []dsl.ArgSpec{
		{Name: "node", Type: dsl.ArgNode, Required: true, Doc: "The replica to promote."},
	},
}

func (Promote) Spec() *dsl.KindSpec { return promoteSpec }

func (Promote) Check(s *dsl.Step, sim *redis.Sim) hcl.Diagnostics {
	sim.Detach(s.NodeArg("node"))
	return nil
}

func (Promote) Describe(s *dsl.Step, sim *redis.Sim) []string {
	return []string{"REPLICAOF NO ONE to " + nodeText(s, "node", sim)}
}

func (Promote) Run(ctx context.Context, x *steps.Exec) (cty.Value, error) {
	n, c, err := x.NodeArg("node")
	if err != nil {
		return cty.NilVal, err
	}
	return cty.NilVal, redis.Promote(ctx, c, n.Name())
}

// Resume: done when the node is already a master; else run again
// (REPLICAOF NO ONE). The step names no old master, so whether the old
// master still takes writes is for the runbook's next steps to check, as
// after any promotion.
func (Promote) Resume(ctx context.Context, x *steps.Exec) (steps.ResumeDecision, cty.Value, error) {
	n, c, err := x.NodeArg("node")
	if err != nil {
		return steps.ResumeRefuse, cty.NilVal, err
	}
	info, err := redis.ReadInfo(ctx, c, "replication")
	if err != nil {
		return steps.ResumeRefuse, cty.NilVal, fmt.Errorf("INFO replication on %q: %w", n.Name(), err)
	}
	if info["role"] == "master" {
		x.Log("%s is already a master", n.Name())
		return steps.ResumeDone, cty.NilVal, nil
	}
	return steps.ResumeRun, cty.NilVal, nil
}
