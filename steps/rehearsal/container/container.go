package container

import (
	"context"
	"errors"
	"fmt"
	"github.com/understudy/understudy/steps/redis"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	dockercontainer "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	goredis "github.com/redis/go-redis/v9"
	"github.com/testcontainers/testcontainers-go"
	tclog "github.com/testcontainers/testcontainers-go/log"
)

// Node is a rehearsal server: one container at a time, on a fixed loopback
// port, with a data directory that outlives the containers. Replace swaps
// the container for another version, which is how a rehearsal upgrades.
//
// A Node's methods may be called from several goroutines; lifecycle
// operations (Stop, Start, Replace, Terminate) run one at a time.
type Node struct {
	// Name is the node's name in the runbook.
	Name string

	port         int
	password     string
	user         string
	session      string
	catalog      Catalog
	dataDir      string
	tmpDir       string // owned: holds server.conf and the default data dir
	terminated   bool   // under op
	startTimeout time.Duration
	logger       Logger
	labels       map[string]string
	// clusterNodeTimeout is cluster-node-timeout; zero for a node that is
	// not in cluster mode (WithCluster).
	clusterNodeTimeout time.Duration

	op sync.Mutex // serializes lifecycle operations

	mu      sync.RWMutex // guards the fields below
	version redis.Version
	image   string
	ctr     *testcontainers.DockerContainer

	// replicaOf is the master ("host port") the server followed when it
	// was last stopped by Stop or Replace, written into the next config.
	replicaOf string
	// users are the ACL users (all but default) the server had when it
	// was last stopped, given back when it is ready again.
	users []redis.ACLUser
}

// Run starts a node of version v named name and waits until its server
// answers. The node listens on 127.0.0.1 through host networking; its
// configuration, password included, is a file mounted read-only into the
// container, never a command-line argument. The caller terminates the node.
func Run(ctx context.Context, name string, v redis.Version, opts ...Option) (*Node, error) {
	n, err := newNode(name, opts)
	if err != nil {
		return nil, fmt.Errorf("run node %q (%s): %w", name, v, err)
	}
	if err := n.launch(ctx, v); err != nil {
		err = fmt.Errorf("run node %q (%s): %w", name, v, err)
		if terr := n.Terminate(context.WithoutCancel(ctx)); terr != nil {
			err = errors.Join(err, terr)
		}
		return nil, err
	}
	return n, nil
}

func newNode(name string, opts []Option) (*Node, error) {
	if err := setup(); err != nil {
		return nil, err
	}
	o := options{startTimeout: DefaultStartTimeout, pid: os.Getpid()}
	for _, opt := range opts {
		opt(&o)
	}
	if !o.passwordSet {
		o.password = randomHex(16)
	}
	if o.session == "" {
		o.session = NewSessionID()
	}
	if err := checkName("node name", name); err != nil {
		return nil, err
	}
	if err := checkName("session", o.session); err != nil {
		return nil, err
	}
	if o.catalog == nil {
		c, err := CatalogFromEnv()
		if err != nil {
			return nil, err
		}
		o.catalog = &c
	}
	if o.port < 0 || o.port > 65535 {
		return nil, fmt.Errorf("port %d is out of range", o.port)
	}
	if o.startTimeout <= 0 {
		o.startTimeout = DefaultStartTimeout
	}
	if o.cluster {
		if err := o.checkCluster(); err != nil {
			return nil, err
		}
	}
	if o.port == 0 {
		pick := freePort
		if o.cluster {
			pick = freeClusterPort
		}
		p, err := pick()
		if err != nil {
			return nil, err
		}
		o.port = p
	}
	if o.logger == nil {
		o.logger = tclog.NewNoopLogger()
	}
	if o.dataDir != "" {
		abs, err := filepath.Abs(o.dataDir)
		if err != nil {
			return nil, fmt.Errorf("data dir: %w", err)
		}
		if fi, err := os.Stat(abs); err != nil || !fi.IsDir() {
			return nil, fmt.Errorf("data dir %s is not a directory", abs)
		}
		o.dataDir = abs
	}
	tmp, err := os.MkdirTemp("", "understudy-"+o.session+"-"+name+"-")
	if err != nil {
		return nil, fmt.Errorf("temp dir: %w", err)
	}
	if o.dataDir == "" {
		o.dataDir = filepath.Join(tmp, "data")
		if err := os.Mkdir(o.dataDir, 0o700); err != nil {
			_ = os.RemoveAll(tmp)
			return nil, fmt.Errorf("data dir: %w", err)
		}
	}
	host, _ := os.Hostname()
	return &Node{
		Name:         name,
		port:         o.port,
		password:     o.password,
		user:         o.user,
		session:      o.session,
		catalog:      *o.catalog,
		dataDir:      o.dataDir,
		tmpDir:       tmp,
		startTimeout: o.startTimeout,
		logger:       o.logger,

		clusterNodeTimeout: o.clusterNodeTimeout,
		labels: map[string]string{
			LabelSession: o.session,
			LabelNode:    name,
			LabelPID:     strconv.Itoa(o.pid),
			LabelHost:    host,
			LabelTempDir: tmp,
		},
	}, nil
}

