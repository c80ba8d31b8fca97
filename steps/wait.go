package steps

import (
	"context"

	"github.com/zclconf/go-cty/cty"
)

// runWait does nothing itself: the interpreter re-evaluates the step's until
// condition after every attempt, with back-off, until it holds.
func runWait(context.Context, *Exec) (cty.Value, error) {
	return cty.NilVal, nil
}
