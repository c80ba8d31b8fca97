package kinds_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	goredis "github.com/redis/go-redis/v9"
	"github.com/understudy/understudy/internal/redistest"
	"github.com/understudy/understudy/internal/runtest"
	"github.com/understudy/understudy/steps"
	"github.com/understudy/understudy/steps/kinds"
)

// Every kind that changes something says how it resumes; the kinds that
// only read (steps/kind.go names them) are run again.
func TestKindsThatChangeStateAreResumers(t *testing.T) {
	readOnly := []string{"assert", "wait", "verify", "sentinel_check", "cluster_check"}
	for _, k := range kinds.Registry.Kinds() {
		name := k.Spec().Name
		_, ok := k.(steps.Resumer)
		if want := !slices.Contains(readOnly, name); ok != want {
			t.Errorf("kind %s: Resumer %v, want %v", name, ok, want)
		}
	}
}

// swapRunbook switches a over to b through an endpoint whose switch
// command appends "NODE ADDRESS" to switched.log; its rollback leaves a
// file, so a test sees whether it ran.
const swapRunbook = runtest.TwoNodes + `
endpoint "app" {
  target = node.a
  switch = ["sh", "-c", "echo \"$0 $1\" >> switched.log"]
}
step "switchover" "swap" {
  from     = node.a
  to       = node.b
  endpoint = endpoint.app
}
rollback {
  step "exec" "mark" {
    command = ["touch", "rolled-back"]
  }
}
`

// fenceNote is what the 6.0 sequence says before it fences node a.
const fenceNote = "fence: min-replicas-to-write 1 on a until the switch ends (it was 0)"

// A switchover in flight when the run stopped is judged from the nodes'
// roles on real servers: nothing switched yet runs it again; the new node
// promoted with the old one still a master is finished (endpoint, demotion,
// the fence); a switchover that went through is done (the endpoint is
// re-pointed again, idempotently); an old master that took writes after the
// promotion, or two masters that share no history, are refused without the
// rollback.
func TestSwitchoverResume(t *testing.T) {
	tests := []struct {
		name  string
		state func(t *testing.T, a, b *redistest.Server)
		// note: the journal holds the fence line; minReplicas: node a's
		// min-replicas-to-write before the resume and wantMin after.
		note                 bool
		minReplicas, wantMin string
		// method is the step's output method ("" when refused), refused
		// what the refusal says.
		method  string
		refused string
	}{
		{name: "nothing switched", state: attached, method: "pause-write", minReplicas: "0", wantMin: "0"},
		{name: "nothing switched, fence set by the run", state: attached, note: true, method: "pause-write", minReplicas: "1", wantMin: "0"},
		{name: "nothing switched, the operator's own setting", state: attached, method: "pause-write", minReplicas: "1", wantMin: "1"},
		{name: "promoted, old still master", state: promoted, method: "resumed", minReplicas: "0", wantMin: "0"},
		{name: "promoted, old fenced", state: promoted, note: true, method: "resumed", minReplicas: "1", wantMin: "0"},
		{name: "went through", state: switched, method: "resumed", minReplicas: "0", wantMin: "0"},
		{name: "old master took writes after the promotion", state: diverged, refused: "bytes past the point where \"b\" was promoted"},
		{name: "two unrelated masters", state: func(*testing.T, *redistest.Server, *redistest.Server) {}, refused: "was not promoted from \"a\"'s replication stream"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := startPair(t)
			ca := a.Client()
			defer ca.Close()
			ctx := context.Background()
			for _, k := range []string{"k1", "k2", "k3"} {
				if err := ca.Set(ctx, k, "v", 0).Err(); err != nil {
					t.Fatal(err)
				}
			}
			tt.state(t, a, b)
			if tt.minReplicas != "" {
				if err := ca.ConfigSet(ctx, "min-replicas-to-write", tt.minReplicas).Err(); err != nil {
					t.Fatal(err)
				}
			}
			rb := runtest.Load(t, swapRunbook, runtest.TwoNodeVars(a, b)...)
			rs := &steps.Resume{InFlight: "swap", InFlightAttempts: 1}
			if tt.note {
				rs.InFlightLog = []string{"a (7.0.15) → b (7.0.15) by pause-all, max pause 2s", fenceNote}
			}
			res := runtest.RunResumed(t, rb, rs)
			r := res.Steps[0]
			switched, _ := os.ReadFile(filepath.Join(rb.Dir, "switched.log"))
			_, rollbackErr := os.Stat(filepath.Join(rb.Dir, "rolled-back"))

			if tt.refused != "" {
				if res.Status != steps.StatusFailed || !r.Refused || r.Diag == nil || !strings.Contains(r.Diag.Detail, tt.refused) {
					t.Fatalf("status %s, refused %v, diagnostic %+v; want a refusal saying %q", res.Status, r.Refused, r.Diag, tt.refused)
				}
				if !strings.Contains(r.Diag.Summary, `cannot be resumed`) || !strings.Contains(r.Diag.Detail, "without its rollback") {
					t.Errorf("diagnostic %s: %s", r.Diag.Summary, r.Diag.Detail)
				}
				if len(res.Rollback) != 0 || rollbackErr == nil {
					t.Errorf("the rollback ran after a refusal")
				}
				if len(switched) != 0 {
					t.Errorf("the endpoint was switched: %q", switched)
				}
				wantRole(t, a, "master", nil)
				wantRole(t, b, "master", nil)
				return
			}
			if res.Status != steps.StatusPassed {
				t.Fatalf("status %s: %v", res.Status, res.Diagnostics)
			}
			if m := r.Output.GetAttr("method").AsString(); m != tt.method {
				t.Errorf("output method %q, want %q (run again: the sequence's; done: %q)", m, tt.method, "resumed")
			}
			if r.Resumed != (tt.method == "resumed") {
				t.Errorf("Resumed %v for method %s", r.Resumed, tt.method)
			}
			wantRole(t, b, "master", nil)
			wantRole(t, a, "slave", b)
			if want := "b " + b.Addr + "\n"; string(switched) != want {
				t.Errorf("switch command calls %q, want %q", switched, want)
			}
			if v, _ := ca.ConfigGet(ctx, "min-replicas-to-write").Result(); v["min-replicas-to-write"] != tt.wantMin {
				t.Errorf("min-replicas-to-write on a is %v, want %s", v, tt.wantMin)
			}
			cb := b.Client()
			defer cb.Close()
			if n, err := cb.DBSize(ctx).Result(); err != nil || n != 3 {
				t.Errorf("the new master holds %d keys (%v), want 3", n, err)
			}
		})
	}
}

