package live

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"sync"

	goredis "github.com/redis/go-redis/v9"
	"github.com/understudy/understudy/dsl"
	"github.com/understudy/understudy/steps"
	"github.com/understudy/understudy/steps/redis"
	"github.com/understudy/understudy/steps/topology"
)

// Topology reaches the nodes at the addresses and with the credentials the
// runbook gives, and repoints endpoints with their switch commands.
// Upgrading a live node needs the node's lifecycle command, which a later
// issue adds; until then Upgrade refuses.
type Topology struct {
	clients topology.ClientCache
	rb      *dsl.Runbook
	mu      sync.Mutex
	eps     map[string]*CommandEndpoint
}

// New returns the live topology of the runbook's nodes and endpoints.
func New(rb *dsl.Runbook) *Topology {
	return &Topology{rb: rb, eps: map[string]*CommandEndpoint{}}
}

// Node returns a declared node with a resolved address.
func (t *Topology) Node(name string) (topology.Node, error) {
	n, ok := t.rb.Nodes[name]
	if !ok {
		return nil, fmt.Errorf("no node named %q", name)
	}
	if n.Address == "" {
		return nil, fmt.Errorf("node %q has no address (an env() it reads is unset?)", name)
	}
	return &node{t: t, n: n}, nil
}

// Endpoint returns the endpoint's switch command.
func (t *Topology) Endpoint(name string) (topology.Endpoint, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if ep, ok := t.eps[name]; ok {
		return ep, nil
	}
	e, ok := t.rb.Endpoints[name]
	if !ok {
		return nil, fmt.Errorf("no endpoint named %q", name)
	}
	ep := NewCommandEndpoint(e, t.rb.Dir)
	t.eps[name] = ep
	return ep, nil
}

// Close closes the controller's clients.
func (t *Topology) Close(context.Context) error {
	t.clients.Close()
	return nil
}

type node struct {
	t *Topology
	n *dsl.Node
}

func (n *node) Name() string    { return n.n.Name }
func (n *node) Address() string { return n.n.Address }

// Client returns a client named topology.ClientName.
func (n *node) Client() (*goredis.Client, error) {
	return n.t.clients.Get(n.n.Name, func() (*goredis.Options, error) {
		return &goredis.Options{Addr: n.n.Address, Username: n.n.Username, Password: n.n.Password}, nil
	})
}

// MasterAuth is the node's user and password.
func (n *node) MasterAuth() redis.Auth {
	return redis.Auth{User: n.n.Username, Password: n.n.Password}
}

// Upgrade refuses: live upgrades need lifecycle commands.
func (n *node) Upgrade(_ context.Context, v redis.Version) error {
	return steps.Permanent(fmt.Errorf("upgrading live node %q to %s needs a lifecycle command (systemctl, docker, kubectl), which understudy does not run yet", n.n.Name, v))
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
