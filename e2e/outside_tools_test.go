package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/understudy/understudy/steps/report"
)

// endpointAddrRe is what the failing workload prints: the endpoint's
// address, resolved when it started.
var endpointAddrRe = regexp.MustCompile(`connecting to 127\.0\.0\.1:\d+`)

// outsideEnv is the test's environment without the variables that choose
// a rehearsal's credentials, plus extra.
func outsideEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch name {
		case "UNDERSTUDY_REHEARSAL_PASSWORD", "REDIS_PASSWORD", "REDIS_USERNAME":
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}

// The shipped python-checks example, rehearsed 7.0 → 8.0 with
// REDIS_PASSWORD and REDIS_USERNAME set: the nodes take the runbook's own
// credentials (a client of the test connects with them to the endpoint
// address printed in the log, and a wrong password is refused); both
// Python checks run as exec steps with the addresses and credentials from
// env = {...} and pass, before and after the switchover, with their output
// in the JSON report; the workload runs through the endpoint from before
// the first step to after the last and its status is in the report; and
// the password appears in no stdout, stderr, report or plan.
func TestOutsideToolsPythonChecks(t *testing.T) {
	if out, err := exec.Command("/usr/bin/python3", "-c", "import redis").CombinedOutput(); err != nil {
		t.Fatalf("the example's checks need Debian's python3-redis (apt-get install python3-redis): %v\n%s", err, out)
	}
	password := secretsPassword(t)
	const user = "app-checks"
	reportPath := filepath.Join(t.TempDir(), "report.json")
	run := start(t, 10*time.Minute, outsideEnv("REDIS_PASSWORD="+password, "REDIS_USERNAME="+user),
		"rehearse", "runbooks/examples/python-checks.hcl", "--var", "from=7.0", "--var", "to=8.0",
		"--keys", "5000", "--rate", "200", "--report", reportPath)
	cmd, stdout, stderrPipe := run.cmd, run.stdout, run.log

	// While the rehearsal runs: connect to the endpoint it prints, as an
	// outside test suite would, with the runbook's credentials.
	var (
		stderr    strings.Builder
		connected = make(chan error, 1)
		wg        sync.WaitGroup
		endpoint  string
	)
	sc := bufio.NewScanner(stderrPipe)
	for sc.Scan() {
		line := sc.Text()
		stderr.WriteString(line + "\n")
		if m := endpointRe.FindStringSubmatch(line); m != nil && endpoint == "" {
			endpoint = m[1]
			wg.Go(func() { connected <- connectAsOutsideClient(endpoint, user, password) })
		}
	}
	wg.Wait()
	err := cmd.Wait()

	// The leaks first, so that a failing run still reports them; the
	// messages name where the password is, never the password.
	leaks := map[string]string{"stdout": stdout.String(), "stderr": stderr.String()}
	if b, rerr := os.ReadFile(reportPath); rerr == nil {
		leaks["the report"] = string(b)
	}
	for _, format := range []string{"text", "json", "markdown"} {
		plan := exec.Command(binary, "plan", "runbooks/examples/python-checks.hcl", "--format", format)
		plan.Dir = root
		plan.Env = outsideEnv("REDIS_PASSWORD="+password, "REDIS_USERNAME="+user)
		out, perr := plan.CombinedOutput()
		if perr != nil {
			t.Errorf("plan --format %s: %v\n%s", format, perr, redactFor(string(out), password))
		}
		leaks["plan --format "+format] = string(out)
		if format == "text" {
			for _, want := range []string{"REDIS_URL = (sensitive)", "REDIS_PASSWORD = (sensitive)", "Workload (rehearsal", "checks/workload.py"} {
				if !strings.Contains(string(out), want) {
					t.Errorf("plan lacks %q", want)
				}
			}
		}
		if format == "json" {
			var p report.Plan
			if jerr := json.Unmarshal(out, &p); jerr != nil || p.Workload == nil || !strings.Contains(strings.Join(p.Workload.Env, " "), "REDIS_URL = (sensitive)") {
				t.Errorf("json plan: %v, workload %+v", jerr, p.Workload)
			}
		}
	}
	for where, text := range leaks {
		if strings.Contains(text, password) {
			t.Errorf("the password appears in %s", where)
		}
	}

	if err != nil {
		t.Fatalf("rehearse: %v\n%s\n%s", err, stdout.String(), redactFor(tail(stderr.String(), 60), password))
	}
	if endpoint == "" {
		t.Fatal("no endpoint address in the log")
	}
	if err := <-connected; err != nil {
		t.Errorf("an outside client with the runbook's credentials: %v", err)
	}
	if !strings.Contains(stderr.String(), "password of the nodes: the runbook's") {
		t.Errorf("the log does not say the runbook's password was used:\n%s", tail(stderr.String(), 60))
	}
	rep, err := report.Read(reportPath)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Status != "passed" || rep.Traffic.Lost != 0 || !rep.Data.Equal {
		t.Fatalf("status %s, errors %v", rep.Status, rep.Errors)
	}

	// Both checks ran, passed, and said what they saw.
	for _, want := range []struct{ step, has string }{
		{"app_connects", "connectivity OK"},
		{"app_connects", "redis 7.0"},
		{"replication_healthy", "replication OK"},
		{"replication_healthy", "link up, not syncing"},
		{"replication_reversed", "replication OK"},
		{"app_reaches_new_master", "redis 8.0"},
		{"app_reaches_new_master", "connectivity OK"},
	} {
		s := stepByName(rep, want.step)
		if s == nil || s.Status != "passed" {
			t.Errorf("step %s: %+v", want.step, s)
			continue
		}
		var out string
		if err := json.Unmarshal(s.Output, &out); err != nil || !strings.Contains(out, want.has) {
			t.Errorf("step %s: output %s lacks %q", want.step, s.Output, want.has)
		}
	}
	// The replication check dialled the containers' loopback addresses.
	if s := stepByName(rep, "replication_healthy"); s != nil && !strings.Contains(string(s.Output), "master 127.0.0.1:") {
		t.Errorf("replication_healthy did not dial a container: %s", s.Output)
	}

	// The workload ran from before the first step to after the last, was
	// stopped by understudy, and read all its writes back.
	w := rep.Workload
	if w == nil {
		t.Fatal("no workload in the report")
	}
	first, last := rep.Steps[0], rep.Steps[len(rep.Steps)-1]
	if w.Status != report.WorkloadStopped || !w.Passed || w.StartMS > first.StartMS || w.StartMS+w.DurationMS < last.StartMS+last.DurationMS {
		t.Errorf("workload %+v; first step at %.0f ms, last ends at %.0f ms", w, first.StartMS, last.StartMS+last.DurationMS)
	}
	if !strings.Contains(w.OutputTail, "stopped by SIGTERM") || !strings.Contains(w.OutputTail, " 0 missing at the end") {
		t.Errorf("workload output: %s", w.OutputTail)
	}
	t.Logf("workload: %s; %s", w.Summary(), lastLine(w.OutputTail))
	for _, name := range []string{"replication_healthy", "app_reaches_new_master"} {
		if s := stepByName(rep, name); s != nil {
			t.Logf("step %s: %s", name, strings.Join(strings.Fields(string(s.Output)), " "))
		}
	}
}

