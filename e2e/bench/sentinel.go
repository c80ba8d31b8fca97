package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/understudy/understudy/dsl"
	"github.com/understudy/understudy/steps/dataset"
	"github.com/understudy/understudy/steps/kinds"
	"github.com/understudy/understudy/steps/rehearsal"
	"github.com/understudy/understudy/steps/rehearsal/container"
	"github.com/understudy/understudy/steps/report"
)

// sentinelRows are the Sentinel rehearsals: the shipped rolling upgrade
// (a master, two replicas and three sentinels, the write probe through
// Sentinel with go-redis's failover client) for each pair, next to the
// two unsafe orders it replaces.
var sentinelRows = []struct {
	label, path, from, to, failover string
}{
	{"sentinel-rolling (ours)", "runbooks/sentinel-rolling.hcl", "6.0", "7.0", "auto"},
	{"sentinel-rolling (ours)", "runbooks/sentinel-rolling.hcl", "7.0", "8.0", "auto"},
	{"sentinel-rolling (ours)", "runbooks/sentinel-rolling.hcl", "valkey:8.1", "valkey:9.1", "auto"},
	{"sentinel-rolling, Valkey COORDINATED", "runbooks/sentinel-rolling.hcl", "valkey:8.1", "valkey:9.1", "coordinated"},
	{"plain SENTINEL FAILOVER (unsafe)", "runbooks/examples/unsafe-sentinel-failover.hcl", "7.0", "8.0", ""},
	{"pause, failover, unpause (unsafe)", "runbooks/examples/unsafe-sentinel-pause-failover.hcl", "7.0", "8.0", ""},
}

// runSentinel rehearses the Sentinel rows and prints one table: lost and
// failed writes, the longest stall of the run, and the stall during the
// failover step, which is how long the clients took to follow the new
// master.
func runSentinel(ctx context.Context, w io.Writer, keys, rate int, catalog container.Catalog, comparer dataset.Comparer) {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "pair\trunbook\tstatus\tacked\tlost\tfailed\tmax stall ms\tlongest stall during\tclients followed in ms\tfailover method\told master paused ms\twall s")
	for _, row := range sentinelRows {
		vars := []string{"from=" + row.from, "to=" + row.to}
		if row.failover != "" {
			vars = append(vars, "failover="+row.failover)
		}
		rb, diags := dsl.Load([]string{row.path}, dsl.LoadOptions{Vars: vars, Mode: dsl.ModeRehearsal, Kinds: kinds.Registry})
		if diags.HasErrors() {
			fail(diags)
		}
		fmt.Fprintf(os.Stderr, "rehearsing %s %s → %s ...\n", row.path, row.from, row.to)
		rep, err := rehearsal.Rehearse(ctx, rb, row.path, rehearsal.Options{Keys: keys, WriteRate: rate, Catalog: catalog, Comparer: comparer})
		if err != nil {
			fail(err)
		}
		followed, method, paused := failoverFigures(rep)
		t := rep.Traffic
		fmt.Fprintf(tw, "%s → %s\t%s\t%s\t%d\t%d\t%d\t%.1f\t%s\t%s\t%s\t%s\t%.0f\n",
			row.from, row.to, row.label, rep.Status, t.Acked, t.Lost, t.Failed, t.MaxStallMS, t.MaxStallStep, followed, method, paused, rep.DurationMS/1000)
		for _, e := range rep.Errors {
			if strings.Contains(e, "lost") {
				fmt.Fprintf(os.Stderr, "  %s: %s\n", row.label, e)
			}
		}
	}
	tw.Flush()
}

// failoverFigures reads the failover step: the probe's longest stall in
// it, and for our switchover its method and how long the old master was
// paused.
func failoverFigures(rep *report.Report) (followed, method, paused string) {
	followed, method, paused = "-", "SENTINEL FAILOVER", "-"
	for _, s := range rep.Steps {
		if s.Name != "failover" {
			continue
		}
		if s.MaxStallMS != nil {
			followed = fmt.Sprintf("%.1f", *s.MaxStallMS)
		}
		var out struct {
			Method  string  `json:"method"`
			PauseMS float64 `json:"pause_ms"`
		}
		if len(s.Output) > 0 && json.Unmarshal(s.Output, &out) == nil && out.Method != "" {
			method, paused = out.Method, fmt.Sprintf("%.0f", out.PauseMS)
		}
	}
	return followed, method, paused
}
