package e2e

import (
	"bytes"
	"context"
	"fmt"
	goredis "github.com/redis/go-redis/v9"
	"github.com/understudy/understudy/steps/redis"
	"github.com/understudy/understudy/steps/rehearsal/container"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/understudy/understudy/steps/report"
)

// binary is the understudy binary built for this run.
var binary string

// root is the repository root.
var root string

func TestMain(m *testing.M) {
	_, file, _, _ := runtime.Caller(0)
	root = filepath.Dir(filepath.Dir(file))
	dir, err := os.MkdirTemp("", "understudy-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "understudy")
	build := exec.Command("go", "build", "-o", binary, "./cmd/understudy")
	build.Dir = root
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: build understudy:", err)
		os.Exit(1)
	}
	if out, err := exec.Command("docker", "info").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: the Docker engine is needed: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// result is one run of the binary.
type result struct {
	code           int
	stdout, stderr string
	report         *report.Report
	// session is the rehearsal's container session, from its log.
	session string
}

// understudy runs the binary from the repository root with a deadline.
func understudy(t *testing.T, timeout time.Duration, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Dir = root
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := result{stdout: stdout.String(), stderr: stderr.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		res.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run understudy %v: %v\n%s", args, err, stderr.String())
	}
	if ctx.Err() != nil {
		t.Fatalf("understudy %v did not finish within %s\nstdout:\n%s\nstderr:\n%s", args, timeout, stdout.String(), stderr.String())
	}
	return res
}

// rehearse runs understudy rehearse with a report and reads the report.
func rehearse(t *testing.T, runbook string, args ...string) result {
	t.Helper()
	path := filepath.Join(t.TempDir(), "report.json")
	all := append([]string{"rehearse", runbook, "--report", path}, args...)
	res := understudy(t, 10*time.Minute, all...)
	t.Logf("understudy %s\n%s", strings.Join(all, " "), res.stdout)
	if m := sessionRe.FindStringSubmatch(res.stderr); m != nil {
		res.session = m[1]
	}
	if rep, err := report.Read(path); err == nil {
		res.report = rep
	} else if res.code != 2 {
		t.Fatalf("no report (exit %d): %v\nstderr:\n%s", res.code, err, tail(res.stderr, 40))
	}
	return res
}

var sessionRe = regexp.MustCompile(`\(session ([0-9a-f]+)\)`)

// leftovers lists understudy containers of the given session, or of any
// session when session is "".
func leftovers(t *testing.T, session string) []string {
	t.Helper()
	filter := "label=org.understudy.session"
	if session != "" {
		filter += "=" + session
	}
	out, err := exec.Command("docker", "ps", "-aq", "--filter", filter).Output()
	if err != nil {
		t.Fatalf("docker ps: %v", err)
	}
	return strings.Fields(string(out))
}

func tail(s string, lines int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return strings.Join(l, "\n")
}

func stepByName(rep *report.Report, name string) *report.Step {
	for i := range rep.Steps {
		if rep.Steps[i].Name == name {
			return &rep.Steps[i]
		}
	}
	for i := range rep.Rollback {
		if rep.Rollback[i].Name == name {
			return &rep.Rollback[i]
		}
	}
	return nil
}

func nodeByName(rep *report.Report, name string) *report.Node {
	for i := range rep.Nodes {
		if rep.Nodes[i].Name == name {
			return &rep.Nodes[i]
		}
	}
	return nil
}

// startPair starts a master and a replica-to-be of the given versions at
// once, removed when the test ends, and returns them with their clients
// (closed when the test ends).
func startPair(t *testing.T, ctx context.Context, name string, mv, rv redis.Version, opts ...container.Option) (master, replica *container.Node, mc, rc *goredis.Client) {
	t.Helper()
	var merr, rerr error
	var wg sync.WaitGroup
	wg.Go(func() { master, merr = container.Run(ctx, name+"-m", mv, opts...) })
	wg.Go(func() { replica, rerr = container.Run(ctx, name+"-r", rv, opts...) })
	wg.Wait()
	for _, n := range []*container.Node{master, replica} {
		if n == nil {
			continue
		}
		t.Cleanup(func() {
			if err := n.Terminate(context.Background()); err != nil {
				t.Error(err)
			}
		})
	}
	if merr != nil || rerr != nil {
		t.Fatalf("start: master %v; replica %v", merr, rerr)
	}
	mc, rc = master.Client(), replica.Client()
	t.Cleanup(func() { _ = mc.Close(); _ = rc.Close() })
	return master, replica, mc, rc
}

// started is an understudy process that runs while the test reads its log.
type started struct {
	cmd    *exec.Cmd
	stdout *strings.Builder
	// log is its standard error, the rehearsal's progress.
	log io.Reader
}

// start runs understudy with args from the repository root, with env as
// its environment (nil: this process's), and kills it after limit; the test
// reads s.log, then calls s.cmd.Wait.
func start(t *testing.T, limit time.Duration, env []string, args ...string) started {
	t.Helper()
	s := started{cmd: exec.Command(binary, args...), stdout: &strings.Builder{}}
	s.cmd.Dir, s.cmd.Env, s.cmd.Stdout = root, env, s.stdout
	log, err := s.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s.log = log
	deadline := time.AfterFunc(limit, func() { _ = s.cmd.Process.Kill() })
	t.Cleanup(func() { deadline.Stop() })
	return s
}
