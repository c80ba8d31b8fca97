// Package kinds holds the step kinds, one file each: its arguments (Spec),
// its static checks over the simulated versions (Check), what a plan says it
// will do (Describe) and what it does when it runs (Run). registry.go is the
// only list of kinds; the language (package dsl) is handed that list when a
// runbook is loaded and owns none itself.
package kinds
