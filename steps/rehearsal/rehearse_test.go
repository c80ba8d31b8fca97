package rehearsal

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/understudy/understudy/dsl"
	"github.com/understudy/understudy/steps/container"
)

// A whole rehearsal of the shipped runbook with a known password: it passes,
// and the password appears nowhere in the progress log, the summary or the
// report.
func TestRehearsalNeverPrintsThePassword(t *testing.T) {
	rb, diags := dsl.Load([]string{filepath.Join("..", "..", "runbooks", "replica-swap.hcl")}, dsl.LoadOptions{Mode: dsl.ModeRehearsal})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	const password = "Sup3r-Secret-Passw0rd-for-this-test"
	var log bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	rep, err := Rehearse(ctx, rb, "replica-swap.hcl", Options{Keys: 2000, WriteRate: 200, Log: &log, Password: password, Catalog: container.Catalog{Source: container.SourceLocal}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Status != "passed" || rep.Traffic.Lost != 0 || !rep.Data.Equal {
		t.Fatalf("status %s, errors %v\n%s", rep.Status, rep.Errors, log.String())
	}
	js, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var summary bytes.Buffer
	rep.WriteSummary(&summary)
	for name, text := range map[string]string{"log": log.String(), "report": string(js), "summary": summary.String()} {
		if strings.Contains(text, password) {
			t.Errorf("the password appears in the %s", name)
		}
	}
}

func TestCheckRehearsable(t *testing.T) {
	rb, diags := dsl.LoadSource("x.hcl", []byte(`
node "a" {
  address = "127.0.0.1:1"
}
step "promote" "p" {
  node = node.a
}
`), dsl.LoadOptions{Mode: dsl.ModeRehearsal})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	d := CheckRehearsable(rb)
	if !d.HasErrors() || d[0].Subject == nil || d[0].Subject.Start.Line != 2 || !strings.Contains(d[0].Detail, "rehearsal block") {
		t.Errorf("diagnostics: %v", d)
	}
	if _, err := Rehearse(context.Background(), rb, "x.hcl", Options{}); err == nil {
		t.Error("Rehearse started a runbook that cannot be rehearsed")
	}
}
