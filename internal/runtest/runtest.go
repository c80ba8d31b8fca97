// Package runtest loads runbooks and runs them against live servers (the
// redis-server processes of package redistest) for the tests of the
// interpreter and of the step kinds.
package runtest

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/understudy/understudy/dsl"
	"github.com/understudy/understudy/internal/redistest"
	"github.com/understudy/understudy/steps"
	"github.com/understudy/understudy/steps/kinds"
	"github.com/understudy/understudy/steps/live"
)

// Load writes src to a runbook file and loads it in live mode with vars and
// the registered kinds (or those given).
func Load(t *testing.T, src string, vars ...string) *dsl.Runbook {
	t.Helper()
	return LoadWith(t, kinds.Registry, src, vars...)
}

// LoadWith is Load with another set of kinds.
func LoadWith(t *testing.T, set dsl.KindSet, src string, vars ...string) *dsl.Runbook {
	t.Helper()
	path := filepath.Join(t.TempDir(), "runbook.hcl")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	rb, diags := dsl.Load([]string{path}, dsl.LoadOptions{Vars: vars, Mode: dsl.ModeLive, Kinds: set})
	if diags.HasErrors() {
		var b bytes.Buffer
		_ = rb.WriteDiagnostics(&b, diags, false)
		t.Fatalf("load:\n%s", b.String())
	}
	return rb
}

// Run runs the runbook against its live addresses with the progress hook
// and the given hooks, and logs the progress.
func Run(t *testing.T, ctx context.Context, rb *dsl.Runbook, hooks ...steps.Hook) *steps.Result {
	t.Helper()
	topo := live.New(rb)
	t.Cleanup(func() { _ = topo.Close(context.Background()) })
	var log bytes.Buffer
	res := steps.New(rb, steps.Options{Topology: topo, Hooks: append([]steps.Hook{steps.NewProgress(&log, rb)}, hooks...)}).Run(ctx)
	t.Logf("run log:\n%s", log.String())
	return res
}

// RunLive is Run with a two-minute bound.
func RunLive(t *testing.T, rb *dsl.Runbook, hooks ...steps.Hook) *steps.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	return Run(t, ctx, rb, hooks...)
}

// OneNode declares node "a" from the variables addr and password.
const OneNode = `
variable "addr" {}
variable "password" {
  sensitive = true
}
node "a" {
  address  = var.addr
  password = var.password
}
`

// NodeVars sets the variables of OneNode.
func NodeVars(s *redistest.Server) []string {
	return []string{"addr=" + s.Addr, "password=" + s.Password}
}

// TwoNodes declares nodes "a" and "b" sharing one password.
const TwoNodes = `
variable "a" {}
variable "b" {}
variable "password" {
  sensitive = true
}
node "a" {
  address  = var.a
  password = var.password
}
node "b" {
  address  = var.b
  password = var.password
}
`

// TwoNodeVars sets the variables of TwoNodes.
func TwoNodeVars(a, b *redistest.Server) []string {
	return []string{"a=" + a.Addr, "b=" + b.Addr, "password=" + a.Password}
}

// StartShared starts n servers with one random password, as replicas of
// each other need.
func StartShared(t *testing.T, n int) []*redistest.Server {
	t.Helper()
	pw := redistest.RandomPassword()
	out := make([]*redistest.Server, n)
	for i := range out {
		out[i] = redistest.Start(t, redistest.WithPassword(pw))
	}
	return out
}

// LineOf returns the line of the runbook that holds text.
func LineOf(rb *dsl.Runbook, text string) int {
	for _, f := range rb.Files {
		for i, l := range strings.Split(string(f.Bytes), "\n") {
			if strings.Contains(l, text) {
				return i + 1
			}
		}
	}
	return -1
}
