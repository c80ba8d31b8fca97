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

// clusterRows are the Cluster rehearsals: the shipped rolling upgrade of a
// 3 × 1 cluster (the write probe through go-redis's cluster client, keys
// over every slot) with each failover method side by side on one pair,
// then the paused takeover on the other pairs.
var clusterRows = []struct {
	from, to, failover string
}{
	{"7.0", "8.0", "takeover"},
	{"7.0", "8.0", "default"},
	{"7.0", "8.0", "force"},
	{"7.0", "valkey:8.1", "takeover"},
	{"6.0", "7.0", "auto"},
}

// runCluster rehearses the Cluster rows and prints one table: lost and
// failed writes, the longest stall of the run and where, the write
// probe's longest stall during each failover, and the wall time.
func runCluster(ctx context.Context, w io.Writer, keys, rate int, catalog container.Catalog, comparer dataset.Comparer) {
	const path = "runbooks/cluster-rolling.hcl"
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "pair\tfailover\tstatus\tacked\tlost\tfailed\tmax stall ms\tlongest stall during\tstall per failover ms\troles swapped after ms\twall s")
	for _, row := range clusterRows {
		vars := []string{"from=" + row.from, "to=" + row.to, "failover=" + row.failover}
		rb, diags := dsl.Load([]string{path}, dsl.LoadOptions{Vars: vars, Mode: dsl.ModeRehearsal, Kinds: kinds.Registry})
		if diags.HasErrors() {
			fail(diags)
		}
		fmt.Fprintf(os.Stderr, "rehearsing %s %s → %s, failover %s ...\n", path, row.from, row.to, row.failover)
		rep, err := rehearsal.Rehearse(ctx, rb, path, rehearsal.Options{Keys: keys, WriteRate: rate, Catalog: catalog, Comparer: comparer})
		if err != nil {
			fail(err)
		}
		method, stalls, swaps := clusterFailovers(rep)
		t := rep.Traffic
		fmt.Fprintf(tw, "%s → %s\t%s\t%s\t%d\t%d\t%d\t%.1f\t%s\t%s\t%s\t%.0f\n",
			row.from, row.to, method, rep.Status, t.Acked, t.Lost, t.Failed, t.MaxStallMS, t.MaxStallStep, stalls, swaps, rep.DurationMS/1000)
		for _, e := range rep.Errors {
			if strings.Contains(e, "lost") {
				fmt.Fprintf(os.Stderr, "  %s: %s\n", row.failover, e)
			}
		}
	}
	tw.Flush()
}

// clusterFailovers reads the failover steps: the method they ran, the
// probe's longest stall in each and how long after the command the roles
// had swapped, each list in the order of the failovers.
func clusterFailovers(rep *report.Report) (method, stalls, swaps string) {
	var st, sw []string
	method = "-"
	for _, s := range rep.Steps {
		if s.Kind != "cluster_failover" {
			continue
		}
		stall := "-"
		if s.MaxStallMS != nil {
			stall = fmt.Sprintf("%.1f", *s.MaxStallMS)
		}
		st = append(st, stall)
		var out struct {
			Method     string  `json:"method"`
			RoleSwapMS float64 `json:"role_swap_ms"`
		}
		if len(s.Output) > 0 && json.Unmarshal(s.Output, &out) == nil && out.Method != "" {
			method = out.Method
			sw = append(sw, fmt.Sprintf("%.1f", out.RoleSwapMS))
		}
	}
	return method, strings.Join(st, " / "), strings.Join(sw, " / ")
}
