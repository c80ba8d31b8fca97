package report

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
)

// textFormat is for a terminal.
var textFormat = Format{Name: "text", Plan: writePlanText, Report: writeReportText}

func writePlanText(w io.Writer, p *Plan) error {
	ew := &errWriter{w: w}
	ew.printf("Plan for %s\n\n", p.Runbook)
	if len(p.Variables) > 0 {
		ew.printf("Variables:\n")
		for _, v := range p.Variables {
			ew.printf("  %s = %s\n", v.Name, v.Value)
		}
		ew.printf("\n")
	}
	ew.printf("Nodes:\n")
	for _, n := range p.Nodes {
		ew.printf("  %-10s address %s, auth %s", n.Name, n.Address, n.Auth)
		if n.Rehearsal != "" {
			ew.printf(", rehearsal %s", n.Rehearsal)
		}
		ew.printf("\n")
	}
	if len(p.Endpoints) > 0 {
		ew.printf("\nEndpoints:\n")
		for _, e := range p.Endpoints {
			ew.printf("  %-10s target %s, open connections %s on a switch (rehearsal)", e.Name, e.Target, e.Connections)
			if e.Switch != "" {
				ew.printf(", switch command: %s", e.Switch)
			}
			ew.printf("\n")
		}
	}
	for _, d := range p.Sentinels {
		ew.printf("\nSentinel deployment %s: master name %q, data nodes %s, sentinels %s; clients find the master through the sentinels\n",
			d.Name, d.MasterName, strings.Join(d.DataNodes, ", "), strings.Join(d.Sentinels, ", "))
		if d.Rehearsal != "" {
			ew.printf("  rehearsal: %s\n", d.Rehearsal)
		}
	}
	for _, c := range p.Clusters {
		ew.printf("\nCluster %s: nodes %s; their roles are read from CLUSTER NODES when each group starts\n", c.Name, strings.Join(c.Nodes, ", "))
		if c.Rehearsal != "" {
			ew.printf("  rehearsal: %s\n", c.Rehearsal)
		}
		if m := c.Mixed; m != nil {
			ref := func(r PlanStepRef) string { return fmt.Sprintf("step %d (%s)", r.Number, r.Ref) }
			ew.printf("  mixed versions: %s\n", m.text(ref))
			if m.NoReturn != nil {
				ew.printf("  !! POINT OF NO RETURN for the cluster: %s\n", m.noReturnText(ref))
			}
		}
	}
	if w := p.Workload; w != nil {
		ew.printf("\nWorkload (rehearsal: runs through the endpoint from before the first step to after the last; %s):\n", w.Source)
		if w.Description != "" {
			ew.printf("  %s\n", w.Description)
		}
		ew.printf("  runs locally: %s\n", w.Command)
		for _, e := range w.Env {
			ew.printf("  env %s\n", e)
		}
		ew.printf("  stopped after the last step: SIGTERM, then SIGKILL after %s\n", w.GracePeriod)
	}
	ew.printf("\nSteps:\n")
	writeTextSteps(ew, p.Steps)
	if len(p.Rollback) > 0 {
		ew.printf("\nRollback (runs when a step fails):\n")
		writeTextSteps(ew, p.Rollback)
	} else {
		ew.printf("\nNo rollback block: a failure stops the run where it is.\n")
	}
	for _, warn := range p.Warnings {
		ew.printf("\nWarning: %s\n", warn)
	}
	return ew.err
}

func writeTextSteps(ew *errWriter, steps []PlanStep) {
	for _, s := range steps {
		ew.printf("  %d. %s %q  (%s, timeout %s, on failure: %s)\n", s.Number, s.Kind, s.Name, s.Source, s.Timeout, s.OnFailure)
		if s.Group != "" {
			ew.printf("     in %s\n", s.Group)
		}
		if s.Description != "" {
			ew.printf("     %s\n", s.Description)
		}
		if s.When != "" {
			ew.printf("     only when (live): %s\n", s.When)
		}
		for _, l := range s.Sends {
			ew.printf("     - %s\n", l)
		}
		if s.Until != "" {
			ew.printf("     until (live): %s\n", s.Until)
		}
		for _, a := range s.Asserts {
			ew.printf("     assert (live): %s\n", a)
		}
		if s.PointOfNoReturn != "" {
			ew.printf("     !! POINT OF NO RETURN: %s\n", s.PointOfNoReturn)
		}
	}
}

