package steps

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/understudy/understudy/dsl"
	"github.com/understudy/understudy/internal/redistest"
	"github.com/zclconf/go-cty/cty"
)

// load writes src to a runbook file and loads it in live mode with vars.
func load(t *testing.T, src string, vars ...string) *dsl.Runbook {
	t.Helper()
	path := filepath.Join(t.TempDir(), "runbook.hcl")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	rb, diags := dsl.Load([]string{path}, dsl.LoadOptions{Vars: vars, Mode: dsl.ModeLive})
	if diags.HasErrors() {
		var b bytes.Buffer
		_ = rb.WriteDiagnostics(&b, diags, false)
		t.Fatalf("load:\n%s", b.String())
	}
	return rb
}

// runLive runs the runbook against live addresses.
func runLive(t *testing.T, rb *dsl.Runbook) *Result {
	t.Helper()
	be := NewLiveBackend(rb)
	t.Cleanup(be.Close)
	var log bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res := New(rb, Options{Backend: be, Log: &log}).Run(ctx)
	t.Logf("run log:\n%s", log.String())
	return res
}

const oneNode = `
variable "addr" {}
variable "password" {
  sensitive = true
}
node "a" {
  address  = var.addr
  password = var.password
}
`

// lineOf returns the line of the runbook that holds text.
func lineOf(rb *dsl.Runbook, text string) int {
	for _, f := range rb.Files {
		for i, l := range strings.Split(string(f.Bytes), "\n") {
			if strings.Contains(l, text) {
				return i + 1
			}
		}
	}
	return -1
}

func nodeVars(s *redistest.Server) []string {
	return []string{"addr=" + s.Addr, "password=" + s.Password}
}

func TestKindRegistriesMatch(t *testing.T) {
	got, want := KindNames(), dsl.KindNames()
	sort.Strings(want)
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("steps runs %v, dsl declares %v", got, want)
	}
}

// until re-runs the action with back-off until the condition holds; the
// step's own output is visible to it.
func TestUntilRetriesTheAction(t *testing.T) {
	s := redistest.Start(t)
	rb := load(t, oneNode+`
step "command" "incr" {
  node    = node.a
  command = ["INCR", "counter"]
  until   = step.incr.output >= 3
  retry {
    interval = "10ms"
  }
}
step "assert" "three" {
  condition = step.incr.output == 3 && node.a.keys == 1
}
`, nodeVars(s)...)
	res := runLive(t, rb)
	if res.Status != StatusPassed {
		t.Fatalf("status %s: %v", res.Status, res.Diagnostics)
	}
	if res.Steps[0].Attempts != 3 {
		t.Errorf("attempts %d, want 3", res.Steps[0].Attempts)
	}
	c := s.Client()
	defer c.Close()
	if n, _ := c.Get(context.Background(), "counter").Int(); n != 3 {
		t.Errorf("counter is %d on the server, want 3", n)
	}
}

// A failed assertion names the runbook line of its condition, evaluates the
// error message from live state, skips the remaining steps and runs the
// rollback.
func TestFailureRunsRollback(t *testing.T) {
	s := redistest.Start(t)
	rb := load(t, oneNode+`
step "command" "mark" {
  node    = node.a
  command = ["SET", "phase", "main"]
}
step "assert" "impossible" {
  condition     = node.a.role == "replica"
  error_message = "node a is a ${node.a.role} with ${node.a.keys} key(s)"
}
step "command" "never" {
  node    = node.a
  command = ["SET", "never", "1"]
}
rollback {
  step "command" "undo" {
    node    = node.a
    command = ["SET", "phase", "rolled back"]
  }
}
`, nodeVars(s)...)
	res := runLive(t, rb)
	if res.Status != StatusRolledBack {
		t.Fatalf("status %s, want rolled_back", res.Status)
	}
	d := res.Steps[1].Diag
	if want := lineOf(rb, `condition     = node.a.role == "replica"`); d == nil || d.Subject == nil || d.Subject.Start.Line != want {
		t.Fatalf("diagnostic %+v does not point at line %d", d, want)
	}
	if !strings.Contains(d.Detail, "node a is a master with 1 key(s)") || !strings.Contains(d.Summary, `assert "impossible"`) {
		t.Errorf("diagnostic: %s / %s", d.Summary, d.Detail)
	}
	if res.Steps[2].Status != StatusSkipped || res.Rollback[0].Status != StatusPassed {
		t.Errorf("statuses: never %s, undo %s", res.Steps[2].Status, res.Rollback[0].Status)
	}
	c := s.Client()
	defer c.Close()
	ctx := context.Background()
	if v, _ := c.Get(ctx, "phase").Result(); v != "rolled back" {
		t.Errorf("phase = %q", v)
	}
	if n, _ := c.Exists(ctx, "never").Result(); n != 0 {
		t.Error("a step after the failure ran")
	}
}