// connectAsOutsideClient checks that the endpoint accepts the runbook's
// user and password and refuses a wrong password.
func connectAsOutsideClient(addr, user, password string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c := goredis.NewClient(&goredis.Options{Addr: addr, Username: user, Password: password})
	defer c.Close()
	if err := c.Set(ctx, "outside:client", "was here", 0).Err(); err != nil {
		return err
	}
	bad := goredis.NewClient(&goredis.Options{Addr: addr, Username: user, Password: password + "-wrong", MaxRetries: -1})
	defer bad.Close()
	if err := bad.Ping(ctx).Err(); err == nil || !strings.Contains(err.Error(), "WRONGPASS") {
		return fmt.Errorf("a wrong password was not refused: %v", err)
	}
	return nil
}

// A workload that exits non-zero by itself fails the rehearsal, which says
// so; its output (it printed the endpoint's address, resolved when it
// started) and its exit status are in the report.
func TestFailingWorkloadFailsTheVerdict(t *testing.T) {
	dir := t.TempDir()
	runbook := filepath.Join(dir, "failing-workload.hcl")
	if err := os.WriteFile(runbook, []byte(`node "old" {
  address = "redis.internal:6379"
  rehearsal {
    version = "7.0"
  }
}

endpoint "app" {
  target = node.old
}

rehearsal {
  workload {
    command = ["sh", "-c", "echo connecting to $ADDR; sleep 0.5; echo 'gave up after 3 errors' >&2; exit 3"]
    env = {
      ADDR = endpoint.app.address
    }
  }
}

step "exec" "busy" {
  command = ["sleep", "2"]
}

step "assert" "still_master" {
  condition = node.old.role == "master"
}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	reportPath := filepath.Join(dir, "report.json")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, "rehearse", runbook, "--keys", "100", "--rate", "50", "--report", reportPath)
	cmd.Dir = dir
	cmd.Env = outsideEnv()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 1 {
		t.Fatalf("exit %v, want 1\n%s\n%s", err, stdout.String(), tail(stderr.String(), 40))
	}
	rep, err := report.Read(reportPath)
	if err != nil {
		t.Fatal(err)
	}
	w := rep.Workload
	if rep.Status != "failed" || w == nil || w.Status != report.WorkloadExited || w.Passed || w.ExitCode == nil || *w.ExitCode != 3 {
		t.Fatalf("status %s, workload %+v", rep.Status, w)
	}
	for _, s := range rep.Steps {
		if s.Status != "passed" {
			t.Errorf("step %s: %s", s.Name, s.Status)
		}
	}
	if !strings.Contains(strings.Join(rep.Errors, "\n"), "the workload exited with status 3 by itself") {
		t.Errorf("errors %q", rep.Errors)
	}
	if !strings.Contains(w.OutputTail, "gave up after 3 errors") || !endpointAddrRe.MatchString(w.OutputTail) {
		t.Errorf("output tail %q", w.OutputTail)
	}
	if !strings.Contains(stdout.String(), "workload: FAILED: exited by itself") || !strings.Contains(stdout.String(), "error: the workload exited with status 3") {
		t.Errorf("summary:\n%s", stdout.String())
	}
	t.Logf("workload: %s; errors: %q", w.Summary(), rep.Errors)
}

func lastLine(s string) string {
	s = strings.TrimRight(s, "\n")
	return s[strings.LastIndexByte(s, '\n')+1:]
}
