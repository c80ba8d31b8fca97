package rehearsal

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/understudy/understudy/dsl"
	"github.com/understudy/understudy/steps/kinds"
	"github.com/understudy/understudy/steps/rehearsal/container"
)

// A whole rehearsal of the shipped runbook with a known password: it passes,
// and the password appears nowhere in the progress log, the summary or the
// report.
func TestRehearsalNeverPrintsThePassword(t *testing.T) {
	rb, diags := dsl.Load([]string{filepath.Join("..", "..", "runbooks", "replica-swap.hcl")}, dsl.LoadOptions{Kinds: kinds.Registry, Mode: dsl.ModeRehearsal})
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
	if err := rep.Write(&summary, "text"); err != nil {
		t.Fatal(err)
	}
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
`), dsl.LoadOptions{Kinds: kinds.Registry, Mode: dsl.ModeRehearsal})
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

// With connections = "close" the proxy closes the application's connections
// at the switch, as a load balancer does: go-redis reconnects and retries,
// and still no acknowledged write is lost and no error reaches it.
func TestCloseConnectionsOnSwitch(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("..", "..", "runbooks", "replica-swap.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(string(src), "  target  = node.old\n", "  target  = node.old\n  connections = \"close\"\n", 1)
	if text == string(src) {
		t.Fatal("endpoint block not found")
	}
	rb, diags := dsl.LoadSource(filepath.Join(t.TempDir(), "close.hcl"), []byte(text), dsl.LoadOptions{Kinds: kinds.Registry, Mode: dsl.ModeRehearsal})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if rb.Endpoints["app"].Connections != dsl.ConnectionsClose {
		t.Fatalf("connections %q", rb.Endpoints["app"].Connections)
	}
	var log bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	rep, err := Rehearse(ctx, rb, "close.hcl", Options{Keys: 2000, Log: &log, Catalog: container.Catalog{Source: container.SourceLocal}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Status != "passed" || rep.Traffic.Lost != 0 || rep.Traffic.Failed != 0 {
		t.Fatalf("status %s, lost %d, failed %d, errors %v\n%s", rep.Status, rep.Traffic.Lost, rep.Traffic.Failed, rep.Errors, log.String())
	}
	if !strings.Contains(log.String(), "open connections close on a switch") {
		t.Errorf("the log does not say how connections are handled:\n%s", log.String())
	}
	for _, s := range rep.Steps {
		if s.Name == "promote" && s.MaxStallMS != nil {
			t.Logf("closing connections: longest write stall during the switchover %.1f ms", *s.MaxStallMS)
		}
	}
}

// A cluster that a rehearsal cannot build is refused at the runbook line,
// before anything starts: no rehearsal block (no version, no shape), or a
// database other than 0, which a cluster does not have.
func TestCheckRehearsableCluster(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		line      int
		detail    string
	}{
		{"no rehearsal block", `
cluster "cache" {
  nodes = ["127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"]
}
`, 2, "has no rehearsal block"},
		{"databases", `
cluster "cache" {
  nodes = ["127.0.0.1:1"]
  rehearsal {
    version = "7.0"
  }
}
rehearsal {
  databases = [0, 1]
}
`, 8, "only database 0"},
		{"probe database", `
cluster "cache" {
  nodes = ["127.0.0.1:1"]
  rehearsal {
    version = "7.0"
  }
}
rehearsal {
  probe_db = 2
}
`, 8, "only database 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rb, diags := dsl.LoadSource("c.hcl", []byte(tc.src+`
step "cluster_check" "healthy" {
  nodes = cluster.cache.nodes
}
`), dsl.LoadOptions{Kinds: kinds.Registry, Mode: dsl.ModeRehearsal})
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			d := CheckRehearsable(rb)
			if !d.HasErrors() || d[0].Subject == nil || d[0].Subject.Start.Line != tc.line || !strings.Contains(d[0].Detail, tc.detail) {
				t.Errorf("diagnostics: %v, want one at line %d saying %q", d, tc.line, tc.detail)
			}
		})
	}
}