// A wait that never holds fails at its timeout after several attempts; with
// on_failure = "continue" the run goes on, with "abort" no rollback runs.
func TestTimeoutAndOnFailure(t *testing.T) {
	s := redistest.Start(t)
	rb := load(t, oneNode+`
step "wait" "never" {
  until      = node.a.role == "replica"
  timeout    = "400ms"
  on_failure = "continue"
  retry {
    interval     = "20ms"
    max_interval = "50ms"
  }
}
step "command" "after" {
  node       = node.a
  command    = ["NOSUCHCOMMAND"]
  on_failure = "abort"
}
rollback {
  step "command" "undo" {
    node    = node.a
    command = ["SET", "rolled", "back"]
  }
}
`, nodeVars(s)...)
	start := time.Now()
	res := runLive(t, rb)
	if res.Status != StatusFailed || len(res.Rollback) != 0 {
		t.Fatalf("status %s, rollback %d steps; want failed without rollback", res.Status, len(res.Rollback))
	}
	w := res.Steps[0]
	if w.Status != StatusFailed || w.Attempts < 4 || !strings.Contains(w.Diag.Detail, "Timed out after 400ms") {
		t.Errorf("wait: %s after %d attempts: %s", w.Status, w.Attempts, w.Diag.Detail)
	}
	if w.Duration < 400*time.Millisecond || time.Since(start) > 10*time.Second {
		t.Errorf("wait took %s", w.Duration)
	}
	if d := res.Steps[1].Diag; d == nil || !strings.Contains(d.Detail, "NOSUCHCOMMAND") || !strings.Contains(d.Detail, "unknown command") {
		t.Errorf("command error: %+v", d)
	}
}

// when skips a step whose condition is false; a step that did not run
// reads as status "pending".
func TestWhen(t *testing.T) {
	s := redistest.Start(t)
	rb := load(t, oneNode+`
step "command" "skipped" {
  when    = node.a.role == "replica"
  node    = node.a
  command = ["SET", "skipped", "ran"]
}
step "command" "runs" {
  when    = step.skipped.status == "skipped"
  node    = node.a
  command = ["SET", "runs", "ran"]
}
step "assert" "fails" {
  condition = step.runs.output != "OK"
}
step "assert" "never" {
  condition = true
}
rollback {
  step "command" "undo" {
    when    = step.never.status == "pending" && step.fails.status == "failed"
    node    = node.a
    command = ["SET", "undo", "ran"]
  }
}
`, nodeVars(s)...)
	res := runLive(t, rb)
	if res.Status != StatusRolledBack {
		t.Fatalf("status %s: %v", res.Status, res.Diagnostics)
	}
	if res.Steps[0].Status != StatusSkipped || res.Steps[0].Attempts != 0 || res.Steps[1].Status != StatusPassed {
		t.Errorf("statuses %s (%d attempts), %s", res.Steps[0].Status, res.Steps[0].Attempts, res.Steps[1].Status)
	}
	if res.Rollback[0].Status != StatusPassed {
		t.Errorf("rollback step %s: a step that did not run must read as pending", res.Rollback[0].Status)
	}
	c := s.Client()
	defer c.Close()
	if n, _ := c.Exists(context.Background(), "skipped").Result(); n != 0 {
		t.Error("the skipped step ran")
	}
}

func TestExecAndCommandOutputs(t *testing.T) {
	s := redistest.Start(t)
	rb := load(t, oneNode+`
step "command" "info" {
  node    = node.a
  command = ["CONFIG", "GET", "maxmemory-policy"]
}
step "exec" "echo" {
  command = ["echo", "policy=${step.info.output["maxmemory-policy"]}", node.a.version]
}
step "assert" "seen" {
  condition = startswith(step.echo.output, "policy=noeviction 7.")
}
step "exec" "fails" {
  command = ["sh", "-c", "echo oops >&2; exit 3"]
}
`, nodeVars(s)...)
	res := runLive(t, rb)
	for _, r := range res.Steps[:3] {
		if r.Status != StatusPassed {
			t.Fatalf("step %s: %s %v", r.Step.Name, r.Status, r.Diag)
		}
	}
	if d := res.Steps[3].Diag; d == nil || !strings.Contains(d.Detail, "exit status 3") || !strings.Contains(d.Detail, "oops") {
		t.Errorf("exec failure: %+v", d)
	}
}

