package steps

import (
	"context"
	"github.com/understudy/understudy/steps/redis"

	goredis "github.com/redis/go-redis/v9"
)

// Backend is the node contract: how the interpreter reaches the nodes of a
// runbook. Rehearsal implements it with containers, live mode with addresses
// and lifecycle commands.
type Backend interface {
	// Client returns the controller's client for a node. The backend owns
	// it; callers do not close it.
	Client(node string) (*goredis.Client, error)
	// Address is host:port as other nodes reach the node (for REPLICAOF).
	Address(node string) (string, error)
	// MasterAuth is what other nodes use to replicate from this one: the
	// ACL user ("" for the default user) and the password ("" when none).
	// Secrets: never log them.
	MasterAuth(node string) Auth
	// Upgrade replaces the node's server with version v, keeping its data
	// and address.
	Upgrade(ctx context.Context, node string, v redis.Version) error
}

// Endpoint is where the application connects: a proxy in a rehearsal, a
// DNS name or load balancer live.
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

// Auth is a node's credentials as its replicas need them.
type Auth struct {
	User, Password string
}
