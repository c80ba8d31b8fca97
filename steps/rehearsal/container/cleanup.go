package container

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	dockercontainer "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
)

// Labels on every node container. Cleanup finds containers through them,
// so it never depends on testcontainers' Ryuk.
const (
	// LabelSession is the session the node belongs to (WithSession).
	LabelSession = "org.understudy.session"
	// LabelNode is the node's name.
	LabelNode = "org.understudy.node"
	// LabelPID is the id of the process that started the node.
	LabelPID = "org.understudy.pid"
	// LabelHost is the host name of the machine (or container) that
	// process runs on: a pid means something only there.
	LabelHost = "org.understudy.host"
	// LabelTempDir is the node's temporary directory on that host (server
	// config and default data dir), removed with the container.
	LabelTempDir = "org.understudy.tmpdir"
)

// RemoveSession removes every container of the session, running or not,
// and the temporary directories of the nodes started on this host.
func RemoveSession(ctx context.Context, session string) error {
	if session == "" {
		return errors.New("remove session: empty session id")
	}
	_, err := removeWhere(ctx, LabelSession+"="+session, func(dockercontainer.Summary) bool { return true })
	if err != nil {
		return fmt.Errorf("remove session %q: %w", session, err)
	}
	return nil
}

// RemoveStale removes the node containers left by processes of this host
// that no longer run (a crashed or killed earlier run), with their
// temporary directories, and returns how many containers it removed.
// Containers of running processes and of other hosts are left alone.
func RemoveStale(ctx context.Context) (int, error) {
	host, err := os.Hostname()
	if err != nil {
		return 0, fmt.Errorf("remove stale nodes: %w", err)
	}
	n, err := removeWhere(ctx, LabelPID, func(c dockercontainer.Summary) bool {
		if c.Labels[LabelHost] != host {
			return false
		}
		pid, err := strconv.Atoi(c.Labels[LabelPID])
		if err != nil || pid <= 0 {
			return false
		}
		return pid != os.Getpid() && !processAlive(pid)
	})
	if err != nil {
		return n, fmt.Errorf("remove stale nodes: %w", err)
	}
	return n, nil
}

// removeWhere removes the containers that carry the label filter (key or
// key=value) and satisfy keep, and their temporary directories when they
// were made on this host.
func removeWhere(ctx context.Context, label string, match func(dockercontainer.Summary) bool) (int, error) {
	cli, err := dockerClient(ctx)
	if err != nil {
		return 0, err
	}
	defer cli.Close()
	list, err := listNodes(ctx, cli, label)
	if err != nil {
		return 0, err
	}
	host, _ := os.Hostname()
	var errs []error
	removed := 0
	for _, c := range list {
		if !match(c) {
			continue
		}
		if err := removeContainer(ctx, cli, c.ID); err != nil {
			errs = append(errs, err)
			continue
		}
		removed++
		if c.Labels[LabelHost] == host {
			if dir := c.Labels[LabelTempDir]; isOwnTempDir(dir) {
				if err := os.RemoveAll(dir); err != nil {
					errs = append(errs, err)
				}
			}
		}
	}
	return removed, errors.Join(errs...)
}

// listNodes lists the containers, running or not, that carry label.
func listNodes(ctx context.Context, cli *testcontainers.DockerClient, label string) ([]dockercontainer.Summary, error) {
	res, err := cli.ContainerList(ctx, client.ContainerListOptions{
		All:     true,
		Filters: make(client.Filters).Add("label", label),
	})
	if err != nil {
		return nil, fmt.Errorf("list containers with label %s: %w", label, err)
	}
	return res.Items, nil
}

// isOwnTempDir reports whether dir looks like a directory newNode made, so
// that a label never makes cleanup delete anything else.
func isOwnTempDir(dir string) bool {
	if dir == "" || !filepath.IsAbs(dir) {
		return false
	}
	dir = filepath.Clean(dir)
	return filepath.Dir(dir) == filepath.Clean(os.TempDir()) &&
		strings.HasPrefix(filepath.Base(dir), "understudy-")
}
