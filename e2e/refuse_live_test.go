package e2e

import (
	"bytes"
	"context"
	"github.com/understudy/understudy/steps/redis"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/understudy/understudy/dsl"
	"github.com/understudy/understudy/steps"
	"github.com/understudy/understudy/steps/kinds"
	"github.com/understudy/understudy/steps/live"
	"github.com/understudy/understudy/steps/rehearsal/container"
)

// Against live nodes whose versions the runbook does not state, the
// replicate step reads them from INFO and refuses an 8.0 master with a 7.0
// replica before writing anything: the would-be replica keeps its role and
// its data.
func TestReplicateRefusedAtRunTime(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	session := container.NewSessionID()
	defer func() { _ = container.RemoveSession(context.WithoutCancel(ctx), session) }()
	master, err := container.Run(ctx, "master", redis.MustParseVersion("8.0"), container.WithSession(session))
	if err != nil {
		t.Fatal(err)
	}
	replica, err := container.Run(ctx, "replica", redis.MustParseVersion("7.0"), container.WithSession(session), container.WithPassword(master.Password()))
	if err != nil {
		t.Fatal(err)
	}
	rc := replica.Client()
	defer rc.Close()
	if err := rc.Set(ctx, "precious", "data", 0).Err(); err != nil {
		t.Fatal(err)
	}

	src := `
variable "master" {}
variable "replica" {}
variable "password" {
  sensitive = true
}
node "master" {
  address  = var.master
  password = var.password
}
node "replica" {
  address  = var.replica
  password = var.password
}
step "replicate" "attach" {
  replica = node.replica
  master  = node.master
}
`
	path := filepath.Join(t.TempDir(), "live.hcl")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	rb, diags := dsl.Load([]string{path}, dsl.LoadOptions{Mode: dsl.ModeLive, Kinds: kinds.Registry, Vars: []string{
		"master=" + master.Addr(), "replica=" + replica.Addr(), "password=" + master.Password(),
	}})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	topo := live.New(rb)
	defer topo.Close(ctx)
	var log bytes.Buffer
	res := steps.New(rb, steps.Options{Topology: topo, Hooks: []steps.Hook{steps.NewProgress(&log, rb)}}).Run(ctx)
	t.Logf("%s", log.String())
	r := res.Steps[0]
	if res.Status != steps.StatusFailed || r.Attempts != 1 || r.Diag == nil {
		t.Fatalf("status %s, attempts %d", res.Status, r.Attempts)
	}
	if !strings.Contains(r.Diag.Summary, "Versions cannot replicate") || !strings.Contains(r.Diag.Detail, "Refused before any write") ||
		!strings.Contains(r.Diag.Detail, "RDB version 12") || r.Diag.Subject.Start.Line != 15 {
		t.Errorf("diagnostic: %s: %s (line %d)", r.Diag.Summary, r.Diag.Detail, r.Diag.Subject.Start.Line)
	}
	if strings.Contains(log.String(), master.Password()) {
		t.Error("the password appears in the log")
	}
	info, err := rc.Info(ctx, "replication").Result()
	if err != nil || !strings.Contains(info, "role:master") {
		t.Errorf("the replica was changed: %v\n%s", err, info)
	}
	if v, err := rc.Get(ctx, "precious").Result(); err != nil || v != "data" {
		t.Errorf("the replica's data: %q %v", v, err)
	}
	for _, n := range []*container.Node{master, replica} {
		if err := n.Terminate(ctx); err != nil {
			t.Error(err)
		}
	}
}
