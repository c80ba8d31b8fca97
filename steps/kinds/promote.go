package kinds

import (
	"context"

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
