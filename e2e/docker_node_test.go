package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/understudy/understudy/internal/redistest"
)

// dockerNode is a server run the way an operator runs one with Docker, as
// runbooks/docker-node.sh expects: a named container on the host's network,
// its data directory (/data) on a named volume, RDB snapshots on, the
// password and the port on its command line.
type dockerNode struct {
	*liveServer
}

// startDockerNode runs image (e.g. "understudy/redis:7.0") as such a
// container on a free port and removes the container and its volume when
// the test ends, whatever image runs it by then.
func startDockerNode(t *testing.T, role, image, password string) *dockerNode {
	t.Helper()
	port := redistest.FreePort(t)
	name := fmt.Sprintf("understudy-e2e-%s-%d-%d", role, os.Getpid(), port)
	n := &dockerNode{&liveServer{
		name: name, image: image, addr: fmt.Sprintf("127.0.0.1:%d", port), password: password, port: port,
		volume: name + "-data", save: "60 1000",
	}}
	t.Cleanup(func() {
		_ = exec.Command("docker", "rm", "-f", n.name).Run()
		_ = exec.Command("docker", "volume", "rm", "-f", n.volume).Run()
	})
	n.run(t)
	return n
}

// inspect reads a Go template of docker inspect for the node's container.
func (n *dockerNode) inspect(t *testing.T, format string) string {
	t.Helper()
	out, err := exec.Command("docker", "inspect", "-f", format, n.name).CombinedOutput()
	if err != nil {
		t.Fatalf("docker inspect %s: %v\n%s", n.name, err, out)
	}
	return strings.TrimSpace(string(out))
}

// loadedKeys is how many keys the server of the node's current container
// loaded from its data directory when it started, from its log.
func (n *dockerNode) loadedKeys(t *testing.T) int {
	t.Helper()
	out, err := exec.Command("docker", "logs", n.name).CombinedOutput()
	if err != nil {
		t.Fatalf("docker logs %s: %v\n%s", n.name, err, out)
	}
	m := loadedRe.FindSubmatch(out)
	if m == nil {
		return -1
	}
	keys, _ := strconv.Atoi(string(m[1]))
	return keys
}

// loadedRe is the line a server logs once it loaded an RDB file.
var loadedRe = regexp.MustCompile(`Done loading RDB, keys loaded: (\d+)`)

// replicaOf makes n a replica of master at runtime (REPLICAOF, as an
// operator or a Sentinel does) and waits until its link is up.
func (n *dockerNode) replicaOf(t *testing.T, master *dockerNode) {
	t.Helper()
	c := n.client()
	defer c.Close()
	ctx := context.Background()
	if err := c.Do(ctx, "REPLICAOF", "127.0.0.1", master.port).Err(); err != nil {
		t.Fatalf("REPLICAOF: %v", err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		info, err := c.Info(ctx, "replication").Result()
		if err == nil && strings.Contains(info, "master_link_status:up") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not sync with %s: %v\n%s", n.name, master.name, err, info)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
