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
	ep.closeApp = t.closeApp
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

// Upgrade refuses: live upgrades need lifecycle commands.
func (n *node) Upgrade(_ context.Context, v redis.Version) error {
	return steps.Permanent(fmt.Errorf("upgrading live node %q to %s needs a lifecycle command (systemctl, docker, kubectl), which understudy does not run yet", n.n.Name, v))
}
