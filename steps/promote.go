package steps

import (
	"context"
	"fmt"

	"github.com/zclconf/go-cty/cty"
)

// runPromote promotes a replica with REPLICAOF NO ONE.
func runPromote(ctx context.Context, x *Exec) (cty.Value, error) {
	node, c, err := x.NodeArg("node")
	if err != nil {
		return cty.NilVal, err
	}
	if err := c.Do(ctx, "REPLICAOF", "NO", "ONE").Err(); err != nil {
		return cty.NilVal, fmt.Errorf("REPLICAOF NO ONE on %q: %w", node, err)
	}
	return cty.NilVal, nil
}
