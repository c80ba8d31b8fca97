// Command bench rehearses the version matrix with the safe replica-swap
// runbook and with the unsafe "promote first, switch later" order, and
// prints per pair the lost and failed writes and the write stalls side by
// side, so the difference is visible in one run on one machine.
//
//	go run ./e2e/bench [-keys N] [-rate N] [-pairs 6.0:7.0,7.0:8.0]
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"text/tabwriter"

	"github.com/understudy/understudy/dsl"
	"github.com/understudy/understudy/steps/kinds"
	"github.com/understudy/understudy/steps/rehearsal"
	"github.com/understudy/understudy/steps/rehearsal/container"
	"github.com/understudy/understudy/steps/report"
)

var runbooks = []struct{ label, path, switchStep string }{
	{"replica-swap (ours)", "runbooks/replica-swap.hcl", "promote"},
	{"promote-first (unsafe)", "runbooks/examples/unsafe-promote-first.hcl", ""},
}

func main() {
	keys := flag.Int("keys", rehearsal.DefaultKeys, "keys to seed")
	rate := flag.Int("rate", rehearsal.DefaultWriteRate, "writes per second")
	pairs := flag.String("pairs", "6.0:7.0,7.0:8.0,7.0:valkey:8.1", "comma-separated from:to pairs")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	catalog, err := container.CatalogFromEnv()
	if err != nil {
		fail(err)
	}
	tw := tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "pair\trunbook\tstatus\tacked\tlost\tfailed\tmax stall ms\tlongest stall during\tswitch stall ms\tapp held ms\tswitch method")
	for _, pair := range strings.Split(*pairs, ",") {
		from, to, ok := strings.Cut(pair, ":")
		if !ok {
			fail(fmt.Errorf("pair %q: write from:to", pair))
		}
		for _, rbk := range runbooks {
			rb, diags := dsl.Load([]string{rbk.path}, dsl.LoadOptions{Vars: []string{"from=" + from, "to=" + to}, Mode: dsl.ModeRehearsal, Kinds: kinds.Registry})
			if diags.HasErrors() {
				fail(diags)
			}
			fmt.Fprintf(os.Stderr, "rehearsing %s %s → %s ...\n", rbk.path, from, to)
			rep, err := rehearsal.Rehearse(ctx, rb, rbk.path, rehearsal.Options{Keys: *keys, WriteRate: *rate, Catalog: catalog})
			if err != nil {
				fail(err)
			}
			held, method, stall := switchFigures(rep, rbk.switchStep)
			t := rep.Traffic
			fmt.Fprintf(tw, "%s → %s\t%s\t%s\t%d\t%d\t%d\t%.1f\t%s\t%s\t%s\t%s\n",
				from, to, rbk.label, rep.Status, t.Acked, t.Lost, t.Failed, t.MaxStallMS, t.MaxStallStep, stall, held, method)
		}
	}
	// One table at the end: the rows of one run, side by side.
	tw.Flush()
}

// switchFigures reads the switchover step's own account of the hold and
// the longest stall the probe saw during it.
func switchFigures(rep *report.Report, step string) (held, method, stall string) {
	for _, s := range rep.Steps {
		if s.Name != step || len(s.Output) == 0 {
			continue
		}
		var out struct {
			Method string  `json:"method"`
			HeldMS float64 `json:"held_ms"`
		}
		if json.Unmarshal(s.Output, &out) == nil {
			stall = "-"
			if s.MaxStallMS != nil {
				stall = fmt.Sprintf("%.1f", *s.MaxStallMS)
			}
			return fmt.Sprintf("%.2f", out.HeldMS), out.Method, stall
		}
	}
	return "-", "promote + repoint", "-"
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench:", err)
	os.Exit(1)
}
