package report

import (
	"fmt"
	"strings"
)

// Workload statuses: how the rehearsal's workload ended.
const (
	// WorkloadExited: it exited by itself (ExitCode says how).
	WorkloadExited = "exited"
	// WorkloadStopped: it ran until after the last step and exited on
	// SIGTERM.
	WorkloadStopped = "stopped"
	// WorkloadKilled: it did not exit within the grace period after
	// SIGTERM and was killed.
	WorkloadKilled = "killed"
	// WorkloadNotStarted: its command or env could not be evaluated, or
	// the program could not be started.
	WorkloadNotStarted = "not_started"
)

// Workload is how the rehearsal's workload (rehearsal { workload { ... } })
// went: the application's own program, run through the endpoint from
// before the first step to after the last.
type Workload struct {
	// Command is the program and its arguments as the plan shows them
	// (secrets as (sensitive)).
	Command string `json:"command"`
	// Source is the workload block's file:line.
	Source string `json:"source"`
	Status string `json:"status"`
	// Passed is false when the workload fails the rehearsal: it exited
	// non-zero (or was killed by a signal) by itself, or did not start.
	Passed bool `json:"passed"`
	// ExitCode is the program's exit status; nil when a signal ended it
	// or it did not start.
	ExitCode *int `json:"exit_code,omitempty"`
	// Signal names the signal that ended it, if one did.
	Signal string `json:"signal,omitempty"`
	// StartMS is when it started, in ms since the run started; DurationMS
	// how long it ran.
	StartMS    float64 `json:"start_ms"`
	DurationMS float64 `json:"duration_ms"`
	// Error says why it failed or did not start.
	Error string `json:"error,omitempty"`
	// OutputTail is the end of its standard output and error, interleaved,
	// with every secret of the run redacted.
	OutputTail string `json:"output_tail,omitempty"`
}

// Summary is one line about the workload, for the text and markdown
// reports.
func (w *Workload) Summary() string {
	var how string
	switch w.Status {
	case WorkloadExited:
		how = "exited by itself"
	case WorkloadStopped:
		how = "ran until after the last step, stopped with SIGTERM"
	case WorkloadKilled:
		how = "ran until after the last step, killed: it did not exit within its grace period after SIGTERM"
	case WorkloadNotStarted:
		how = "did not start"
	default:
		how = w.Status
	}
	parts := []string{how}
	if w.Status != WorkloadNotStarted {
		parts = append(parts, fmt.Sprintf("ran %.1f s from %.1f s", w.DurationMS/1000, w.StartMS/1000))
	}
	switch {
	case w.ExitCode != nil:
		parts = append(parts, fmt.Sprintf("exit status %d", *w.ExitCode))
	case w.Signal != "":
		parts = append(parts, "ended by "+w.Signal)
	}
	verdict := "passed"
	if !w.Passed {
		verdict = "FAILED"
	}
	return verdict + ": " + strings.Join(parts, ", ")
}

// tailLines is the last n lines of s.
func tailLines(s string, n int) []string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return lines
}
