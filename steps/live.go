package steps

import (
	"context"
	"fmt"
	"github.com/understudy/understudy/steps/redis"
	"os/exec"
	"strings"
	"sync"

	goredis "github.com/redis/go-redis/v9"
	"github.com/understudy/understudy/dsl"
)

// LiveBackend reaches nodes at the addresses and with the credentials the
// runbook gives. Upgrading a live node needs the node's lifecycle command,
// which a later issue adds; until then Upgrade refuses.
type LiveBackend struct {
	ClientCache
	rb *dsl.Runbook
}

// NewLiveBackend returns a backend for the runbook's nodes.
func NewLiveBackend(rb *dsl.Runbook) *LiveBackend {
	return &LiveBackend{rb: rb}
}

func (b *LiveBackend) node(name string) (*dsl.Node, error) {
	n, ok := b.rb.Nodes[name]
	if !ok {
		return nil, fmt.Errorf("no node named %q", name)
	}
	if n.Address == "" {
		return nil, fmt.Errorf("node %q has no address (an env() it reads is unset?)", name)
	}
	return n, nil
}

// Client returns a client named understudy (see ClientName).
func (b *LiveBackend) Client(name string) (*goredis.Client, error) {
	return b.Get(name, func() (*goredis.Options, error) {
		n, err := b.node(name)
		if err != nil {
			return nil, err
		}
		return &goredis.Options{Addr: n.Address, Username: n.Username, Password: n.Password}, nil
	})
}

// Address is the node's address as written in the runbook.
func (b *LiveBackend) Address(name string) (string, error) {
	n, err := b.node(name)
	if err != nil {
		return "", err
	}
	return n.Address, nil
}

// MasterAuth is the node's user and password.
func (b *LiveBackend) MasterAuth(name string) Auth {
	if n, ok := b.rb.Nodes[name]; ok {
		return Auth{User: n.Username, Password: n.Password}
	}
	return Auth{}
}

// Upgrade refuses: live upgrades need lifecycle commands.
func (b *LiveBackend) Upgrade(_ context.Context, name string, v redis.Version) error {
	return Permanent(fmt.Errorf("upgrading live node %q to %s needs a lifecycle command (systemctl, docker, kubectl), which understudy does not run yet", name, v))
}

// CommandEndpoint is a live endpoint repointed by the runbook's switch
// command (DNS, a load balancer): the new target's node name and address are
// appended to the command. It cannot hold the application; the switchover's
// server-side pause protects the data then.
type CommandEndpoint struct {
	Command []string
	Dir     string
	mu      sync.Mutex
	target  string
}

// NewCommandEndpoint returns the live endpoint of an endpoint block.
func NewCommandEndpoint(e *dsl.Endpoint, dir string) *CommandEndpoint {
	return &CommandEndpoint{Command: e.Switch, Dir: dir, target: e.Target}
}

// Hold does nothing: a DNS name cannot hold commands.
func (e *CommandEndpoint) Hold(context.Context) error { return nil }

// Repoint runs the switch command.
func (e *CommandEndpoint) Repoint(ctx context.Context, node, addr string) error {
	if len(e.Command) == 0 {
		return fmt.Errorf("the endpoint has no switch command")
	}
	args := append(append([]string{}, e.Command[1:]...), node, addr)
	cmd := exec.CommandContext(ctx, e.Command[0], args...)
	cmd.Dir = e.Dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s: %w: %s", e.Command[0], err, strings.TrimSpace(string(out)))
	}
	e.mu.Lock()
	e.target = node
	e.mu.Unlock()
	return nil
}

// Release does nothing.
func (e *CommandEndpoint) Release() {}

// Target is the node the endpoint was last pointed at.
func (e *CommandEndpoint) Target() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.target
}
