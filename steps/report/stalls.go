package report

import "github.com/understudy/understudy/steps/traffic"

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
