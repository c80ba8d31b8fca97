// Package steps is the interpreter: it runs a runbook's steps against a
// topology (package topology), whatever backend provides it — the
// rehearsal's containers (package rehearsal) or live nodes (package live).
//
// What lives where:
//
//   - run.go: the run loop. Steps run in order; each has a deadline (its
//     timeout), repeats with exponential back-off while its until condition
//     is false or an attempt fails (retry block), then checks its assert
//     blocks. A failure runs the rollback steps. The verdict never
//     overstates: the run passes only when every step that ran passed (a
//     step with on_failure = "continue" that fails lets the next steps run
//     and the run still fails); a cancelled context (SIGINT, SIGTERM) ends
//     it "interrupted", naming the step, after the rollback.
//   - kind.go: the Kind contract (dsl.Kind plus Run) and the Registry that
//     refuses a kind missing a part. The kinds are in package steps/kinds,
//     one file each, listed once in its registry.go.
//   - hook.go: the Hook interface, in the manner of Terraform's
//     terraform.Hook: before and after each step and attempt, the
//     rollback's start and end, the run's end; a hook may halt the run.
//     Progress lines (progress.go), the report (package report), the write
//     probe's and the canary's step marks (package traffic), the apply
//     journal and the lock (package apply) are hooks.
//   - exec.go: what a kind works with while its step runs (Exec): nodes and
//     endpoints, live evaluation of expressions, Log.
//   - state.go: the live state expressions read. Expressions that read
//     node.NAME.* are evaluated when the step runs, on every attempt: INFO
//     is read from each node they mention, once for all the expressions of
//     one evaluation (an assert's condition and its error_message see the
//     same values).
//   - errors.go: every failure is an hcl.Diagnostic whose range is the
//     runbook line it came from.
package steps