// startPair starts two servers with one password that begin a full sync
// at once (7.0 waits 5 s for more replicas by default).
func startPair(t *testing.T) (a, b *redistest.Server) {
	t.Helper()
	pw := redistest.RandomPassword()
	opts := []redistest.Option{redistest.WithPassword(pw), redistest.WithArgs("--repl-diskless-sync-delay", "0")}
	return redistest.Start(t, opts...), redistest.Start(t, opts...)
}

// attached makes b a replica of a, in sync.
func attached(t *testing.T, a, b *redistest.Server) {
	t.Helper()
	b.ReplicaOf(t, a)
}

// promoted is attached, then b promoted by hand: the sequence stopped
// between the promotion and the demotion.
func promoted(t *testing.T, a, b *redistest.Server) {
	t.Helper()
	b.ReplicaOf(t, a)
	b.Promote(t)
}

// switched is a switchover that went through: b master, a its replica.
func switched(t *testing.T, a, b *redistest.Server) {
	t.Helper()
	promoted(t, a, b)
	a.ReplicaOf(t, b)
}

// diverged is promoted, then a write on the old master.
func diverged(t *testing.T, a, b *redistest.Server) {
	t.Helper()
	promoted(t, a, b)
	c := a.Client()
	defer c.Close()
	if err := c.Set(context.Background(), "late", "write", 0).Err(); err != nil {
		t.Fatal(err)
	}
}

// wantRole checks a server's role, and for a replica its master.
func wantRole(t *testing.T, s *redistest.Server, role string, master *redistest.Server) {
	t.Helper()
	info := s.Info(t, "replication")
	if info["role"] != role {
		t.Errorf("%s is %s, want %s", s.Addr, info["role"], role)
	}
	if master != nil && info["master_port"] != strconv.Itoa(master.Port) {
		t.Errorf("%s follows port %s, want %s", s.Addr, info["master_port"], master.Addr)
	}
}

