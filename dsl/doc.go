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
// This package owns no list of step kinds: the caller passes them in
// (LoadOptions.Kinds, normally steps/kinds.Registry), and each kind
// (kind.go's Kind) declares its own arguments, its static checks and its plan
// description. The settings common to every step (description, timeout,
// until, when, retry, assert, on_failure) are decoded first and the rest of
// the body by the kind's schema, in the manner of packer's hcl2template;
// attributes are decoded in source order, so diagnostics come in the order a
// reader meets them. After decoding, the kinds' checks walk the steps in
// order over a simulation of the nodes' versions (redis.Sim): a replica that
// cannot read its master's RDB is refused, the point of no return is marked.
//
// A sentinel block (sentinel.go) declares a Sentinel deployment whose data
// nodes and sentinels become nodes of the runbook; a group block
// (group.go) repeats its steps over a set of them read when the group
// starts (sentinel.NAME.replicas). References known only at run time
// (each.node, sentinel.NAME.master) stay references in the steps; Bind
// resolves them when a step starts, and Walk walks the groups statically
// (their members as a rehearsal starts) for the checks and the plan.
//
// Live values are typed at validate time (node.x.role is a string,
// node.x.keys a number, INFO fields strings), so node.old.role + 1 is an
// error before any server is touched (typecheck.go), and an INFO field no
// supported version reports is an error with the closest name suggested.
//
// Diagnostics carry source ranges from parse to run time: a Step keeps its
// DeclRange and every expression its own range, so a failure while a step runs
// points at the runbook line it came from.
package dsl
