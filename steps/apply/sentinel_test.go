package apply_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/understudy/understudy/dsl"
	"github.com/understudy/understudy/internal/redistest"
	"github.com/understudy/understudy/steps"
	"github.com/understudy/understudy/steps/apply"
	"github.com/understudy/understudy/steps/kinds"
	"github.com/understudy/understudy/steps/live"
	"github.com/understudy/understudy/steps/redact"
	"github.com/understudy/understudy/steps/redis"
	"github.com/understudy/understudy/steps/traffic"
)

// sentinelSwitchover checks the deployment, moves the master role to a
// replica the step picks, and checks the deployment again.
const sentinelSwitchover = `
step "sentinel_check" "healthy" {
  deployment = sentinel.cache
}

step "sentinel_switchover" "failover" {
  deployment = sentinel.cache
}

step "sentinel_check" "healthy_after" {
  deployment = sentinel.cache
}
`

// commandRecorder is a go-redis hook that records the name of every
// command a client sends (SENTINEL and CLIENT with their subcommand), by
// node.
type commandRecorder struct {
	mu   sync.Mutex
	sent map[string]map[string]int
}

func (r *commandRecorder) hook(node string) goredis.Hook { return recordHook{r: r, node: node} }

func (r *commandRecorder) record(node string, cmds ...goredis.Cmder) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.sent == nil {
		r.sent = map[string]map[string]int{}
	}
	if r.sent[node] == nil {
		r.sent[node] = map[string]int{}
	}
	for _, c := range cmds {
		name := strings.ToLower(c.Name())
		if args := c.Args(); (name == "sentinel" || name == "client") && len(args) > 1 {
			name += " " + strings.ToLower(fmt.Sprint(args[1]))
		}
		r.sent[node][name]++
	}
}

// commands returns the commands recorded for node, sorted.
func (r *commandRecorder) commands(node string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for name := range r.sent[node] {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

type recordHook struct {
	r    *commandRecorder
	node string
}

func (h recordHook) DialHook(next goredis.DialHook) goredis.DialHook { return next }

func (h recordHook) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		h.r.record(h.node, cmd)
		return next(ctx, cmd)
	}
}

func (h recordHook) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		h.r.record(h.node, cmds...)
		return next(ctx, cmds)
	}
}

// keyCommands are the commands the lock, the canary's read-back and its
// clean-up send: none may reach a sentinel.
var keyCommands = []string{"eval", "evalsha", "eval_ro", "evalsha_ro", "script", "get", "mget", "set", "del", "unlink", "scan", "keys", "exists", "pttl"}

// eventually polls cond until it returns "", failing the test with its
// last answer after timeout.
func eventually(t *testing.T, timeout time.Duration, cond func() string) {
	t.Helper()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	deadline := time.Now().Add(timeout)
	for {
		why := cond()
		if why == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", timeout, why)
		}
		<-tick.C
	}
}

