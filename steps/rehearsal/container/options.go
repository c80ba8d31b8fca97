package container

import (
	"time"
)

// DefaultStartTimeout bounds how long Run, Start and Replace wait for a
// server to answer.
const DefaultStartTimeout = 60 * time.Second

// StopTimeout is how long a server gets to save and exit after SIGTERM
// before it is killed.
const StopTimeout = 30 * time.Second

// Logger receives the messages of testcontainers-go; log.Logger and
// testcontainers' log.TestLogger satisfy it.
type Logger interface {
	Printf(format string, v ...any)
}

// Option changes how Run starts a node.
type Option func(*options)

type options struct {
	password     string
	passwordSet  bool
	user         string
	catalog      *Catalog
	port         int
	session      string
	dataDir      string
	startTimeout time.Duration
	logger       Logger
	pid          int // label value; tests set a dead one

	cluster            bool
	clusterNodeTimeout time.Duration
}

// WithPassword sets requirepass and masterauth. The default is 32 random
// hex characters; the empty string runs the node without a password.
func WithPassword(p string) Option {
	return func(o *options) { o.password, o.passwordSet = p, true }
}

// WithCatalog chooses the image catalog. The default is CatalogFromEnv.
func WithCatalog(c Catalog) Option {
	return func(o *options) { o.catalog = &c }
}

// WithPort sets the loopback port the server listens on. The default is a
// port that was free when Run started.
func WithPort(port int) Option {
	return func(o *options) { o.port = port }
}

// WithSession sets the session the node belongs to: it names the container
// (understudy-<session>-<name>) and RemoveSession removes every node of a
// session. The default is a random session per node.
func WithSession(id string) Option {
	return func(o *options) { o.session = id }
}

// WithDataDir sets the host directory mounted at /data, where the server
// keeps dump.rdb. The directory must exist and is left in place by
// Terminate. The default is a temporary directory that Terminate removes.
func WithDataDir(dir string) Option {
	return func(o *options) { o.dataDir = dir }
}

// WithStartTimeout bounds how long the node's server may take to answer
// after its container starts (default DefaultStartTimeout).
func WithStartTimeout(d time.Duration) Option {
	return func(o *options) { o.startTimeout = d }
}

// WithLogger receives the messages of testcontainers-go, which are
// discarded by default.
func WithLogger(l Logger) Option {
	return func(o *options) { o.logger = l }
}

// WithUser adds an ACL user to the node's configuration with the node's
// password and every permission, next to the default user: the user the
// runbook's application authenticates as. "" and "default" add none.
func WithUser(name string) Option {
	return func(o *options) { o.user = name }
}

// WithCluster starts the node in cluster mode (cluster-enabled yes), as a
// data node that CreateCluster can join to others. Its nodes.conf is kept
// in the data directory, so the node keeps its id, its slots and its role
// across Stop, Start and Replace; its cluster bus listens on the port +
// 10000 (the default on every version), which must then be free as well.
// cluster-node-timeout is DefaultClusterNodeTimeout unless
// WithClusterNodeTimeout sets it.
func WithCluster() Option {
	return func(o *options) { o.cluster = true }
}

// WithClusterNodeTimeout sets cluster-node-timeout, a whole number of
// milliseconds, and implies WithCluster.
func WithClusterNodeTimeout(d time.Duration) Option {
	return func(o *options) { o.cluster, o.clusterNodeTimeout = true, d }
}
