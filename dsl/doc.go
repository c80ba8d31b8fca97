// Package dsl reads understudy runbooks: HCL files that describe the nodes of
// an upgrade, the endpoint the application uses, the ordered steps, their
// assertions and the rollback.
//
// Everything here is static: text in, a validated *Runbook out, and no I/O
// against any server. Decoding follows the HCL guide: the structure of each
// file is decoded first with hand-written schemas (schema.go), then static
// expressions (variables, locals, node settings, step settings) are evaluated,
// while expressions that read live state (node.NAME.info.*, step.NAME.output,
// in_sync(...)) are kept raw as hcl.Expression and evaluated by the
// interpreter (package steps) each time a step runs or retries. Those live
// expressions are still checked at load time: every reference must name a
// declared node, an earlier step or a known attribute, and the expression is
// evaluated with unknown live values so that type errors surface before any
// server is touched.
//
// Step kinds are an explicit registry (kinds.go): each kind declares its own
// arguments; the settings common to every step (description, timeout, until,
// retry, assert, on_failure) are decoded first and the rest of the body by the
// kind's schema, in the manner of packer's hcl2template.
//
// Diagnostics carry source ranges from parse to run time: a Step keeps its
// DeclRange and every expression its own range, so a failure while a step runs
// points at the runbook line it came from.
package dsl