// TestApplySentinel applies a runbook that declares a Sentinel deployment
// and no endpoint (its clients find the master through the sentinels) to
// a real master, two replicas and three sentinels, as `understudy apply
// --auto-approve` does (Preflight, then Run with the live topology and a
// journal): a check, a lossless sentinel_switchover, a check. The canary
// writes through Sentinel and its writes are read back from the master the
// sentinels name at the end, as are those of an independent go-redis
// failover client: none lost, none failed. The lock was taken on the data
// nodes only and is gone afterwards, the canary's keys too, and the
// password appears in no output.
func TestApplySentinel(t *testing.T) {
	set := redistest.StartSentinelSet(t)
	t.Setenv("APPLY_SENTINEL_PASSWORD", set.Password)
	dir := t.TempDir()
	rb, diags := dsl.LoadSource(filepath.Join(dir, "sentinel.hcl"), []byte(set.Deployment("APPLY_SENTINEL_PASSWORD")+sentinelSwitchover), dsl.LoadOptions{Mode: dsl.ModeLive, Kinds: kinds.Registry})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	topo := live.New(rb)
	defer topo.Close(context.Background())

	// Every command the apply sends to a sentinel through the topology.
	var rec commandRecorder
	dep := rb.Sentinels["cache"]
	for _, name := range dep.Sentinels {
		n, err := topo.Node(name)
		if err != nil {
			t.Fatal(err)
		}
		c, err := n.Client()
		if err != nil {
			t.Fatal(err)
		}
		c.AddHook(rec.hook(name))
	}

	// The application: go-redis's failover client, default retries.
	app, err := traffic.Start(ctx, traffic.Options{
		Sentinel: &traffic.SentinelTarget{MasterName: set.Name, Addrs: set.SentinelAddrs()},
		Password: set.Password, Rate: 500, Prefix: "app:writer:",
	})
	if err != nil {
		t.Fatal(err)
	}
	defer app.Stop()

	nodes, err := apply.Preflight(ctx, rb, topo, nil)
	if err != nil {
		t.Fatal(err)
	}
	secrets := redact.New(rb.Secrets()...)
	journal := filepath.Join(dir, "apply.journal")
	jw, err := apply.CreateJournal(journal, rb, apply.RunInfo{RunID: "sentinel-1", Runbook: "sentinel.hcl", Version: "test"}, secrets)
	if err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	rep, err := apply.Run(ctx, rb, topo, nodes, apply.Options{Runbook: "sentinel.hcl", Version: "test", Log: &log, Secrets: secrets, Hooks: []steps.Hook{jw}})
	if cerr := jw.Close(); cerr != nil {
		t.Error(cerr)
	}
	appRep := app.Stop()
	t.Logf("apply log:\n%s", log.String())
	if err != nil {
		t.Fatal(err)
	}

	// The master the sentinels name now, as a data node of the runbook.
	sc := set.Sentinels[0].Client()
	defer sc.Close()
	addr, err := redis.SentinelMasterAddr(ctx, sc, set.Name)
	if err != nil {
		t.Fatal(err)
	}
	final := set.ServerByAddr(t, addr)
	newMaster := fmt.Sprintf("cache-%d", slices.Index(set.Servers(), final)+1)

	tr := rep.Traffic
	if tr != nil {
		t.Logf("canary through Sentinel: %d attempted, %d acknowledged, %d lost, %d failed, longest stall %.1f ms; new master %s (%s)", tr.Attempted, tr.Acked, tr.Lost, tr.Failed, tr.MaxStallMS, newMaster, final.Addr)
	}
	if rep.Status != steps.StatusPassed {
		t.Fatalf("apply %s: %v", rep.Status, rep.Errors)
	}
	if tr == nil || !tr.Verified || tr.Acked == 0 || tr.Lost != 0 || tr.Failed != 0 {
		t.Errorf("canary: %+v", tr)
	}
	if final == set.Master {
		t.Errorf("the sentinels still name the first master %s", final.Addr)
	}
	roles := map[string]string{}
	for _, n := range rep.Nodes {
		roles[n.Name] = n.RoleAfter
	}
	want := map[string]string{"cache-1": "replica", newMaster: "master", "cache-sentinel-1": "sentinel", "cache-sentinel-2": "sentinel", "cache-sentinel-3": "sentinel"}
	for name, role := range want {
		if roles[name] != role {
			t.Errorf("report: node %s is %q after the apply, want %q (all: %v)", name, roles[name], role, roles)
		}
	}
	if line := fmt.Sprintf("keys removed from %q", newMaster); !strings.Contains(log.String(), line) {
		t.Errorf("the log does not say the canary was read back from the new master (%s)", line)
	}

	// The lock and the canary's keys are gone from every data node, the
	// replicas included once they have the master's deletions.
	for i, srv := range set.Servers() {
		c := srv.Client()
		eventually(t, 10*time.Second, func() string {
			locks, err := c.Exists(ctx, apply.LockKey).Result()
			if err != nil {
				return err.Error()
			}
			keys, err := c.Keys(ctx, apply.CanaryPrefix+"*").Result()
			if err != nil {
				return err.Error()
			}
			if locks != 0 || len(keys) != 0 {
				return fmt.Sprintf("cache-%d (%s) holds %d lock key(s) and %d canary key(s)", i+1, srv.Addr, locks, len(keys))
			}
			return ""
		})
		c.Close()
	}
	// No sentinel was sent the lock, a key read or a key write.
	for _, name := range dep.Sentinels {
		got := rec.commands(name)
		t.Logf("sent to %s: %s", name, strings.Join(got, ", "))
		if len(got) == 0 {
			t.Errorf("no command recorded for %s: the recorder is not on the topology's client", name)
		}
		for _, c := range got {
			if slices.Contains(keyCommands, strings.Fields(c)[0]) {
				t.Errorf("%s was sent %s", name, c)
			}
		}
	}

	// The application lost nothing either.
	fc := final.Client()
	defer fc.Close()
	if err := app.Verify(ctx, fc, appRep); err != nil {
		t.Fatal(err)
	}
	t.Logf("independent failover client: %d acknowledged, %d lost, %d failed, longest stall %.1f ms", appRep.Acked, appRep.Lost, appRep.Failed, appRep.MaxStallMS)
	if appRep.Acked == 0 || appRep.Lost != 0 || appRep.Failed != 0 {
		t.Errorf("independent writer: %d acknowledged, %d lost, %d failed", appRep.Acked, appRep.Lost, appRep.Failed)
	}

	// The password appears in no output.
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	jb, err := os.ReadFile(journal)
	if err != nil {
		t.Fatal(err)
	}
	for what, text := range map[string]string{"log": log.String(), "report": string(b), "journal": string(jb)} {
		if strings.Contains(text, set.Password) {
			t.Errorf("the password appears in the %s", what)
		}
	}
}
