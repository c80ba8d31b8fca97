package steps

import (
	"context"

	"github.com/zclconf/go-cty/cty"
)

// runAssert checks the step's condition once against live state.
func runAssert(ctx context.Context, x *Exec) (cty.Value, error) {
	var msg = x.Step.Args["error_message"]
	if msg == nil {
		return cty.NilVal, x.checkAssert(ctx, x.Step.Args["condition"].Expr, nil)
	}
	return cty.NilVal, x.checkAssert(ctx, x.Step.Args["condition"].Expr, msg.Expr)
}
