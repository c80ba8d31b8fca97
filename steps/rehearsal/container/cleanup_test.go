package container

import (
	"github.com/understudy/understudy/steps/redis"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/testcontainers/testcontainers-go"
)

func itoa(i int) string { return strconv.Itoa(i) }

func TestTerminate(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	session := "test-" + NewSessionID()
	n := runNode(t, ctx, "gone", "6.0", WithSession(session))
	tmp := n.tmpDir

	if err := n.Terminate(ctx); err != nil {
		t.Fatal(err)
	}
	if left, err := countSession(ctx, session); err != nil || left != 0 {
		t.Fatalf("%d containers left in the session (%v)", left, err)
	}
	if _, err := os.Stat(tmp); !os.IsNotExist(err) {
		t.Fatalf("temp dir %s still there: %v", tmp, err)
	}
	if err := n.Terminate(ctx); err != nil {
		t.Fatalf("second Terminate: %v", err)
	}
	if n.ContainerID() != "" {
		t.Fatalf("ContainerID after Terminate = %q", n.ContainerID())
	}
	for name, err := range map[string]error{
		"Start":   n.Start(ctx),
		"Stop":    n.Stop(ctx),
		"Replace": n.Replace(ctx, redis.MustParseVersion("7.0")),
	} {
		if err == nil || !strings.Contains(err.Error(), "terminated") {
			t.Errorf("%s after Terminate: %v, want an error saying the node was terminated", name, err)
		}
	}
}

func TestSetup(t *testing.T) {
	if err := setup(); err != nil {
		t.Fatal(err)
	}
	if !testcontainers.ReadConfig().RyukDisabled {
		t.Fatal("Ryuk is enabled")
	}
	if os.Getenv(envHostOverride) == "" {
		t.Fatalf("%s is not set", envHostOverride)
	}
}

func TestRemoveSession(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	session := "test-" + NewSessionID()
	a := runNode(t, ctx, "a", "7.0", WithSession(session))
	runNode(t, ctx, "b", "7.0", WithSession(session))
	if err := a.Stop(ctx); err != nil { // stopped containers go too
		t.Fatal(err)
	}
	if left, err := countSession(ctx, session); err != nil || left != 2 {
		t.Fatalf("%d containers in the session before RemoveSession (%v), want 2", left, err)
	}
	if err := RemoveSession(ctx, session); err != nil {
		t.Fatal(err)
	}
	if left, err := countSession(ctx, session); err != nil || left != 0 {
		t.Fatalf("%d containers left after RemoveSession (%v)", left, err)
	}
}

// TestRemoveStale fakes a crashed run: a node whose pid label names a
// process that has exited.
func TestRemoveStale(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	dead := cmd.Process.Pid
	if processAlive(dead) {
		t.Fatalf("pid %d still exists", dead)
	}
	session := "test-" + NewSessionID()
	stale := runNode(t, ctx, "stale", "7.0", WithSession(session), withPID(dead))
	live := runNode(t, ctx, "live", "7.0", WithSession(session))
	tmp := stale.tmpDir

	n, err := RemoveStale(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n < 1 {
		t.Fatalf("RemoveStale removed %d containers", n)
	}
	if left, err := countSession(ctx, session); err != nil || left != 1 {
		t.Fatalf("%d containers left in the session (%v), want only the live one", left, err)
	}
	if _, err := os.Stat(tmp); !os.IsNotExist(err) {
		t.Fatalf("stale temp dir %s still there: %v", tmp, err)
	}
	c := live.Client()
	defer c.Close()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("the live node was hurt: %v", err)
	}
	// Terminate of a node removed behind its back is not an error.
	if err := stale.Terminate(ctx); err != nil {
		t.Fatal(err)
	}
}
