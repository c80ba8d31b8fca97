package report

import (
	"fmt"
	"io"
	"strings"
)

// markdownFormat is for a pull-request comment.
var markdownFormat = Format{Name: "markdown", Plan: writePlanMarkdown, Report: writeReportMarkdown}

func writePlanMarkdown(w io.Writer, p *Plan) error {
	ew := &errWriter{w: w}
	ew.printf("### understudy plan: `%s`\n\n", p.Runbook)
	if len(p.Variables) > 0 {
		ew.printf("| variable | value |\n|---|---|\n")
		for _, v := range p.Variables {
			ew.printf("| `%s` | `%s` |\n", v.Name, v.Value)
		}
		ew.printf("\n")
	}
	ew.printf("| node | address | auth | rehearsal |\n|---|---|---|---|\n")
	for _, n := range p.Nodes {
		ew.printf("| `%s` | `%s` | %s | %s |\n", n.Name, n.Address, n.Auth, n.Rehearsal)
	}
	for _, e := range p.Endpoints {
		ew.printf("\nEndpoint `%s` → `%s`, open connections: %s on a switch (rehearsal)", e.Name, e.Target, e.Connections)
		if e.Switch != "" {
			ew.printf(" (switch: `%s`)", e.Switch)
		}
		ew.printf("\n")
	}
	for _, d := range p.Sentinels {
		ew.printf("\nSentinel deployment `%s`: master name `%s`, data nodes `%s`, sentinels `%s`\n", d.Name, d.MasterName, strings.Join(d.DataNodes, "`, `"), strings.Join(d.Sentinels, "`, `"))
		if d.Rehearsal != "" {
			ew.printf("- rehearsal: %s\n", d.Rehearsal)
		}
	}
	for _, c := range p.Clusters {
		ew.printf("\nCluster `%s`: nodes `%s` (roles read from `CLUSTER NODES` when each group starts)\n", c.Name, strings.Join(c.Nodes, "`, `"))
		if c.Rehearsal != "" {
			ew.printf("- rehearsal: %s\n", c.Rehearsal)
		}
		if m := c.Mixed; m != nil {
			ref := func(r PlanStepRef) string { return fmt.Sprintf("step %d (`%s`)", r.Number, r.Ref) }
			ew.printf("- mixed versions: %s\n", m.text(ref))
			if m.NoReturn != nil {
				ew.printf("- :warning: **point of no return** for the cluster: %s\n", m.noReturnText(ref))
			}
		}
	}
	if w := p.Workload; w != nil {
		ew.printf("\n#### Workload (rehearsal)\n")
		ew.printf("`%s`, from before the first step to after the last (SIGTERM, then SIGKILL after %s) — `%s`\n", w.Command, w.GracePeriod, w.Source)
		if w.Description != "" {
			ew.printf("\n%s\n", w.Description)
		}
		for _, e := range w.Env {
			ew.printf("- env `%s`\n", e)
		}
	}
	ew.printf("\n#### Steps\n")
	writeMarkdownSteps(ew, p.Steps)
	if len(p.Rollback) > 0 {
		ew.printf("\n#### Rollback\n")
		writeMarkdownSteps(ew, p.Rollback)
	}
	for _, warn := range p.Warnings {
		ew.printf("\n> **Warning:** %s\n", warn)
	}
	return ew.err
}

func writeMarkdownSteps(ew *errWriter, steps []PlanStep) {
	for _, s := range steps {
		ew.printf("%d. **%s** `%s` — `%s`, timeout %s, on failure %s\n", s.Number, s.Kind, s.Name, s.Source, s.Timeout, s.OnFailure)
		if s.Group != "" {
			ew.printf("   - in %s\n", s.Group)
		}
		if s.When != "" {
			ew.printf("   - only when: `%s`\n", s.When)
		}
		for _, l := range s.Sends {
			ew.printf("   - %s\n", l)
		}
		if s.Until != "" {
			ew.printf("   - until: `%s`\n", s.Until)
		}
		for _, a := range s.Asserts {
			ew.printf("   - assert: `%s`\n", a)
		}
		if s.PointOfNoReturn != "" {
			ew.printf("   - :warning: **point of no return**: %s\n", s.PointOfNoReturn)
		}
	}
}

func writeReportMarkdown(w io.Writer, r *Report) error {
	ew := &errWriter{w: w}
	ew.printf("### understudy %s: `%s` — **%s**\n\n", r.Mode, r.Runbook, strings.ToUpper(r.Status))
	if r.Interrupted != "" {
		ew.printf("Interrupted: %s.\n\n", r.Interrupted)
	}
	if r.RollbackStatus != "" {
		ew.printf("Rollback: %s.\n\n", r.RollbackStatus)
	}
	ew.printf("| # | step | kind | status | attempts | ms | longest write stall |\n|---|---|---|---|---|---|---|\n")
	row := func(i int, s Step, prefix string) {
		stall := ""
		switch {
		case s.MaxStallMS == nil:
		case *s.MaxStallMS == 0:
			stall = "<1 ms"
		default:
			stall = fmt.Sprintf("%.1f ms", *s.MaxStallMS)
		}
		ew.printf("| %s%d | `%s` | %s | %s | %d | %.1f | %s |\n", prefix, i+1, s.Name, s.Kind, s.Status, s.Attempts, s.DurationMS, stall)
	}
	for i, s := range r.Steps {
		row(i, s, "")
	}
	for i, s := range r.Rollback {
		row(i, s, "rollback ")
	}
	if t := r.Traffic; t != nil {
		ew.printf("\nTraffic: %d attempted, %d acked, %d failed, **%d lost**, longest write stall %.1f ms.\n", t.Attempted, t.Acked, t.Failed, t.Lost, t.MaxStallMS)
		for _, f := range r.Followed() {
			ew.printf("%s.\n", strings.ToUpper(f[:1])+f[1:])
		}
	}
	if d := r.Data; d != nil {
		ew.printf("\nData: %d keys seeded; the final master `%s` holds them unchanged: %v (%s; expiries equal within %d ms).\n", d.SeededKeys, d.FinalMaster, d.Equal, d.Method, d.TTLToleranceMS)
		if d.Seed != "" {
			ew.printf("Seed: %s.\n", d.Seed)
		}
		for _, n := range d.Notes {
			ew.printf("- note: %s\n", n)
		}
	}
	if wl := r.Workload; wl != nil {
		ew.printf("\nWorkload `%s`: %s.\n", wl.Command, wl.Summary())
		if wl.Error != "" {
			ew.printf("%s\n", wl.Error)
		}
		if wl.OutputTail != "" {
			// A fence in the output would end the code block.
			ew.printf("\n<details><summary>workload output (last lines)</summary>\n\n```\n%s\n```\n</details>\n", strings.ReplaceAll(strings.Join(tailLines(wl.OutputTail, 20), "\n"), "```", "'''"))
		}
	}
	for _, wn := range r.Warnings {
		ew.printf("\n> **Warning:** %s\n", wn)
	}
	for _, e := range r.Errors {
		ew.printf("\n> **Error:** %s\n", e)
	}
	return ew.err
}
