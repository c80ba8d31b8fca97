// Package report holds the data models of what a runbook will do (Plan,
// built from the runbook by each step kind's Describe) and of what a run did
// (Report), apart from their formats. The formats — text for a terminal,
// markdown for a pull-request comment, json for programs — are renderers
// chosen from one registry (format.go); a report's steps carry the same
// descriptions as the plan's.
//
// The Recorder is the interpreter hook that fills a report as steps finish,
// on the run's one time origin. Reports never hold a secret: outputs,
// errors and warnings pass through package redact, and report files are
// written 0600.
package report
