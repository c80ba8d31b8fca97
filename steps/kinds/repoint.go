package kinds

import (
	"context"
	"fmt"

	"github.com/understudy/understudy/dsl"
	"github.com/understudy/understudy/steps"
	"github.com/understudy/understudy/steps/redis"
	"github.com/zclconf/go-cty/cty"
)

// Repoint points an endpoint at another node without a hold: what a DNS or
// load-balancer change does on its own.
type Repoint struct{ noCheck }

var repointSpec = &dsl.KindSpec{
	Name: "repoint",
	Doc: "Points an endpoint at another node at once, without holding the application or checking replication: " +
		"what a DNS or load-balancer change alone does. Prefer switchover, which is lossless.",
	Args: []dsl.ArgSpec{
		{Name: "endpoint", Type: dsl.ArgEndpoint, Required: true, Doc: "The endpoint to repoint."},
		{Name: "to", Type: dsl.ArgNode, Required: true, Doc: "The node it points at afterwards."},
	},
}

func (Repoint) Spec() *dsl.KindSpec { return repointSpec }

func (Repoint) Describe(s *dsl.Step, sim *redis.Sim) []string {
	return []string{fmt.Sprintf("points endpoint.%s at %s at once, without a hold: writes the old master accepts from then on are not on the new one", s.Args["endpoint"].Ref, nodeText(s, "to", sim))}
}

func (Repoint) Run(ctx context.Context, x *steps.Exec) (cty.Value, error) {
	name := x.Step.Args["endpoint"].Ref
	ep, err := x.Endpoint(name)
	if err != nil {
		return cty.NilVal, err
	}
	to, err := x.Node(x.Step.NodeArg("to"))
	if err != nil {
		return cty.NilVal, err
	}
	if err := ep.Repoint(ctx, to.Name(), to.Address()); err != nil {
		return cty.NilVal, fmt.Errorf("repoint endpoint %q to %q: %w", name, to.Name(), err)
	}
	return cty.NilVal, nil
}

// Resume: run again. Pointing the endpoint at the same node again changes
// nothing; a live endpoint's switch command must allow it (it is given the
// same node and address), as a DNS or load-balancer update does.
func (Repoint) Resume(context.Context, *steps.Exec) (steps.ResumeDecision, cty.Value, error) {
	return steps.ResumeRun, cty.NilVal, nil
}
