package rehearsal

import (
	"context"
	"errors"
	"fmt"
	"sync"

	goredis "github.com/redis/go-redis/v9"
	"github.com/understudy/understudy/steps/redis"
	"github.com/understudy/understudy/steps/rehearsal/container"
	"github.com/understudy/understudy/steps/rehearsal/proxy"
	"github.com/understudy/understudy/steps/topology"
)

// deployment is the rehearsal's topology: one container per node and per
// sentinel, and one proxy per endpoint.
type deployment struct {
	clients   topology.ClientCache
	mu        sync.Mutex
	nodes     map[string]*container.Node
	sentinels map[string]*container.Sentinel
	eps       map[string]*endpoint
	// user is the ACL user of the runbook's nodes ("" for the default
	// user), which every container has; set before the nodes start.
	user string
}

var _ topology.Topology = (*deployment)(nil)

func newDeployment() *deployment {
	return &deployment{nodes: map[string]*container.Node{}, sentinels: map[string]*container.Sentinel{}, eps: map[string]*endpoint{}}
}

func (d *deployment) container(name string) (*container.Node, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	n, ok := d.nodes[name]
	if !ok {
		return nil, fmt.Errorf("node %q has no rehearsal container", name)
	}
	return n, nil
}

// sentinel returns the sentinel called name.
func (d *deployment) sentinel(name string) (*container.Sentinel, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	s, ok := d.sentinels[name]
	if !ok {
		return nil, fmt.Errorf("sentinel %q has no rehearsal container", name)
	}
	return s, nil
}

// image returns the image of the node's or sentinel's current container,
// "" when it has none.
func (d *deployment) image(name string) string {
	if c, err := d.container(name); err == nil {
		return c.Image()
	}
	if s, err := d.sentinel(name); err == nil {
		return s.Image()
	}
	return ""
}

// Node returns the data node or the sentinel called name.
func (d *deployment) Node(name string) (topology.Node, error) {
	d.mu.Lock()
	c, isNode := d.nodes[name]
	s, isSentinel := d.sentinels[name]
	d.mu.Unlock()
	switch {
	case isNode:
		return &node{d: d, c: c}, nil
	case isSentinel:
		return &sentinelNode{d: d, s: s}, nil
	}
	return nil, fmt.Errorf("node %q has no rehearsal container", name)
}

func (d *deployment) Endpoint(name string) (topology.Endpoint, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	ep, ok := d.eps[name]
	if !ok {
		return nil, fmt.Errorf("endpoint %q has no rehearsal proxy", name)
	}
	return ep, nil
}

// Close closes the controller's clients.
func (d *deployment) Close(context.Context) error {
	d.clients.Close()
	return nil
}

// remove closes the proxies and removes the containers, the sentinels'
// included.
func (d *deployment) remove(ctx context.Context) error {
	d.clients.Close()
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, ep := range d.eps {
		_ = ep.p.Close()
	}
	var (
		wg   sync.WaitGroup
		emu  sync.Mutex
		errs []error
	)
	for name, n := range d.nodes {
		wg.Go(func() {
			if err := n.Terminate(ctx); err != nil {
				emu.Lock()
				errs = append(errs, fmt.Errorf("remove node %q: %w", name, err))
				emu.Unlock()
			}
		})
	}
	for name, s := range d.sentinels {
		wg.Go(func() {
			if err := s.Terminate(ctx); err != nil {
				emu.Lock()
				errs = append(errs, fmt.Errorf("remove sentinel %q: %w", name, err))
				emu.Unlock()
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// node is a rehearsal container as the interpreter sees it.
type node struct {
	d *deployment
	c *container.Node
}

func (n *node) Name() string    { return n.c.Name }
func (n *node) Address() string { return n.c.Addr() }

func (n *node) Client() (*goredis.Client, error) {
	return n.d.clients.Get(n.c.Name, func() (*goredis.Options, error) {
		return &goredis.Options{Addr: n.c.Addr(), Password: n.c.Password()}, nil
	})
}

// MasterAuth is the rehearsal's credentials: the runbook's user, if any,
// and the one password every node has.
func (n *node) MasterAuth() redis.Auth {
	return redis.Auth{User: n.d.user, Password: n.c.Password()}
}

// Upgrade replaces the container with one of version v on the same data
// directory and port.
func (n *node) Upgrade(ctx context.Context, v redis.Version) error { return n.c.Replace(ctx, v) }

// sentinelNode is a rehearsal sentinel as the interpreter sees it: steps
// reach it by its runbook name (the sentinels of sentinel_switchover) and
// upgrade it in place.
type sentinelNode struct {
	d *deployment
	s *container.Sentinel
}

func (n *sentinelNode) Name() string    { return n.s.Name }
func (n *sentinelNode) Address() string { return n.s.Addr() }

// Client is the controller's client for the sentinel, with the sentinel's
// own password, named like every client of the controller.
func (n *sentinelNode) Client() (*goredis.Client, error) {
	return n.d.clients.Get(n.s.Name, func() (*goredis.Options, error) {
		return &goredis.Options{Addr: n.s.Addr(), Password: n.s.Password()}, nil
	})
}

// MasterAuth is the sentinel's password (sentinels have no ACL user of
// the runbook's).
func (n *sentinelNode) MasterAuth() redis.Auth {
	return redis.Auth{Password: n.s.Password()}
}

// Upgrade replaces the sentinel's container with one of version v on the
// same port and configuration file: it keeps its myid and what it knows
// (container.Sentinel.Replace).
func (n *sentinelNode) Upgrade(ctx context.Context, v redis.Version) error {
	return n.s.Replace(ctx, v)
}

// endpoint is an endpoint as a proxy the rehearsal controls.
type endpoint struct {
	p      *proxy.Proxy
	mu     sync.Mutex
	target string
}

func (e *endpoint) Hold(ctx context.Context) error { return e.p.Hold(ctx) }

func (e *endpoint) Repoint(_ context.Context, node, addr string) error {
	e.p.Repoint(addr)
	e.mu.Lock()
	e.target = node
	e.mu.Unlock()
	return nil
}

func (e *endpoint) Release() { e.p.Release() }

// Address is where programs dial the endpoint: the proxy's loopback
// address (topology.Dialable).
func (e *endpoint) Address() string { return e.p.Addr() }

func (e *endpoint) Target() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.target
}