// Version returns the version of the node's current container.
func (n *Node) Version() redis.Version {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.version
}

// Image returns the image of the node's current container.
func (n *Node) Image() string {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.image
}

// ContainerID returns the id of the node's current container, or "" after
// Terminate.
func (n *Node) ContainerID() string {
	n.mu.RLock()
	defer n.mu.RUnlock()
	if n.ctr == nil {
		return ""
	}
	return n.ctr.GetContainerID()
}

// Addr returns host:port, the same for every container of the node.
func (n *Node) Addr() string { return net.JoinHostPort(n.Host(), strconv.Itoa(n.port)) }

// Host returns the address the server listens on: 127.0.0.1.
func (n *Node) Host() string { return "127.0.0.1" }

// Port returns the server's loopback port.
func (n *Node) Port() int { return n.port }

// Password returns the server's requirepass and masterauth.
func (n *Node) Password() string { return n.password }

// Session returns the session the node belongs to.
func (n *Node) Session() string { return n.session }

// DataDir returns the host directory mounted at /data.
func (n *Node) DataDir() string { return n.dataDir }

// Client returns a new go-redis client for the node; the caller closes it.
func (n *Node) Client() *goredis.Client {
	return goredis.NewClient(&goredis.Options{Addr: n.Addr(), Password: n.password})
}

// adminClient is the controller's own connection: no retries (callers
// poll), deadlines from the context, RESP2 with AUTH on every version.
func (n *Node) adminClient() *goredis.Client {
	return goredis.NewClient(&goredis.Options{
		Addr:                  n.Addr(),
		Password:              n.password,
		Protocol:              2,
		DisableIdentity:       true,
		MaxRetries:            -1,
		DialerRetries:         1,
		DialTimeout:           time.Second,
		ReadTimeout:           -1, // the context's deadline, if any
		ContextTimeoutEnabled: true,
		PoolSize:              1,
	})
}

// Logs returns the output of the node's current container.
func (n *Node) Logs(ctx context.Context) (string, error) {
	n.mu.RLock()
	ctr := n.ctr
	n.mu.RUnlock()
	if ctr == nil {
		return "", fmt.Errorf("node %q has no container", n.Name)
	}
	rc, err := ctr.Logs(ctx)
	if err != nil {
		return "", fmt.Errorf("logs of node %q: %w", n.Name, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return string(b), fmt.Errorf("logs of node %q: %w", n.Name, err)
	}
	return string(b), nil
}

// logTail returns the last lines of the container log for an error
// message, even when ctx has ended.
func (n *Node) logTail(ctx context.Context, lines int) string {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	out, err := n.Logs(ctx)
	if err != nil && out == "" {
		return "(no log: " + err.Error() + ")"
	}
	all := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}

func (n *Node) containerName() string { return "understudy-" + n.session + "-" + n.Name }

// launch starts a container of version v and waits until it is ready. On
// failure the container, if any, stays for Logs and the error carries the
// end of its log.
func (n *Node) launch(ctx context.Context, v redis.Version) error {
	image, err := n.catalog.Image(ctx, v)
	if err != nil {
		return err
	}
	if err := ensureImage(ctx, image); err != nil {
		return err
	}
	return n.launchImage(ctx, v, image)
}

// writeConfig writes the server config for version v. The file is
// rewritten in place, so a running bind mount sees the new content.
func (n *Node) writeConfig(v redis.Version) (string, error) {
	conf := filepath.Join(n.tmpDir, "server.conf")
	n.mu.RLock()
	replicaOf := n.replicaOf
	n.mu.RUnlock()
	if n.Cluster() {
		// A cluster node's role is in its nodes.conf; the server refuses
		// a replicaof directive in cluster mode.
		replicaOf = ""
	}
	text := serverConfig(v, n.port, n.password, replicaOf) + userConfig(v, n.user, n.password) + n.clusterConfig()
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		return "", fmt.Errorf("write server config: %w", err)
	}
	return conf, nil
}

