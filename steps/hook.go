package steps

import (
	"github.com/understudy/understudy/dsl"
)

// HookAction tells the interpreter what to do after a hook ran.
type HookAction int

const (
	// HookContinue lets the run go on.
	HookContinue HookAction = iota
	// HookHalt stops the run: the current step fails with the hook's
	// error, and the run ends as after any failure (rollback included).
	HookHalt
)

// Hook hears the interpreter's events and may halt the run, in the manner
// of Terraform's terraform.Hook. Progress lines, reports, the write probe's
// step marks, and later the journal and the lock renewal are hooks.
// Embed NilHook to implement only some methods.
type Hook interface {
	// PreStep is called before a step is considered (its when condition
	// not yet evaluated).
	PreStep(s *dsl.Step) (HookAction, error)
	// PreAttempt is called before each attempt of a step.
	PreAttempt(s *dsl.Step, attempt int) (HookAction, error)
	// PostAttempt is called after each attempt; err is its failure or nil.
	PostAttempt(s *dsl.Step, attempt int, err error) (HookAction, error)
	// PostStep is called once a step has its result.
	PostStep(r *StepResult) (HookAction, error)
	// Message is a line a step says about its work ("switched: paused
	// 1.2 ms"); it is progress, not a result.
	Message(s *dsl.Step, text string)
	// PreRollback is called before the rollback steps run, with the
	// result of the step whose failure (or interruption) caused it.
	PreRollback(cause *StepResult) (HookAction, error)
	// PostRollback is called after the rollback with its status
	// (StatusRolledBack or StatusFailed).
	PostRollback(status string) (HookAction, error)
	// PostRun is called once, with the run's result.
	PostRun(r *Result)
}

// GroupHook is a Hook that also hears when a group starts, with the
// members it iterates over: read from the nodes (CLUSTER NODES, the
// sentinels), or on a resumed run those the earlier run iterated over
// (Resume.Groups). The journal records them, so that a run resumed after a
// failover iterates over the same members, not over the roles the failover
// made (the promoted replica is not failed over again).
type GroupHook interface {
	Hook
	PreGroup(g *dsl.Group, members []string)
}

// NilHook does nothing and always continues.
type NilHook struct{}

var _ Hook = NilHook{}

func (NilHook) PreStep(*dsl.Step) (HookAction, error)                 { return HookContinue, nil }
func (NilHook) PreAttempt(*dsl.Step, int) (HookAction, error)         { return HookContinue, nil }
func (NilHook) PostAttempt(*dsl.Step, int, error) (HookAction, error) { return HookContinue, nil }
func (NilHook) PostStep(*StepResult) (HookAction, error)              { return HookContinue, nil }
func (NilHook) Message(*dsl.Step, string)                             {}
func (NilHook) PreRollback(*StepResult) (HookAction, error)           { return HookContinue, nil }
func (NilHook) PostRollback(string) (HookAction, error)               { return HookContinue, nil }
func (NilHook) PostRun(*Result)                                       {}

// hooks calls every hook in order; the first halt wins.
type hooks []Hook

func (hs hooks) each(fn func(Hook) (HookAction, error)) (HookAction, error) {
	for _, h := range hs {
		if a, err := fn(h); a == HookHalt {
			return HookHalt, err
		}
	}
	return HookContinue, nil
}
