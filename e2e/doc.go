// Package e2e proves understudy end to end: it builds the binary, rehearses
// the shipped runbooks against real containers of the old and new versions,
// and asserts on the JSON reports, the exit codes and the diagnostics.
//
// The tests need a Docker engine and the rehearsal images (make images).
// They never skip: without Docker or an image they fail, so a CI run that
// lacks them is red. Run them with make test or make e2e.
package e2e
