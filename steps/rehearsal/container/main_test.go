package container

import (
	"context"
	"fmt"
	"github.com/understudy/understudy/steps/redis"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	dockercontainer "github.com/moby/moby/api/types/container"
	goredis "github.com/redis/go-redis/v9"
)

// TestMain fails the run when a test left a container behind: every test
// terminates its nodes, so a container labelled with this process is a
// leak.
func TestMain(m *testing.M) {
	code := m.Run()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pid := strconv.Itoa(os.Getpid())
	n, err := removeWhere(ctx, LabelPID+"="+pid, func(dockercontainer.Summary) bool { return true })
	if err != nil {
		fmt.Fprintln(os.Stderr, "cleanup:", err)
		code = 1
	}
	if n > 0 {
		fmt.Fprintf(os.Stderr, "FAIL: tests left %d container(s) labelled %s=%s\n", n, LabelPID, pid)
		code = 1
	}
	os.Exit(code)
}

// withPID sets the pid label, so a test can fake a crashed run.
func withPID(pid int) Option { return func(o *options) { o.pid = pid } }

// testCtx returns a context that ends before the test's deadline.
func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// runNode starts a node of a test session and terminates it when the test
// ends.
func runNode(t *testing.T, ctx context.Context, name, version string, opts ...Option) *Node {
	t.Helper()
	opts = append([]Option{WithSession("test-" + NewSessionID())}, opts...)
	n, err := Run(ctx, name, redis.MustParseVersion(version), opts...)
	if err != nil {
		t.Fatalf("Run %s %s: %v", name, version, err)
	}
	t.Cleanup(func() {
		if err := n.Terminate(context.Background()); err != nil {
			t.Errorf("Terminate %s: %v", name, err)
		}
	})
	return n
}

// info returns one field of an INFO section.
func info(t *testing.T, ctx context.Context, c *goredis.Client, section, field string) string {
	t.Helper()
	info, err := redis.ReadInfo(ctx, c, section)
	if err != nil {
		t.Fatalf("INFO %s: %v", section, err)
	}
	return info[field]
}

// eventually polls cond until it returns true or the timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not reached after %s (last: %s)", what, timeout, state)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func mustContain(t *testing.T, s, sub string) {
	t.Helper()
	if !strings.Contains(s, sub) {
		t.Fatalf("%q does not contain %q", s, sub)
	}
}
