package container

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/testcontainers/testcontainers-go"
	"github.com/understudy/understudy/steps/redis"
)

// pollInterval is the pause between two readiness probes.
const pollInterval = 50 * time.Millisecond

// waitReady polls until the server answers PING with AUTH and has loaded its
// dataset, the container exits, or the start timeout passes.
func (n *Node) waitReady(ctx context.Context) error {
	n.mu.RLock()
	ctr := n.ctr
	n.mu.RUnlock()
	start := time.Now()
	wctx, cancel := context.WithTimeout(ctx, n.startTimeout)
	defer cancel()
	cl := n.adminClient()
	defer cl.Close()
	for {
		err := probe(wctx, cl)
		if err == nil {
			return nil
		}
		if st, serr := ctr.State(wctx); serr == nil && !st.Running {
			return fmt.Errorf("server exited with code %d before it answered (last probe: %w)", st.ExitCode, err)
		}
		select {
		case <-wctx.Done():
			if ctx.Err() != nil {
				return fmt.Errorf("waiting for the server: %w", ctx.Err())
			}
			return fmt.Errorf("server not ready after %s: %w", time.Since(start).Round(time.Millisecond), err)
		case <-time.After(pollInterval):
		}
	}
}

// probe checks that the server answers PING and is not loading its dataset.
func probe(ctx context.Context, cl *goredis.Client) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := ping(ctx, cl); err != nil {
		return err
	}
	info, err := redis.ReadInfo(ctx, cl, "persistence")
	if err != nil {
		return fmt.Errorf("INFO persistence: %w", err)
	}
	if l := info["loading"]; l != "0" {
		return fmt.Errorf("INFO persistence: loading:%s", l)
	}
	return nil
}

// recordRole remembers the master the server follows, if any, so that the
// next container of the node starts as its replica again.
func (n *Node) recordRole(ctx context.Context) error {
	cl := n.adminClient()
	defer cl.Close()
	info, err := redis.ReadInfo(ctx, cl, "replication")
	if err != nil {
		return fmt.Errorf("INFO replication: %w", err)
	}
	replicaOf := ""
	if info["role"] == "slave" {
		replicaOf = info["master_host"] + " " + info["master_port"]
	}
	n.mu.Lock()
	n.replicaOf = replicaOf
	n.mu.Unlock()
	return nil
}

// recordUsers remembers the server's ACL users for its next start. A
// production server keeps them in its configuration (an aclfile or user
// lines), which survives a restart and a package upgrade; a rehearsal
// node's configuration is understudy's, so the users are carried over.
func (n *Node) recordUsers(ctx context.Context) error {
	cl := n.adminClient()
	defer cl.Close()
	users, err := redis.ACLUsers(ctx, cl)
	if err != nil {
		return fmt.Errorf("keep ACL users: %w", err)
	}
	n.mu.Lock()
	n.users = users
	n.mu.Unlock()
	return nil
}

// restoreUsers gives the server the ACL users recordUsers kept.
func (n *Node) restoreUsers(ctx context.Context) error {
	n.mu.RLock()
	users := n.users
	n.mu.RUnlock()
	if len(users) == 0 {
		return nil
	}
	cl := n.adminClient()
	defer cl.Close()
	// A 6.0 user's rules name 6.0's pseudo-commands (post, host:), which
	// 7.0+ refuses; the rest of the user is kept.
	unknown, err := redis.UnknownCommands(ctx, cl, users)
	if err != nil {
		return fmt.Errorf("restore ACL users: %w", err)
	}
	for _, u := range users {
		u.Rules, _ = redis.DropCommandRules(u.Rules, unknown)
		if err := redis.SetACLUser(ctx, cl, n.Name, u); err != nil {
			return fmt.Errorf("restore ACL users: %w", err)
		}
	}
	return nil
}

