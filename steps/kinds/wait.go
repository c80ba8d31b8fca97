package kinds

import (
	"context"
	"fmt"
	"time"

	"github.com/understudy/understudy/dsl"
	"github.com/understudy/understudy/steps"
	"github.com/understudy/understudy/steps/redis"
	"github.com/zclconf/go-cty/cty"
)

// Wait does nothing itself: the interpreter re-evaluates the step's until
// condition after every attempt, with back-off, until it holds.
type Wait struct{ noCheck }

var waitSpec = &dsl.KindSpec{
	Name:           "wait",
	Doc:            "Waits, with back-off, until the until condition holds or the timeout passes.",
	DefaultTimeout: 10 * time.Minute,
	NeedsUntil:     true,
}

func (Wait) Spec() *dsl.KindSpec { return waitSpec }

func (Wait) Describe(s *dsl.Step, _ *redis.Sim) []string {
	return []string{fmt.Sprintf("re-reads live state with back-off (%s to %s) until the condition holds, for at most %s", s.Retry.Interval, s.Retry.MaxInterval, s.Timeout)}
}

func (Wait) Run(context.Context, *steps.Exec) (cty.Value, error) { return cty.NilVal, nil }