// startShared starts n servers with one random password, as replicas of
// each other need.
func startShared(t *testing.T, n int) []*redistest.Server {
	t.Helper()
	pw := redistest.RandomPassword()
	out := make([]*redistest.Server, n)
	for i := range out {
		out[i] = redistest.Start(t, redistest.WithPassword(pw))
	}
	return out
}

// twoNodeVars sets the variables of twoNodes.
func twoNodeVars(a, b *redistest.Server) []string {
	return []string{"a=" + a.Addr, "b=" + b.Addr, "password=" + a.Password}
}

const twoNodes = `
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

// A switchover between two live servers: the replica becomes master, the
// old master follows it, writes are possible on the new master only, and no
// pause is left behind.
func TestSwitchoverLive(t *testing.T) {
	srv := startShared(t, 2)
	a, b := srv[0], srv[1]
	ca, cb := a.Client(), b.Client()
	defer ca.Close()
	defer cb.Close()
	ctx := context.Background()
	for i := range 1000 {
		ca.Set(ctx, "k"+string(rune('a'+i%26))+time.Duration(i).String(), i, 0)
	}
	rb := load(t, twoNodes+`
step "assert" "not_in_sync" {
  condition = !in_sync(node.b, node.a)
}
step "replicate" "attach" {
  replica = node.b
  master  = node.a
}
step "wait" "sync" {
  until = in_sync(node.b, node.a)
}
step "switchover" "swap" {
  from = node.a
  to   = node.b
}
step "wait" "a_follows" {
  until = in_sync(node.a, node.b)
}
step "verify" "same" {
  a = node.a
  b = node.b
}
`, twoNodeVars(a, b)...)
	res := runLive(t, rb)
	if res.Status != StatusPassed {
		t.Fatalf("status %s: %v", res.Status, res.Diagnostics)
	}
	out := res.Steps[3].Output
	if m := out.GetAttr("method").AsString(); m != "pause-write" {
		t.Errorf("method %s", m)
	}
	if err := cb.Set(ctx, "after", "1", 0).Err(); err != nil {
		t.Errorf("write on the new master: %v", err)
	}
	// READONLY at once: demoted and not left paused (a paused write would
	// block past the deadline).
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if err := ca.Set(short, "after", "2", 0).Err(); err == nil || !strings.HasPrefix(err.Error(), "READONLY") {
		t.Errorf("write on the old master: %v, want READONLY at once", err)
	}
	if v, _ := ca.ConfigGet(ctx, "min-replicas-to-write").Result(); v["min-replicas-to-write"] != "0" {
		t.Errorf("min-replicas-to-write left at %v", v)
	}
}

// A master reached with an ACL user: its replica authenticates with the
// same user (masteruser) and password.
func TestReplicateWithACLUser(t *testing.T) {
	a := redistest.Start(t)
	b := redistest.Start(t)
	ca := a.Client()
	defer ca.Close()
	userPw := redistest.RandomPassword()
	if err := ca.Do(context.Background(), "ACL", "SETUSER", "upgrader", "on", ">"+userPw, "~*", "&*", "+@all").Err(); err != nil {
		t.Fatal(err)
	}
	rb := load(t, `
variable "a" {}
variable "b" {}
variable "a_password" {
  sensitive = true
}
variable "b_password" {
  sensitive = true
}
node "a" {
  address  = var.a
  username = "upgrader"
  password = var.a_password
}
node "b" {
  address  = var.b
  password = var.b_password
}
step "replicate" "attach" {
  replica = node.b
  master  = node.a
}
step "wait" "sync" {
  until = in_sync(node.b, node.a)
}
`, "a="+a.Addr, "b="+b.Addr, "a_password="+userPw, "b_password="+b.Password)
	res := runLive(t, rb)
	if res.Status != StatusPassed {
		t.Fatalf("status %s: %v", res.Status, res.Diagnostics)
	}
	cb := b.Client()
	defer cb.Close()
	if v, _ := cb.ConfigGet(context.Background(), "masteruser").Result(); v["masteruser"] != "upgrader" {
		t.Errorf("masteruser %v", v)
	}
}

// method = "failover" lets the servers swap roles with FAILOVER TO.
func TestSwitchoverFailoverMethod(t *testing.T) {
	srv := startShared(t, 2)
	a, b := srv[0], srv[1]
	rb := load(t, twoNodes+`
step "replicate" "attach" {
  replica = node.b
  master  = node.a
}
step "wait" "sync" {
  until = in_sync(node.b, node.a)
}
step "switchover" "swap" {
  from   = node.a
  to     = node.b
  method = "failover"
  assert {
    condition = node.b.role == "master" && node.a.role == "replica"
  }
}
`, twoNodeVars(a, b)...)
	res := runLive(t, rb)
	if res.Status != StatusPassed {
		t.Fatalf("status %s: %v", res.Status, res.Diagnostics)
	}
	if m := res.Steps[2].Output.GetAttr("method").AsString(); m != "failover" {
		t.Errorf("method %s", m)
	}
}

// A switchover whose target does not replicate from the source is refused
// before anything is written, pointing at the "to" argument.
func TestSwitchoverRefusesNonReplica(t *testing.T) {
	srv := startShared(t, 2)
	a, b := srv[0], srv[1]
	rb := load(t, twoNodes+`