// save persists the dataset with SAVE, waiting out a background save that
// is already running.
func (n *Node) save(ctx context.Context) error {
	cl := n.adminClient()
	defer cl.Close()
	for {
		err := cl.Do(ctx, "SAVE").Err()
		if err == nil {
			return nil
		}
		if !strings.Contains(err.Error(), "in progress") {
			return fmt.Errorf("SAVE: %w", err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("SAVE: %w (last: %w)", ctx.Err(), err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Stop stops the node's container gracefully: SIGTERM, which makes the
// server save its dataset and exit, then SIGKILL after StopTimeout. The
// container and data stay; Start resumes the node. Stopping a stopped node
// does nothing. A server that did not exit cleanly is an error.
//
// A replica stays one: the master it follows when it stops is written into
// the config of its next start, as a production replica's config file
// names its master. (REPLICAOF NO ONE before Stop makes a master.)
func (n *Node) Stop(ctx context.Context) error {
	n.op.Lock()
	defer n.op.Unlock()
	if err := n.stop(ctx); err != nil {
		return fmt.Errorf("stop node %q: %w", n.Name, err)
	}
	return nil
}

func (n *Node) stop(ctx context.Context) error {
	ctr, running, err := n.container(ctx)
	if err != nil || !running {
		return err
	}
	// Best effort: a server that does not answer keeps the role it had
	// when it last stopped, and its exit code tells what happened.
	_ = n.recordRole(ctx)
	if err := n.recordUsers(ctx); err != nil {
		return err
	}
	code, err := stopContainer(ctx, ctr)
	if err != nil {
		return err
	}
	if code != 0 {
		return fmt.Errorf("server did not exit cleanly (exit code %d; 137 means it was killed after %s), writes after the last save may be lost\ncontainer log (last 20 lines):\n%s",
			code, StopTimeout, n.logTail(ctx, 20))
	}
	return nil
}

// stopContainer stops a container (SIGTERM, SIGKILL after StopTimeout) and
// returns its exit code.
func stopContainer(ctx context.Context, ctr *testcontainers.DockerContainer) (int, error) {
	timeout := StopTimeout
	if err := ctr.Stop(ctx, &timeout); err != nil {
		return 0, err
	}
	st, err := ctr.State(ctx)
	if err != nil {
		return 0, fmt.Errorf("inspect stopped container: %w", err)
	}
	return st.ExitCode, nil
}

// Start starts the node's stopped container again, same version and data,
// and waits until the server answers. Starting a running node only waits
// for it to answer.
func (n *Node) Start(ctx context.Context) error {
	n.op.Lock()
	defer n.op.Unlock()
	if err := n.start(ctx); err != nil {
		return fmt.Errorf("start node %q: %w", n.Name, err)
	}
	return nil
}

func (n *Node) start(ctx context.Context) error {
	ctr, running, err := n.container(ctx)
	if err != nil {
		return err
	}
	if ctr == nil {
		return errors.New("node has no container; Replace starts one")
	}
	if !running {
		if _, err := n.writeConfig(n.Version()); err != nil {
			return err
		}
		if err := ctr.Start(ctx); err != nil {
			return err
		}
	}
	return n.ready(ctx)
}

// Replace is a rehearsal's upgrade (or downgrade): it saves the dataset,
// stops and removes the container, and starts a container of version to
// with the same port, password, data directory and labels. Afterwards
// Version returns to. A replica comes back as a replica of the same master
// (see Stop).
//
// The image of to is resolved (and pulled) before the old server stops. If
// the new server does not become ready, Version reports to and its
// container stays (Logs shows why; usually it has exited). Replace back to
// the old version is then the rollback: a server that fails to load a
// dataset leaves the file as it was.
func (n *Node) Replace(ctx context.Context, to redis.Version) error {
	n.op.Lock()
	defer n.op.Unlock()
	from := n.Version()
	if err := n.replace(ctx, to); err != nil {
		return fmt.Errorf("replace node %q %s→%s: %w", n.Name, from, to, err)
	}
	return nil
}

func (n *Node) replace(ctx context.Context, to redis.Version) error {
	_, running, err := n.container(ctx)
	if err != nil {
		return err
	}
	image, err := n.catalog.Image(ctx, to)
	if err != nil {
		return err
	}
	if err := ensureImage(ctx, image); err != nil {
		return err
	}
	if running {
		if err := n.save(ctx); err != nil {
			return err
		}
	}
	if err := n.stop(ctx); err != nil {
		return err
	}
	if err := n.removeContainer(ctx); err != nil {
		return err
	}
	return n.launchImage(ctx, to, image)
}

// removeContainer removes the node's current container.
func (n *Node) removeContainer(ctx context.Context) error {
	n.mu.RLock()
	ctr := n.ctr
	n.mu.RUnlock()
	if ctr == nil {
		return nil
	}
	cli, err := dockerClient(ctx)
	if err != nil {
		return err
	}
	defer cli.Close()
	if err := removeContainer(ctx, cli, ctr.GetContainerID()); err != nil {
		return err
	}
	n.mu.Lock()
	n.ctr = nil
	n.mu.Unlock()
	return nil
}

// Terminate removes the node's container without saving and deletes its
// temporary files, the default data directory included (a directory given
// with WithDataDir stays). Call Stop first to keep the latest data in such
// a directory. Terminate may be called more than once, and on a nil Node.
func (n *Node) Terminate(ctx context.Context) error {
	if n == nil {
		return nil
	}
	n.op.Lock()
	defer n.op.Unlock()
	n.terminated = true
	var errs []error
	if err := n.removeContainer(ctx); err != nil {
		errs = append(errs, err)
	}
	if n.tmpDir != "" {
		if err := os.RemoveAll(n.tmpDir); err != nil {
			errs = append(errs, err)
		} else {
			n.tmpDir = ""
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("terminate node %q: %w", n.Name, err)
	}
	return nil
}

// ping checks that a server or a sentinel answers PING.
func ping(ctx context.Context, cl *goredis.Client) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	// A plain dial first: go-redis logs every failed dial of its pool.
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", cl.Options().Addr)
	if err != nil {
		return err
	}
	_ = conn.Close()
	if err := cl.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("PING: %w", err)
	}
	return nil
}