func (n *Node) launchImage(ctx context.Context, v redis.Version, image string) error {
	conf, err := n.writeConfig(v)
	if err != nil {
		return err
	}
	if err := n.startContainer(ctx, v, image, serverBinary(v.Engine), confPath,
		mount.Mount{Type: mount.TypeBind, Source: conf, Target: confPath, ReadOnly: true}); err != nil {
		return err
	}
	return n.ready(ctx)
}

// startContainer runs program with its config file argument from image as
// the node's container and records it: host networking, the session's
// labels and name, root inside without capabilities but DAC_OVERRIDE (it
// reads a 0600 config and writes the data dir whoever owns them on the
// host; the official images' entrypoint, which would switch to their own
// user, is bypassed on purpose), the data directory mounted at dataPath,
// plus mounts.
func (n *Node) startContainer(ctx context.Context, v redis.Version, image, program, arg string, mounts ...mount.Mount) error {
	stopSeconds := int(StopTimeout / time.Second)
	ctr, err := testcontainers.Run(ctx, image,
		testcontainers.WithLogger(n.logger),
		testcontainers.WithName(n.containerName()),
		testcontainers.WithLabels(n.labels),
		testcontainers.WithEntrypoint(program),
		testcontainers.WithCmd(arg),
		testcontainers.WithConfigModifier(func(c *dockercontainer.Config) {
			c.User = "0:0"
			c.WorkingDir = dataPath
			c.StopTimeout = &stopSeconds
		}),
		testcontainers.WithHostConfigModifier(func(hc *dockercontainer.HostConfig) {
			hc.NetworkMode = "host"
			hc.CapDrop = []string{"ALL"}
			hc.CapAdd = []string{"DAC_OVERRIDE"}
			hc.SecurityOpt = append(hc.SecurityOpt, "no-new-privileges")
			hc.Mounts = append(hc.Mounts, mounts...)
			hc.Mounts = append(hc.Mounts, mount.Mount{Type: mount.TypeBind, Source: n.dataDir, Target: dataPath})
		}),
	)
	n.mu.Lock()
	n.version, n.image, n.ctr = v, image, ctr
	n.mu.Unlock()
	if err != nil {
		if ctr == nil {
			return fmt.Errorf("start container %s from %s: %w", n.containerName(), image, err)
		}
		return fmt.Errorf("start container %s from %s: %w\ncontainer log (last 20 lines):\n%s", n.containerName(), image, err, n.logTail(ctx, 20))
	}
	return nil
}

// ready waits for the current container's server.
func (n *Node) ready(ctx context.Context) error {
	if err := n.waitReady(ctx); err != nil {
		return fmt.Errorf("%s on %s (image %s): %w\ncontainer log (last 20 lines):\n%s", n.Version(), n.Addr(), n.Image(), err, n.logTail(ctx, 20))
	}
	return n.restoreUsers(ctx)
}

// errTerminated is returned by the lifecycle operations of a terminated
// node.
var errTerminated = errors.New("node was terminated")

// container returns the node's current container, nil if it has none, and
// whether it runs as the engine sees it: a server may have died on its own.
func (n *Node) container(ctx context.Context) (*testcontainers.DockerContainer, bool, error) {
	if n.terminated {
		return nil, false, errTerminated
	}
	n.mu.RLock()
	ctr := n.ctr
	n.mu.RUnlock()
	if ctr == nil {
		return nil, false, nil
	}
	st, err := ctr.State(ctx)
	if err != nil {
		return ctr, false, fmt.Errorf("inspect container: %w", err)
	}
	return ctr, st.Running, nil
}
