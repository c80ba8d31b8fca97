package live

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"sync"

	"github.com/understudy/understudy/dsl"
	"github.com/understudy/understudy/steps"
)

// CommandEndpoint is a live endpoint repointed by the runbook's switch
// command (DNS, a load balancer, a file a service-discovery agent reads):
// the new target's node name and address are appended to the command. It
// cannot hold the application; the switchover's server-side pause protects
// the data then.
//
// Nor can it move a connection: a client connected to the old node stays
// there after a DNS or load-balancer change, writing into a demoted replica
// (READONLY) or reading stale data. So once the switch command succeeded,
// the endpoint closes the application's connections on the old node —
// every client but replication links and understudy's own — and clients
// reconnect through the switched name. Both settings of connections do
// this live: "move" is what a rehearsal's proxy does, which no switch
// command can.
type CommandEndpoint struct {
	Command []string
	Dir     string
	mu      sync.Mutex
	target  string
	// closeApp closes the application's connections on a node.
	closeApp func(ctx context.Context, node string) (int, error)
	closed   int
	// dryRun, when set, receives the switch a dry run does not run.
	dryRun func(*steps.NotSent)
}

// NewCommandEndpoint returns the live endpoint of an endpoint block.
func NewCommandEndpoint(e *dsl.Endpoint, dir string) *CommandEndpoint {
	return &CommandEndpoint{Command: e.Switch, Dir: dir, target: e.Target}
}

// Hold does nothing: a DNS name cannot hold commands.
func (e *CommandEndpoint) Hold(context.Context) error { return nil }

// Repoint runs the switch command, then closes the application's
// connections on the node the endpoint pointed at.
func (e *CommandEndpoint) Repoint(ctx context.Context, node, addr string) error {
	if len(e.Command) == 0 {
		return fmt.Errorf("the endpoint has no switch command")
	}
	args := append(append([]string{}, e.Command[1:]...), node, addr)
	if e.dryRun != nil {
		ns := &steps.NotSent{Target: "this machine", What: "the switch command " + strings.Join(append([]string{e.Command[0]}, args...), " ")}
		e.dryRun(ns)
		return ns
	}
	cmd := exec.CommandContext(ctx, e.Command[0], args...)
	cmd.Dir = e.Dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s: %w: %s", e.Command[0], err, strings.TrimSpace(string(out)))
	}
	e.mu.Lock()
	old := e.target
	e.target = node
	e.mu.Unlock()
	if old == node || e.closeApp == nil {
		return nil
	}
	n, err := e.closeApp(ctx, old)
	if err != nil {
		return fmt.Errorf("switched to %q, but closing the application's connections on %q failed: %w", node, old, err)
	}
	e.mu.Lock()
	e.closed += n
	e.mu.Unlock()
	return nil
}

// Closed is how many application connections the endpoint closed.
func (e *CommandEndpoint) Closed() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.closed
}

// Release does nothing.
func (e *CommandEndpoint) Release() {}

// Target is the node the endpoint was last pointed at.
func (e *CommandEndpoint) Target() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.target
}
