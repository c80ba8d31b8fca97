package report

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/understudy/understudy/steps/rehearsal/traffic"
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
	// Errors lists why the run did not pass: failed steps, lost writes,
	// data that differs.
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
	FinalMaster string  `json:"final_master"`
	FinalKeys   int64   `json:"final_keys"`
	Equal       bool    `json:"equal"`
	Method      string  `json:"method"`
}

// WriteFile writes the report as indented JSON.
func (r *Report) WriteFile(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encode report: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
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

// WriteSummary writes the report for a terminal.
func (r *Report) WriteSummary(w io.Writer) {
	fmt.Fprintf(w, "\n%s %s: %s in %.1f s\n", r.Mode, r.Runbook, strings.ToUpper(r.Status), r.DurationMS/1000)
	if len(r.Variables) > 0 {
		keys := make([]string, 0, len(r.Variables))
		for k := range r.Variables {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var parts []string
		for _, k := range keys {
			parts = append(parts, k+"="+r.Variables[k])
		}
		fmt.Fprintf(w, "  variables: %s\n", strings.Join(parts, " "))
	}
	fmt.Fprintln(w, "  steps:")
	for _, s := range r.Steps {
		writeStep(w, s, "")
	}
	for _, s := range r.Rollback {
		writeStep(w, s, "  (rollback)")
	}
	fmt.Fprintln(w, "  nodes:")
	for _, n := range r.Nodes {
		after := n.VersionAfter
		if n.EngineAfter != "" {
			after = n.EngineAfter + " " + after
		}
		fmt.Fprintf(w, "    %-10s %s %s → %s (%s)\n", n.Name, n.Engine, n.VersionBefore, after, n.RoleAfter)
	}
	if d := r.Data; d != nil {
		verdict := "holds them unchanged"
		if !d.Equal {
			verdict = fmt.Sprintf("DIFFERS (%d keys)", d.FinalKeys)
		}
		fmt.Fprintf(w, "  data: %d keys seeded; the final master %q %s (%s)\n", d.SeededKeys, d.FinalMaster, verdict, d.Method)
	}
	if t := r.Traffic; t != nil {
		fmt.Fprintf(w, "  traffic: %d attempted, %d acked, %d failed, %d lost, longest write stall %.1f ms",
			t.Attempted, t.Acked, t.Failed, t.Lost, t.MaxStallMS)
		if t.MaxStallDuring != "" {
			fmt.Fprintf(w, " (after %q)", t.MaxStallDuring)
		}
		fmt.Fprintln(w)
		if len(t.ErrorsByKind) > 0 {
			kinds := make([]string, 0, len(t.ErrorsByKind))
			for k, n := range t.ErrorsByKind {
				kinds = append(kinds, fmt.Sprintf("%s=%d", k, n))
			}
			sort.Strings(kinds)
			fmt.Fprintf(w, "  errors by kind: %s\n", strings.Join(kinds, " "))
		}
	}
	for _, e := range r.Errors {
		fmt.Fprintf(w, "  error: %s\n", e)
	}
}

func writeStep(w io.Writer, s Step, note string) {
	line := fmt.Sprintf("    %-8s %-11s %-22s %3d attempt(s) %9.1f ms", s.Status, s.Kind, s.Name, s.Attempts, s.DurationMS)
	switch {
	case s.MaxStallMS == nil:
	case *s.MaxStallMS == 0:
		line += "   longest write stall    <1 ms"
	default:
		line += fmt.Sprintf("   longest write stall %6.1f ms", *s.MaxStallMS)
	}
	fmt.Fprintln(w, line+note)
}