step "switchover" "swap" {
  from = node.a
  to   = node.b
  retry {
    attempts = 3
  }
}
`, twoNodeVars(a, b)...)
	res := runLive(t, rb)
	r := res.Steps[0]
	if r.Status != StatusFailed || r.Attempts != 1 {
		t.Fatalf("status %s after %d attempts; a refusal is not retried", r.Status, r.Attempts)
	}
	if r.Diag.Subject.Start.Line != lineOf(rb, "to   = node.b") || !strings.Contains(r.Diag.Summary, "Not a replica of the master") {
		t.Errorf("diagnostic: line %d %s", r.Diag.Subject.Start.Line, r.Diag.Summary)
	}
	assertWritableMaster(t, a)
}

// The live backend refuses upgrades instead of pretending.
func TestLiveUpgradeRefused(t *testing.T) {
	s := redistest.Start(t)
	rb := load(t, oneNode+`
step "upgrade" "a" {
  node    = node.a
  version = "8.0"
}
`, nodeVars(s)...)
	res := runLive(t, rb)
	if d := res.Steps[0].Diag; d == nil || !strings.Contains(d.Detail, "needs a lifecycle command") {
		t.Errorf("upgrade on a live backend: %+v", d)
	}
}

// The other replicas of the old master follow the new one after a
// switchover.
func TestSwitchoverRepointsOtherReplicas(t *testing.T) {
	srv := startShared(t, 3)
	a, b, c := srv[0], srv[1], srv[2]
	rb := load(t, twoNodes+`
variable "c" {}
node "c" {
  address  = var.c
  password = var.password
}
step "replicate" "b" {
  replica = node.b
  master  = node.a
}
step "replicate" "c" {
  replica = node.c
  master  = node.a
}
step "wait" "sync" {
  until = in_sync(node.b, node.a) && in_sync(node.c, node.a) && node.a.info.connected_slaves == "2"
}
step "switchover" "swap" {
  from = node.a
  to   = node.b
}
step "wait" "followers" {
  until = in_sync(node.c, node.b) && in_sync(node.a, node.b)
}
`, append(twoNodeVars(a, b), "c="+c.Addr)...)
	res := runLive(t, rb)
	if res.Status != StatusPassed {
		t.Fatalf("status %s: %v", res.Status, res.Diagnostics)
	}
	if n := res.Steps[3].Output.GetAttr("reattached"); !n.RawEquals(cty.NumberIntVal(1)) {
		t.Errorf("reattached %v, want 1", n.GoString())
	}
}

// A replica of the old master that the runbook does not declare could not
// be re-pointed: the switchover is refused before anything is written.
func TestSwitchoverNamesUndeclaredReplica(t *testing.T) {
	srv := startShared(t, 3)
	a, b, stray := srv[0], srv[1], srv[2]
	sc := stray.Client()
	defer sc.Close()
	if err := sc.Do(context.Background(), "REPLICAOF", a.Host, a.Port).Err(); err != nil {
		t.Fatal(err)
	}
	rb := load(t, twoNodes+`
step "replicate" "b" {
  replica = node.b
  master  = node.a
}
step "wait" "sync" {
  until = in_sync(node.b, node.a) && node.a.info.connected_slaves == "2"
}
step "switchover" "swap" {
  from = node.a
  to   = node.b
}
`, twoNodeVars(a, b)...)
	res := runLive(t, rb)
	d := res.Steps[2].Diag
	if d == nil || !strings.Contains(d.Detail, stray.Addr) || !strings.Contains(d.Detail, "not a node of this runbook") {
		t.Fatalf("switchover with an undeclared replica: %+v", d)
	}
	assertWritableMaster(t, a)
}

// assertWritableMaster checks that a server is still a master that takes
// writes at once (not paused, not demoted).
func assertWritableMaster(t *testing.T, s *redistest.Server) {
	t.Helper()
	c := s.Client()
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	if err := c.Set(ctx, "still-writable", "1", 0).Err(); err != nil {
		t.Errorf("%s no longer takes writes: %v", s.Addr, err)
	}
	info, _ := c.Info(ctx, "replication").Result()
	if !strings.Contains(info, "role:master") {
		t.Errorf("%s is no longer a master:\n%s", s.Addr, info)
	}
}
