// Package steps runs runbooks: the interpreter, one file per step kind, the
// node contract through which every step reaches a server, and the live
// state that expressions read.
//
// The interpreter (run.go) runs the main steps in order. Each step has a
// deadline (its timeout), repeats with exponential back-off while its until
// condition is false or an attempt fails (retry block), then checks its
// assert blocks. A failure runs the rollback steps and ends the run with
// status "rolled_back", or "failed" when there is no rollback or it failed
// too. Every failure is an hcl.Diagnostic whose range is the runbook line it
// came from.
//
// Expressions that read live state are evaluated at the moment the step runs,
// on every attempt: the interpreter reads INFO from each node the
// expression mentions just before evaluating it (state.go).
//
// Steps never reach a server directly: they go through a Backend (a node's
// client, its address, its upgrade) and an Endpoint (hold, repoint,
// release), so the same step runs against rehearsal containers and live
// nodes alike. The kinds are an explicit registry (registry.go) that must
// name the same kinds as dsl.Kinds.
package steps
