package topology

import (
	"context"
	"fmt"

	goredis "github.com/redis/go-redis/v9"
	"github.com/understudy/understudy/steps/redis"
)

// Topology is a running deployment as a backend exposes it to the
// interpreter: the rehearsal's containers and proxies, or live addresses
// and switch commands.
type Topology interface {
	// Node returns the runbook node called name.
	Node(name string) (Node, error)
	// Endpoint returns the endpoint called name.
	Endpoint(name string) (Endpoint, error)
	// Close releases the controller's connections; it does not stop any
	// server.
	Close(ctx context.Context) error
}

// NodeClient returns the node of t called name and the controller's
// client for it; the error names the node.
func NodeClient(t Topology, name string) (Node, *goredis.Client, error) {
	n, err := t.Node(name)
	if err != nil {
		return nil, nil, fmt.Errorf("node %q: %w", name, err)
	}
	c, err := n.Client()
	if err != nil {
		return nil, nil, fmt.Errorf("node %q: %w", name, err)
	}
	return n, c, nil
}

// Node is one server of the deployment.
type Node interface {
	// Name is the node's name in the runbook.
	Name() string
	// Client is the controller's client for the node, named ClientName. The
	// topology owns it: callers do not close it.
	Client() (*goredis.Client, error)
	// Address is host:port as other nodes reach it (for REPLICAOF).
	Address() string
	// MasterAuth is what other nodes use to replicate from this one.
	MasterAuth() redis.Auth
	// Upgrade replaces the node's server with version v, keeping its data
	// and its address.
	Upgrade(ctx context.Context, v redis.Version) error
}

// Endpoint is where the application connects: a proxy in a rehearsal, a DNS
// name or a load balancer live.
type Endpoint interface {
	// Hold stops application commands from reaching any node and returns
	// once commands already sent have their replies. A no-op where the
	// endpoint cannot hold (live DNS): the server-side pause protects then.
	Hold(ctx context.Context) error
	// Repoint sends the application to node at addr from now on.
	Repoint(ctx context.Context, node, addr string) error
	// Release ends a hold.
	Release()
	// Target is the node the endpoint points at.
	Target() string
}

// Dialable is an endpoint a program can dial, such as a rehearsal's proxy:
// Address is host:port. Expressions read it as endpoint.NAME.address and
// endpoint.NAME.url. A live endpoint repointed by a command does not know
// the address the application uses.
type Dialable interface {
	Address() string
}

// NodeByAddress finds the node of names whose address is addr.
func NodeByAddress(t Topology, names []string, addr string) (Node, bool) {
	for _, name := range names {
		if n, err := t.Node(name); err == nil && redis.SameAddr(n.Address(), addr) {
			return n, true
		}
	}
	return nil, false
}
