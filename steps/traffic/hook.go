package traffic

import (
	"github.com/understudy/understudy/dsl"
	"github.com/understudy/understudy/steps"
)

// StepMarks is a steps.Hook that marks each step's start and end on the
// writer's timeline, so that the report shows step boundaries among the
// intervals.
type StepMarks struct {
	steps.NilHook
	W *Writer
}

// PreStep marks the step's start.
func (m *StepMarks) PreStep(s *dsl.Step) (steps.HookAction, error) {
	m.W.Mark(Mark{Step: s.Name, Event: EventStart})
	return steps.HookContinue, nil
}

// PostStep marks the step's end with its status.
func (m *StepMarks) PostStep(res *steps.StepResult) (steps.HookAction, error) {
	m.W.Mark(Mark{Step: res.Step.Name, Event: EventEnd, Status: res.Status})
	return steps.HookContinue, nil
}
