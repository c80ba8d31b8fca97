package live_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/understudy/understudy/dsl"
	"github.com/understudy/understudy/internal/redistest"
	"github.com/understudy/understudy/internal/runtest"
	"github.com/understudy/understudy/steps"
	"github.com/understudy/understudy/steps/live"
	"github.com/understudy/understudy/steps/redis"
	"github.com/understudy/understudy/steps/topology"
)

// lifecycleVars are the variables runtest.NodeVars sets.
const lifecycleVars = `
variable "addr" {}
variable "password" {
  sensitive = true
}
`

// lifecycleRunbook is node "a" at the server s with the given lifecycle
// block body, and one upgrade step to version to; the runbook's directory
// gets the scripts (name → body), so that "./name" runs them from there.
func lifecycleRunbook(t *testing.T, s *redistest.Server, body, to string, scripts map[string]string) *dsl.Runbook {
	t.Helper()
	rb := runtest.Load(t, lifecycleVars+`
node "a" {
  address  = var.addr
  password = var.password
  lifecycle {
`+body+`
  }
}
step "upgrade" "a" {
  node    = node.a
  version = "`+to+`"
}
`, runtest.NodeVars(s)...)
	for name, script := range scripts {
		if err := os.WriteFile(filepath.Join(rb.Dir, name), []byte("#!/bin/sh\n"+script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return rb
}

// lifecycleNode is the live node "a" of rb and the lines its topology
// logged.
func lifecycleNode(t *testing.T, rb *dsl.Runbook) (topology.Node, *lineLog) {
	t.Helper()
	topo := live.New(rb)
	t.Cleanup(func() { _ = topo.Close(context.Background()) })
	log := &lineLog{}
	topo.Log = log.add
	n, err := topo.Node("a")
	if err != nil {
		t.Fatal(err)
	}
	return n, log
}

// lineLog collects a topology's log lines.
type lineLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *lineLog) add(line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, line)
}

func (l *lineLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// The upgrade command runs from the runbook's directory with every
// placeholder replaced, stdin closed, the node's password in REDISCLI_AUTH;
// a command that does nothing passes when the node already reports the
// target version, and what it printed reaches the topology's log with the
// password redacted.
func TestLifecycleUpgradeCommand(t *testing.T) {
	s := redistest.Start(t)
	rb := lifecycleRunbook(t, s, `    upgrade = ["./node.sh", "upgrade", "{node}", "{address}", "{host}", "{port}", "{version}", "$${x}"]`, "7.0", map[string]string{
		"node.sh": `printf '%s\n' "$@" > args
pwd > cwd
if read line; then echo "stdin: $line"; else echo "stdin closed"; fi
echo "password is $REDISCLI_AUTH"
printf 'no newline at the end'
`,
	})
	n, log := lifecycleNode(t, rb)
	if err := n.Upgrade(context.Background(), redis.MustParseVersion("7.0")); err != nil {
		t.Fatalf("upgrade: %v\nlog:\n%s", err, log)
	}
	args, _ := os.ReadFile(filepath.Join(rb.Dir, "args"))
	want := fmt.Sprintf("upgrade\na\n%s\n127.0.0.1\n%d\n7.0\n${x}\n", s.Addr, s.Port)
	if string(args) != want {
		t.Errorf("arguments:\n%s\nwant:\n%s", args, want)
	}
	if cwd, _ := os.ReadFile(filepath.Join(rb.Dir, "cwd")); strings.TrimSpace(string(cwd)) != rb.Dir {
		t.Errorf("ran from %q, want the runbook's directory %q", cwd, rb.Dir)
	}
	got := log.String()
	for _, want := range []string{
		fmt.Sprintf(`node a upgrade: running ["./node.sh", "upgrade", "a", %q, "127.0.0.1", "%d", "7.0", "${x}"]`, s.Addr, s.Port),
		"node a upgrade: | stdin closed",
		"node a upgrade: | password is (sensitive)",
		"node a upgrade: | no newline at the end",
		"node a upgrade: a answers on 7.0.15 after",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("log lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, s.Password) {
		t.Errorf("log shows the password:\n%s", got)
	}
}

// The upgrade step runs the lifecycle command through the interpreter and
// passes when the node reports the target version.
func TestLifecycleUpgradeStep(t *testing.T) {
	s := redistest.Start(t)
	rb := lifecycleRunbook(t, s, `    upgrade = ["./node.sh"]`, "7.0", map[string]string{"node.sh": "touch ran\n"})
	res := runtest.RunLive(t, rb)
	if res.Status != steps.StatusPassed {
		t.Fatalf("run %s: %+v", res.Status, res.Steps[0].Diag)
	}
	if _, err := os.Stat(filepath.Join(rb.Dir, "ran")); err != nil {
		t.Errorf("the lifecycle command did not run: %v", err)
	}
	if out := res.Steps[0].Output.GetAttr("to").AsString(); out != "7.0.15" {
		t.Errorf("output to = %q", out)
	}
}

// A node that still reports another version when the timeout ends, or that
// came back (a new run id) on another version, is an error naming both; the
// latter at once.
func TestLifecycleWrongVersion(t *testing.T) {
	s := redistest.Start(t)
	t.Run("same server until the timeout", func(t *testing.T) {
		rb := lifecycleRunbook(t, s, `    upgrade = ["true"]
    timeout = "1s"`, "8.0", nil)
		n, _ := lifecycleNode(t, rb)
		start := time.Now()
		err := n.Upgrade(context.Background(), redis.MustParseVersion("8.0"))
		if err == nil || !strings.Contains(err.Error(), `node "a" still reports 7.0.15, the upgrade asked for 8.0 when the lifecycle timeout ended`) {
			t.Fatalf("error %v", err)
		}
		if d := time.Since(start); d < time.Second || d > 5*time.Second {
			t.Errorf("returned after %s, want the 1s timeout", d)
		}
	})
	t.Run("restarted on the wrong version", func(t *testing.T) {
		srv := redistest.Start(t)
		pidfile := filepath.Join(t.TempDir(), "restarted.pid")
		t.Cleanup(func() {
			if b, err := os.ReadFile(pidfile); err == nil {
				var pid int
				if _, err := fmt.Sscan(string(b), &pid); err == nil && pid > 0 {
					if p, err := os.FindProcess(pid); err == nil {
						_ = p.Kill()
					}
				}
			}
		})
		rb := lifecycleRunbook(t, srv, `    upgrade = ["./restart.sh", "{port}", "`+srv.Dir+`", "`+pidfile+`"]
    timeout = "30s"`, "valkey:8.1", map[string]string{
			// The same 7.0 server again: SHUTDOWN, then a new process on the
			// same port and password.
			"restart.sh": `redis-cli -p "$1" SHUTDOWN NOSAVE >/dev/null 2>&1
while redis-cli -p "$1" PING >/dev/null 2>&1; do sleep 0.05; done
redis-server --bind 127.0.0.1 --port "$1" --dir "$2" --save "" --appendonly no --requirepass "$REDISCLI_AUTH" --daemonize yes --pidfile "$3" --logfile "$2/restarted.log"
`,
		})
		n, _ := lifecycleNode(t, rb)
		start := time.Now()
		err := n.Upgrade(context.Background(), redis.MustParseVersion("valkey:8.1"))
		if err == nil || !strings.Contains(err.Error(), `node "a" came back on 7.0.15, the upgrade asked for valkey:8.1`) {
			t.Fatalf("error %v", err)
		}
		if d := time.Since(start); d > 15*time.Second {
			t.Errorf("returned after %s: a server that came back on the wrong version is not waited for", d)
		}
		if _, err := os.Stat(pidfile); err != nil {
			t.Errorf("the server was not restarted: %v", err)
		}
	})
}

// A command that fails is an error with the program, its exit status and
// the last lines of its output, redacted; a command that outlives the
// timeout is killed with what it started.
func TestLifecycleCommandFails(t *testing.T) {
	s := redistest.Start(t)
	t.Run("exit status", func(t *testing.T) {
		rb := lifecycleRunbook(t, s, `    upgrade = ["./fail.sh"]`, "8.0", map[string]string{
			"fail.sh": `i=1
while [ $i -le 200 ]; do echo "output line $i of a long upgrade, padded to fifty bytes"; i=$((i+1)); done
echo "cannot pull image; password $REDISCLI_AUTH" >&2
exit 3
`,
		})
		n, log := lifecycleNode(t, rb)
		err := n.Upgrade(context.Background(), redis.MustParseVersion("8.0"))
		if err == nil {
			t.Fatal("a failing command passed")
		}
		msg := err.Error()
		for _, want := range []string{
			fmt.Sprintf(`lifecycle upgrade command of node "a" (%s:%d): ./fail.sh: exit status 3; its output ends with:`, filepath.Join(rb.Dir, "runbook.hcl"), runtest.LineOf(rb, "./fail.sh")),
			"  output line 200 of a long upgrade",
			"  cannot pull image; password (sensitive)",
		} {
			if !strings.Contains(msg, want) {
				t.Errorf("error lacks %q:\n%s", want, msg)
			}
		}
		if strings.Contains(msg, "output line 100 ") || strings.Count(msg, "\n") > 15 {
			t.Errorf("error quotes more than the last lines:\n%s", msg)
		}
		if strings.Contains(msg, s.Password) || strings.Contains(log.String(), s.Password) {
			t.Error("the password is shown")
		}
		if !strings.Contains(log.String(), "node a upgrade: | output line 1 of a long upgrade") {
			t.Errorf("the whole output is not logged:\n%s", log.String()[:min(len(log.String()), 500)])
		}
	})
	t.Run("timeout", func(t *testing.T) {
		marker := filepath.Join(t.TempDir(), "survived")
		rb := lifecycleRunbook(t, s, `    upgrade = ["./slow.sh", "`+marker+`"]
    timeout = "1s"`, "8.0", map[string]string{
			"slow.sh": "(sleep 3; touch \"$1\") &\necho started\nwait\n",
		})
		n, _ := lifecycleNode(t, rb)
		start := time.Now()
		err := n.Upgrade(context.Background(), redis.MustParseVersion("8.0"))
		if err == nil || !strings.Contains(err.Error(), "./slow.sh: did not finish within the lifecycle timeout of 1s and was killed; its output ends with:\n  started") {
			t.Fatalf("error %v", err)
		}
		if d := time.Since(start); d > 4*time.Second {
			t.Errorf("returned after %s", d)
		}
		time.Sleep(3 * time.Second)
		if _, err := os.Stat(marker); err == nil {
			t.Error("a program the command started outlived the timeout")
		}
	})
	t.Run("program not found", func(t *testing.T) {
		rb := lifecycleRunbook(t, s, `    upgrade = ["./missing.sh"]`, "8.0", nil)
		n, _ := lifecycleNode(t, rb)
		err := n.Upgrade(context.Background(), redis.MustParseVersion("8.0"))
		if err == nil || !strings.Contains(err.Error(), "./missing.sh: fork/exec ./missing.sh: no such file or directory") {
			t.Fatalf("error %v", err)
		}
	})
}

// stopStarter is the part of the live node that runs stop and start.
type stopStarter interface {
	Stop(ctx context.Context) error
	Start(ctx context.Context) error
}

// Stop runs its command and waits for nothing; start waits until the node
// answers PING, and fails when it does not within the timeout; a node
// without the command refuses.
func TestLifecycleStopStart(t *testing.T) {
	s := redistest.Start(t)
	rb := lifecycleRunbook(t, s, `    upgrade = ["true"]
    stop    = ["./record.sh", "stop", "{node}", "{port}"]
    start   = ["./record.sh", "start", "{host}"]`, "7.0", map[string]string{
		"record.sh": "echo \"$@\" >> actions\n",
	})
	n, _ := lifecycleNode(t, rb)
	ss := n.(stopStarter)
	ctx := context.Background()
	if err := ss.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := ss.Start(ctx); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(filepath.Join(rb.Dir, "actions"))
	if want := fmt.Sprintf("stop a %d\nstart 127.0.0.1\n", s.Port); string(got) != want {
		t.Errorf("actions:\n%s\nwant:\n%s", got, want)
	}

	down := runtest.Load(t, lifecycleVars+`
node "a" {
  address  = "127.0.0.1:1"
  password = var.password
  lifecycle {
    upgrade = ["true"]
    start   = ["true"]
    timeout = "1s"
  }
}
step "assert" "x" {
  condition = true
}
`, runtest.NodeVars(s)...)
	dn, _ := lifecycleNode(t, down)
	err := dn.(stopStarter).Start(ctx)
	if err == nil || !strings.Contains(err.Error(), `node "a" did not answer when the lifecycle timeout ended (last: dial tcp 127.0.0.1:1: connect: connection refused)`) {
		t.Errorf("start of a node that does not answer: %v", err)
	}
	if err := dn.(stopStarter).Stop(ctx); err == nil || !strings.Contains(err.Error(), `node "a" has no lifecycle stop command`) {
		t.Errorf("stop without a command: %v", err)
	}
}

// A dry run runs no lifecycle command: each action is answered with a
// steps.NotSent that the recorder hears.
func TestLifecycleDryRun(t *testing.T) {
	s := redistest.Start(t)
	rb := lifecycleRunbook(t, s, `    upgrade = ["./touch.sh", "upgrade"]
    stop    = ["./touch.sh", "stop"]
    start   = ["./touch.sh", "start"]`, "7.0", map[string]string{"touch.sh": "touch \"ran-$1\"\n"})
	topo := live.New(rb)
	t.Cleanup(func() { _ = topo.Close(context.Background()) })
	var heard []string
	topo.DryRun(func(ns *steps.NotSent) { heard = append(heard, ns.Target+": "+ns.What) })
	n, err := topo.Node("a")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, run := range []func() error{
		func() error { return n.Upgrade(ctx, redis.MustParseVersion("7.0")) },
		func() error { return n.(stopStarter).Stop(ctx) },
		func() error { return n.(stopStarter).Start(ctx) },
	} {
		var ns *steps.NotSent
		if err := run(); !errors.As(err, &ns) {
			t.Errorf("dry run: %v, want a NotSent", err)
		}
	}
	if want := "node a: its lifecycle upgrade to 7.0\nnode a: its lifecycle stop command\nnode a: its lifecycle start command"; strings.Join(heard, "\n") != want {
		t.Errorf("heard:\n%s\nwant:\n%s", strings.Join(heard, "\n"), want)
	}
	if ran, _ := filepath.Glob(filepath.Join(rb.Dir, "ran-*")); len(ran) != 0 {
		t.Errorf("commands ran in a dry run: %v", ran)
	}
}
