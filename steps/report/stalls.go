package report

import (
	"fmt"
	"slices"

	"github.com/understudy/understudy/steps/traffic"
)

// AttributeStalls gives each step the longest write stall attributed to it:
// every gap between the probe's acknowledgements counts for the one step it
// overlapped most, on the run's one time origin.
func (rep *Report) AttributeStalls(tr *traffic.Report) {
	var windows []traffic.Window
	var targets []*Step
	for _, list := range [][]Step{rep.Steps, rep.Rollback} {
		for i := range list {
			s := &list[i]
			if s.Attempts == 0 {
				continue
			}
			windows = append(windows, traffic.Window{Step: s.Name, FromMS: s.StartMS, ToMS: s.StartMS + s.DurationMS})
			targets = append(targets, s)
		}
	}
	for i, stall := range tr.Attribute(windows) {
		targets[i].MaxStallMS = &stall
	}
}

// masterMoves are the step kinds that move the master role: the write
// probe's longest stall during one is how long the clients took to follow
// the new master.
var masterMoves = []string{"switchover", "sentinel_switchover", "cluster_failover"}

// Followed lists, per step that moved the master role and ran, how long
// the clients took to follow it: the probe's longest stall in the step.
func (rep *Report) Followed() []string {
	var out []string
	for _, s := range append(append([]Step(nil), rep.Steps...), rep.Rollback...) {
		if s.MaxStallMS != nil && s.Status == "passed" && slices.Contains(masterMoves, s.Kind) {
			out = append(out, fmt.Sprintf("clients followed the new master within %.1f ms of step %q (the write probe's longest stall in it)", *s.MaxStallMS, s.Name))
		}
	}
	return out
}
