package steps

import (
	"context"
	"fmt"

	"github.com/zclconf/go-cty/cty"
)

// runRepoint points an endpoint at another node without a hold: what a DNS
// or load-balancer change does on its own.
func runRepoint(ctx context.Context, x *Exec) (cty.Value, error) {
	ep, err := x.Endpoint(x.Step.Args["endpoint"].Ref)
	if err != nil {
		return cty.NilVal, err
	}
	to := x.Step.NodeArg("to")
	addr, err := x.Backend().Address(to)
	if err != nil {
		return cty.NilVal, err
	}
	if err := ep.Repoint(ctx, to, addr); err != nil {
		return cty.NilVal, fmt.Errorf("repoint endpoint %q to %q: %w", x.Step.Args["endpoint"].Ref, to, err)
	}
	return cty.NilVal, nil
}
