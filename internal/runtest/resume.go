package runtest

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/understudy/understudy/dsl"
	"github.com/understudy/understudy/steps"
	"github.com/understudy/understudy/steps/live"
)

// RunResumed is RunLive for a run that continues an earlier one as rs says
// (steps.Options.Resume); the progress, resumed steps included, is logged.
func RunResumed(t *testing.T, rb *dsl.Runbook, rs *steps.Resume, hooks ...steps.Hook) *steps.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	topo := live.New(rb)
	t.Cleanup(func() { _ = topo.Close(context.Background()) })
	var log bytes.Buffer
	opts := steps.Options{Topology: topo, Resume: rs, Hooks: append([]steps.Hook{steps.NewProgress(&log, rb)}, hooks...)}
	res := steps.New(rb, opts).Run(ctx)
	t.Logf("run log:\n%s", log.String())
	return res
}
