package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/understudy/understudy/steps/redact"

	"github.com/understudy/understudy/steps/traffic"
)

// Report is the JSON document of one run.
type Report struct {
	Runbook    string  `json:"runbook"`
	Mode       string  `json:"mode"`
	Status     string  `json:"status"`
	DurationMS float64 `json:"duration_ms"`
	// Variables are the runbook's variables as resolved (sensitive ones
	// are shown as "(sensitive)").
	Variables map[string]string `json:"variables,omitempty"`
	Steps     []Step            `json:"steps"`
	Rollback  []Step            `json:"rollback,omitempty"`
	Nodes     []Node            `json:"nodes"`
	Data      *Data             `json:"data,omitempty"`
	Traffic   *traffic.Report   `json:"traffic,omitempty"`
	// Workload is how the rehearsal's workload went; nil without one.
	Workload *Workload `json:"workload,omitempty"`
	// Interrupted says what a signal interrupted: a step, or the phase of
	// the run after the steps; empty when no signal came.
	Interrupted string `json:"interrupted,omitempty"`
	// RollbackStatus is "rolled_back" or "failed" when the rollback ran.
	RollbackStatus string `json:"rollback_status,omitempty"`
	// Warnings are the warning-only asserts that did not hold.
	Warnings []string `json:"warnings,omitempty"`
	// Errors lists why the run did not pass: failed steps, lost writes,
	// data that differs, an interruption.
	Errors []string `json:"errors,omitempty"`
}

// Step is how one step went.
type Step struct {
	Name       string  `json:"name"`
	Kind       string  `json:"kind"`
	Status     string  `json:"status"`
	Attempts   int     `json:"attempts"`
	DurationMS float64 `json:"duration_ms"`
	// StartMS is when the step started, in ms since the run started.
	StartMS float64 `json:"start_ms"`
	Error   string  `json:"error,omitempty"`
	// MaxStallMS is the longest gap between the write probe's
	// acknowledgements that overlapped the step (0: none of 1 ms or more);
	// absent without a probe.
	MaxStallMS *float64 `json:"max_stall_ms,omitempty"`
	// Output is the step's output as JSON (switchover timings, verify
	// method, a command's reply).
	Output json.RawMessage `json:"output,omitempty"`
	Source string          `json:"source"`
	// Sends is what the step sends or does, as the plan describes it.
	Sends    []string `json:"sends,omitempty"`
	Warnings []string `json:"warnings,omitempty"`
}

// Node is a node before and after the run.
type Node struct {
	Name          string `json:"name"`
	Engine        string `json:"engine"`
	EngineAfter   string `json:"engine_after,omitempty"` // when an upgrade changed it
	VersionBefore string `json:"version_before"`
	VersionAfter  string `json:"version_after"`
	RoleAfter     string `json:"role_after,omitempty"`
	Image         string `json:"image,omitempty"`
}

// Data is the check that the final master holds the data seeded before the
// first step.
type Data struct {
	SeededKeys  int64   `json:"seeded_keys"`
	SeedSeconds float64 `json:"seed_seconds"`
	// Seed describes what was seeded: databases, types, TTLs, streams,
	// big keys, functions, ACL users.
	Seed        string `json:"seed,omitempty"`
	FinalMaster string `json:"final_master"`
	FinalKeys   int64  `json:"final_keys"`
	Equal       bool   `json:"equal"`
	Method      string `json:"method"`
	// TTLToleranceMS is how far a key's expiry on the final master may
	// be from the one seeded: the time its reads took, plus a little.
	TTLToleranceMS int64 `json:"ttl_tolerance_ms"`
	// Notes say what could not be compared (e.g. functions on 6.0).
	Notes []string `json:"notes,omitempty"`
}

// Write renders the report in the named format.
func (r *Report) Write(w io.Writer, format string) error {
	f, err := LookupFormat(format)
	if err != nil {
		return err
	}
	return f.Report(w, r)
}

// FileMode is the mode of report files unless asked otherwise: readable by
// their owner only (a report may describe production nodes).
const FileMode os.FileMode = 0o600

// WriteFile writes the report as JSON with mode FileMode, through secrets:
// every value equal to a secret of the run is redacted.
func (r *Report) WriteFile(path string, secrets *redact.Secrets) error {
	return r.WriteFileMode(path, secrets, FileMode)
}

// WriteFileMode is WriteFile with another file mode.
func (r *Report) WriteFileMode(path string, secrets *redact.Secrets, mode os.FileMode) error {
	var buf bytes.Buffer
	if err := jsonFormat.Report(&buf, r); err != nil {
		return fmt.Errorf("encode report: %w", err)
	}
	if err := os.WriteFile(path, secrets.Bytes(buf.Bytes()), mode); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	// os.WriteFile keeps the mode of a file that exists.
	if err := os.Chmod(path, mode); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

// Read reads a report written by WriteFile.
func Read(path string) (*Report, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("decode report %s: %w", path, err)
	}
	return &r, nil
}