// The other kinds judge their in-flight step from the nodes: a replica
// already attached and a node already master are done (not run again); a
// node that is not yet is run again; an upgrade is done when the node runs
// the target version.
func TestResumeJudgesFromTheNodes(t *testing.T) {
	tests := []struct {
		name     string
		step     string
		state    func(t *testing.T, a, b *redistest.Server)
		wantDone bool
		// status is the run's ("" for passed).
		status string
	}{
		{name: "replicate, already attached", step: "step \"replicate\" \"x\" {\n  replica = node.b\n  master  = node.a\n}\n", state: attached, wantDone: true},
		{name: "replicate, not attached", step: "step \"replicate\" \"x\" {\n  replica = node.b\n  master  = node.a\n}\n", state: func(*testing.T, *redistest.Server, *redistest.Server) {}},
		{name: "promote, already master", step: "step \"promote\" \"x\" {\n  node = node.b\n}\n", state: promoted, wantDone: true},
		{name: "promote, still a replica", step: "step \"promote\" \"x\" {\n  node = node.b\n}\n", state: attached},
		{name: "upgrade, already at the version", step: "step \"upgrade\" \"x\" {\n  node    = node.a\n  version = \"7.0\"\n}\n", state: func(*testing.T, *redistest.Server, *redistest.Server) {}, wantDone: true},
		// Run again: the live backend then refuses the upgrade itself.
		{name: "upgrade, not yet", step: "step \"upgrade\" \"x\" {\n  node    = node.a\n  version = \"8.0\"\n}\n", state: func(*testing.T, *redistest.Server, *redistest.Server) {}, status: steps.StatusFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := startPair(t)
			tt.state(t, a, b)
			rb := runtest.Load(t, runtest.TwoNodes+tt.step, runtest.TwoNodeVars(a, b)...)
			var log strings.Builder
			res := runtest.RunResumed(t, rb, &steps.Resume{InFlight: "x", InFlightAttempts: 1}, steps.NewProgress(&log, rb))
			r := res.Steps[0]
			want := tt.status
			if want == "" {
				want = steps.StatusPassed
			}
			if res.Status != want || r.Resumed != tt.wantDone {
				t.Fatalf("status %s, resumed %v; want %s, %v: %v", res.Status, r.Resumed, want, tt.wantDone, res.Diagnostics)
			}
			said := "run again"
			if tt.wantDone {
				said = "it had taken effect: not run again"
			}
			if !strings.Contains(log.String(), said) {
				t.Errorf("progress does not say %q:\n%s", said, log.String())
			}
			if tt.status == steps.StatusFailed && !strings.Contains(r.Diag.Detail, "needs a lifecycle command") {
				t.Errorf("upgrade run again: %+v", r.Diag)
			}
		})
	}
}

// A command in flight is refused, naming the step, and the run stops
// without its rollback; the operator's answer (InFlightAs) wins: done
// counts it passed without sending it, run sends it again.
func TestCommandResume(t *testing.T) {
	s := redistest.Start(t)
	c := s.Client()
	defer c.Close()
	rb := runtest.Load(t, runtest.OneNode+`
step "command" "incr" {
  node    = node.a
  command = ["INCR", "counter"]
}
step "command" "after" {
  node    = node.a
  command = ["SET", "after", "1"]
}
rollback {
  step "command" "undo" {
    node    = node.a
    command = ["SET", "rolled-back", "1"]
  }
}
`, runtest.NodeVars(s)...)
	ctx := context.Background()
	counter := func() int {
		n, err := c.Get(ctx, "counter").Int()
		if err != nil && err != goredis.Nil {
			t.Fatal(err)
		}
		return n
	}

	res := runtest.RunResumed(t, rb, &steps.Resume{InFlight: "incr", InFlightAttempts: 1})
	r := res.Steps[0]
	if res.Status != steps.StatusFailed || !r.Refused || !strings.Contains(r.Diag.Detail, `step command "incr" sends a command to node "a"`) {
		t.Fatalf("status %s, refused %v: %+v", res.Status, r.Refused, r.Diag)
	}
	if n, _ := c.Exists(ctx, "after", "rolled-back").Result(); n != 0 || counter() != 0 || len(res.Rollback) != 0 {
		t.Fatalf("after a refusal: %d of after/rolled-back exist, counter %d, %d rollback steps", n, counter(), len(res.Rollback))
	}

	res = runtest.RunResumed(t, rb, &steps.Resume{InFlight: "incr", InFlightAs: steps.ResumeDone})
	if res.Status != steps.StatusPassed || !res.Steps[0].Resumed || counter() != 0 {
		t.Fatalf("answered done: status %s, resumed %v, counter %d", res.Status, res.Steps[0].Resumed, counter())
	}
	res = runtest.RunResumed(t, rb, &steps.Resume{InFlight: "incr", InFlightAs: steps.ResumeRun})
	if res.Status != steps.StatusPassed || res.Steps[0].Resumed || counter() != 1 {
		t.Fatalf("answered run: status %s, resumed %v, counter %d", res.Status, res.Steps[0].Resumed, counter())
	}
}
