package kinds_test

import (
	"context"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/understudy/understudy/internal/redistest"
	"github.com/understudy/understudy/internal/runtest"
	"github.com/understudy/understudy/steps"
	"github.com/zclconf/go-cty/cty"
)

func TestExecAndCommandOutputs(t *testing.T) {
	s := redistest.Start(t)
	rb := runtest.Load(t, runtest.OneNode+`
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
`, runtest.NodeVars(s)...)
	res := runtest.RunLive(t, rb)
	for _, r := range res.Steps[:3] {
		if r.Status != steps.StatusPassed {
			t.Fatalf("step %s: %s %v", r.Step.Name, r.Status, r.Diag)
		}
	}
	if d := res.Steps[3].Diag; d == nil || !strings.Contains(d.Detail, "exit status 3") || !strings.Contains(d.Detail, "oops") {
		t.Errorf("exec failure: %+v", d)
	}
}

// A switchover between two live servers: the replica becomes master, the
// old master follows it, writes are possible on the new master only, and no
// pause is left behind.
func TestSwitchoverLive(t *testing.T) {
	srv := runtest.StartShared(t, 2)
	a, b := srv[0], srv[1]
	ca, cb := a.Client(), b.Client()
	defer ca.Close()
	defer cb.Close()
	ctx := context.Background()
	for i := range 1000 {
		ca.Set(ctx, "k"+string(rune('a'+i%26))+time.Duration(i).String(), i, 0)
	}
	rb := runtest.Load(t, runtest.TwoNodes+`
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
`, runtest.TwoNodeVars(a, b)...)
	res := runtest.RunLive(t, rb)
	if res.Status != steps.StatusPassed {
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
	rb := runtest.Load(t, `
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
	res := runtest.RunLive(t, rb)
	if res.Status != steps.StatusPassed {
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
	srv := runtest.StartShared(t, 2)
	a, b := srv[0], srv[1]
	rb := runtest.Load(t, runtest.TwoNodes+`
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
`, runtest.TwoNodeVars(a, b)...)
	res := runtest.RunLive(t, rb)
	if res.Status != steps.StatusPassed {
		t.Fatalf("status %s: %v", res.Status, res.Diagnostics)
	}
	if m := res.Steps[2].Output.GetAttr("method").AsString(); m != "failover" {
		t.Errorf("method %s", m)
	}
}

// A switchover whose target does not replicate from the source is refused
// before anything is written, pointing at the "to" argument.
func TestSwitchoverRefusesNonReplica(t *testing.T) {
	srv := runtest.StartShared(t, 2)
	a, b := srv[0], srv[1]
	rb := runtest.Load(t, runtest.TwoNodes+`
step "switchover" "swap" {
  from = node.a
  to   = node.b
  retry {
    attempts = 3
  }
}
`, runtest.TwoNodeVars(a, b)...)
	res := runtest.RunLive(t, rb)
	r := res.Steps[0]
	if r.Status != steps.StatusFailed || r.Attempts != 1 {
		t.Fatalf("status %s after %d attempts; a refusal is not retried", r.Status, r.Attempts)
	}
	if r.Diag.Subject.Start.Line != runtest.LineOf(rb, "to   = node.b") || !strings.Contains(r.Diag.Summary, "Not a replica of the master") {
		t.Errorf("diagnostic: line %d %s", r.Diag.Subject.Start.Line, r.Diag.Summary)
	}
	assertWritableMaster(t, a)
}

// The live backend refuses upgrades instead of pretending.
func TestLiveUpgradeRefused(t *testing.T) {
	s := redistest.Start(t)
	rb := runtest.Load(t, runtest.OneNode+`
step "upgrade" "a" {
  node    = node.a
  version = "8.0"
}
`, runtest.NodeVars(s)...)
	res := runtest.RunLive(t, rb)
	if d := res.Steps[0].Diag; d == nil || !strings.Contains(d.Detail, "needs a lifecycle command") {
		t.Errorf("upgrade on a live backend: %+v", d)
	}
}

// The other replicas of the old master follow the new one after a
// switchover.
func TestSwitchoverRepointsOtherReplicas(t *testing.T) {
	srv := runtest.StartShared(t, 3)
	a, b, c := srv[0], srv[1], srv[2]
	rb := runtest.Load(t, runtest.TwoNodes+`
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
`, append(runtest.TwoNodeVars(a, b), "c="+c.Addr)...)
	res := runtest.RunLive(t, rb)
	if res.Status != steps.StatusPassed {
		t.Fatalf("status %s: %v", res.Status, res.Diagnostics)
	}
	if n := res.Steps[3].Output.GetAttr("reattached"); !n.RawEquals(cty.NumberIntVal(1)) {
		t.Errorf("reattached %v, want 1", n.GoString())
	}
}

// A replica of the old master that the runbook does not declare could not
// be re-pointed: the switchover is refused before anything is written.
func TestSwitchoverNamesUndeclaredReplica(t *testing.T) {
	srv := runtest.StartShared(t, 3)
	a, b, stray := srv[0], srv[1], srv[2]
	sc := stray.Client()
	defer sc.Close()
	if err := sc.Do(context.Background(), "REPLICAOF", a.Host, a.Port).Err(); err != nil {
		t.Fatal(err)
	}
	rb := runtest.Load(t, runtest.TwoNodes+`
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
`, runtest.TwoNodeVars(a, b)...)
	res := runtest.RunLive(t, rb)
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

// copy_users gives the target the source's users with their rules (the
// default user excluded, a same-named user replaced), and neither its log
// nor its output carries a password hash.
func TestCopyUsers(t *testing.T) {
	srv := runtest.StartShared(t, 2)
	a, b := srv[0], srv[1]
	ctx := context.Background()
	ca, cb := a.Client(), b.Client()
	defer ca.Close()
	defer cb.Close()
	hash := strings.Repeat("5e", 32)
	for _, c := range [][]interface{}{
		{"ACL", "SETUSER", "app", "on", "#" + hash, "~app:*", "&news", "+@read", "+set"},
		{"ACL", "SETUSER", "ops", "off", "nopass", "~*", "+info", "(~x:* +get)"},
	} {
		if err := ca.Do(ctx, c...).Err(); err != nil {
			t.Fatal(err)
		}
	}
	// A stale "app" on the target is replaced, not merged.
	if err := cb.Do(ctx, "ACL", "SETUSER", "app", "on", "nopass", "~other:*", "+@all").Err(); err != nil {
		t.Fatal(err)
	}
	rb := runtest.Load(t, runtest.TwoNodes+`
step "copy_users" "acl" {
  from = node.a
  to   = node.b
}
`, runtest.TwoNodeVars(a, b)...)
	var log strings.Builder
	res := runtest.RunLive(t, rb, steps.NewProgress(&log, rb))
	if res.Status != steps.StatusPassed {
		t.Fatalf("status %s: %v", res.Status, res.Diagnostics)
	}
	if want, got := aclList(t, ca), aclList(t, cb); got != want {
		t.Fatalf("users on the target:\n%s\nwant:\n%s", got, want)
	}
	out := res.Steps[0].Output.GoString()
	if strings.Contains(log.String(), hash) || strings.Contains(out, hash) {
		t.Fatalf("a password hash in the log or the output:\n%s\n%s", log.String(), out)
	}
	if !strings.Contains(out, `"app"`) || !strings.Contains(out, `"ops"`) {
		t.Fatalf("output %s does not name the users", out)
	}
}

// aclList is ACL LIST without the default user.
func aclList(t *testing.T, c *goredis.Client) string {
	t.Helper()
	lines, err := c.Do(context.Background(), "ACL", "LIST").StringSlice()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range lines {
		if !strings.HasPrefix(l, "user default ") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