func writeReportText(w io.Writer, r *Report) error {
	ew := &errWriter{w: w}
	ew.printf("\n%s %s: %s in %.1f s\n", r.Mode, r.Runbook, strings.ToUpper(r.Status), r.DurationMS/1000)
	if r.Interrupted != "" {
		ew.printf("  interrupted: %s\n", r.Interrupted)
	}
	if r.RollbackStatus != "" {
		ew.printf("  rollback: %s\n", r.RollbackStatus)
	}
	if len(r.Variables) > 0 {
		var parts []string
		for _, k := range slices.Sorted(maps.Keys(r.Variables)) {
			parts = append(parts, k+"="+r.Variables[k])
		}
		ew.printf("  variables: %s\n", strings.Join(parts, " "))
	}
	ew.printf("  steps:\n")
	for _, s := range r.Steps {
		writeStep(ew, s, "")
	}
	for _, s := range r.Rollback {
		writeStep(ew, s, "  (rollback)")
	}
	ew.printf("  nodes:\n")
	for _, n := range r.Nodes {
		after := n.VersionAfter
		if n.EngineAfter != "" {
			after = n.EngineAfter + " " + after
		}
		ew.printf("    %-10s %s %s → %s (%s)\n", n.Name, n.Engine, n.VersionBefore, after, n.RoleAfter)
	}
	if d := r.Data; d != nil {
		verdict := "holds them unchanged"
		if !d.Equal {
			verdict = fmt.Sprintf("DIFFERS (%d keys)", d.FinalKeys)
		}
		ew.printf("  data: %d keys seeded; the final master %q %s (%s; expiries equal within %d ms)\n", d.SeededKeys, d.FinalMaster, verdict, d.Method, d.TTLToleranceMS)
		if d.Seed != "" {
			ew.printf("    seed: %s\n", d.Seed)
		}
		for _, n := range d.Notes {
			ew.printf("    note: %s\n", n)
		}
	}
	if t := r.Traffic; t != nil {
		ew.printf("  traffic: %d attempted, %d acked, %d failed, %d lost, longest write stall %.1f ms",
			t.Attempted, t.Acked, t.Failed, t.Lost, t.MaxStallMS)
		if t.MaxStallStep != "" {
			ew.printf(" (during %q)", t.MaxStallStep)
		}
		ew.printf("\n")
		for _, f := range r.Followed() {
			ew.printf("  %s\n", f)
		}
		if len(t.ErrorsByKind) > 0 {
			var kinds []string
			for _, k := range slices.Sorted(maps.Keys(t.ErrorsByKind)) {
				kinds = append(kinds, fmt.Sprintf("%s=%d", k, t.ErrorsByKind[k]))
			}
			ew.printf("  errors by kind: %s\n", strings.Join(kinds, " "))
		}
	}
	if wl := r.Workload; wl != nil {
		ew.printf("  workload: %s (%s)\n", wl.Summary(), wl.Command)
		if wl.Error != "" {
			ew.printf("    %s\n", wl.Error)
		}
		if wl.OutputTail != "" {
			ew.printf("    last output:\n")
			for _, l := range tailLines(wl.OutputTail, 10) {
				ew.printf("    | %s\n", l)
			}
		}
	}
	for _, wn := range r.Warnings {
		ew.printf("  warning: %s\n", wn)
	}
	for _, e := range r.Errors {
		ew.printf("  error: %s\n", e)
	}
	return ew.err
}

func writeStep(ew *errWriter, s Step, note string) {
	line := fmt.Sprintf("    %-11s %-11s %-22s %3d attempt(s) %9.1f ms", s.Status, s.Kind, s.Name, s.Attempts, s.DurationMS)
	switch {
	case s.MaxStallMS == nil:
	case *s.MaxStallMS == 0:
		line += "   longest write stall    <1 ms"
	default:
		line += fmt.Sprintf("   longest write stall %6.1f ms", *s.MaxStallMS)
	}
	if len(s.Warnings) > 0 {
		line += fmt.Sprintf("   %d warning(s)", len(s.Warnings))
	}
	ew.printf("%s%s\n", line, note)
}

// errWriter keeps the first write error.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, args ...any) {
	if e.err == nil {
		_, e.err = fmt.Fprintf(e.w, format, args...)
	}
}
