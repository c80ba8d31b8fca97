package live

import (
	"context"
	"fmt"
	"sync"

	goredis "github.com/redis/go-redis/v9"
	"github.com/understudy/understudy/dsl"
	"github.com/understudy/understudy/steps"
	"github.com/understudy/understudy/steps/redis"
	"github.com/understudy/understudy/steps/topology"
)

// Topology reaches the nodes at the addresses and with the credentials the
// runbook gives, repoints endpoints with their switch commands, and
// upgrades a node with its lifecycle block's upgrade command (a node
// without one refuses).
type Topology struct {
	// Log, when set, receives what lifecycle commands do, one line at a
	// time, secrets redacted: the command line, its output, how long the
	// node took to answer again. Set it before the run.
	Log func(line string)

	// dryRun, when set, receives what a dry run did not send (DryRun).
	dryRun  func(*steps.NotSent)
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
	ep.closeApp, ep.dryRun = t.closeApp, t.dryRun
	t.eps[name] = ep
	return ep, nil
}

// closeApp closes the application's connections on a node.
func (t *Topology) closeApp(ctx context.Context, name string) (int, error) {
	n, err := t.Node(name)
	if err != nil {
		return 0, err
	}
	c, err := n.Client()
	if err != nil {
		return 0, err
	}
	return redis.KillAppClients(ctx, c, topology.ClientName)
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

// Client returns a client named topology.ClientName, with the node's
// username and password, over TLS when the node has a tls block.
func (n *node) Client() (*goredis.Client, error) {
	return n.t.clients.Get(n.n.Name, func() (*goredis.Options, error) {
		return clientOptions(n.n)
	})
}

// MasterAuth is the node's user and password.
func (n *node) MasterAuth() redis.Auth {
	return redis.Auth{User: n.n.Username, Password: n.n.Password}
}

// Upgrade runs the node's lifecycle upgrade command with v as {version},
// then waits until the node answers PING and reports v's engine and
// major.minor, within the block's timeout. A node without a lifecycle
// block refuses.
func (n *node) Upgrade(ctx context.Context, v redis.Version) error {
	if n.t.dryRun != nil {
		ns := &steps.NotSent{Target: "node " + n.n.Name, What: fmt.Sprintf("its lifecycle upgrade to %s", v)}
		n.t.dryRun(ns)
		return ns
	}
	if n.n.Lifecycle == nil {
		return steps.Permanent(fmt.Errorf("upgrading live node %q to %s needs a lifecycle command, and the node has no lifecycle block: give it lifecycle { upgrade = [...] } (systemctl, docker, kubectl, ssh)", n.n.Name, v))
	}
	return n.lifecycle(ctx, dsl.LifecycleUpgrade, &v)
}
