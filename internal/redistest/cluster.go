package redistest

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// The settings of a ClusterSet's nodes. The node timeout is shorter than
// Redis's default (15 s) so that a test sees a stopped node flagged pfail
// within seconds, and long enough that a loaded two-core machine does not
// flag a healthy node; manual failovers (CLUSTER FAILOVER) do not depend
// on it. Replicas sync without the diskless delay (7.0's default is 5 s),
// which only shortens the set-up.
const (
	ClusterNodeTimeout = 3 * time.Second
	// ClusterReadyTimeout bounds StartCluster's wait for a healthy cluster.
	ClusterReadyTimeout = 30 * time.Second
	clusterSlots        = 16384
)

// ClusterSet is a Redis Cluster of real redis-server processes on
// 127.0.0.1: masters with replicas of their own, every node with
// cluster-enabled yes, its nodes.conf in its own directory and the set's
// password (requirepass and masterauth).
type ClusterSet struct {
	Password string
	masters  []*Server
	replicas [][]*Server // by master, as started
	ids      map[*Server]string
}

// Masters returns the nodes started as masters (roles change with
// failovers), master i owning the i-th even share of the slots.
func (c *ClusterSet) Masters() []*Server { return append([]*Server(nil), c.masters...) }

// Replicas returns every node started as a replica, by master in order.
func (c *ClusterSet) Replicas() []*Server {
	var out []*Server
	for _, rs := range c.replicas {
		out = append(out, rs...)
	}
	return out
}

// ReplicasOf returns the nodes started as replicas of the i-th master.
func (c *ClusterSet) ReplicasOf(i int) []*Server { return append([]*Server(nil), c.replicas[i]...) }

// Nodes returns every node: the masters, then the replicas.
func (c *ClusterSet) Nodes() []*Server { return append(c.Masters(), c.Replicas()...) }

// Addrs returns every node's address, in the order of Nodes.
func (c *ClusterSet) Addrs() []string {
	var out []string
	for _, s := range c.Nodes() {
		out = append(out, s.Addr)
	}
	return out
}

// ID returns a node's cluster node ID.
func (c *ClusterSet) ID(s *Server) string { return c.ids[s] }

// ServerByAddr returns the node listening on addr.
func (c *ClusterSet) ServerByAddr(t testing.TB, addr string) *Server {
	t.Helper()
	for _, s := range c.Nodes() {
		if s.Addr == addr {
			return s
		}
	}
	t.Fatalf("redistest: no node of the cluster listens on %s", addr)
	return nil
}

// ServerByID returns the node with the cluster node ID id.
func (c *ClusterSet) ServerByID(t testing.TB, id string) *Server {
	t.Helper()
	for s, sid := range c.ids {
		if sid == id {
			return s
		}
	}
	t.Fatalf("redistest: no node of the cluster has the ID %s", id)
	return nil
}

// ClusterClient returns a new go-redis cluster client seeded with every
// node's address; the caller closes it.
func (c *ClusterSet) ClusterClient() *redis.ClusterClient {
	return redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs(), Password: c.Password})
}

// StartCluster starts masters × (1 + replicasPerMaster) redis-servers with
// cluster-enabled yes on free loopback ports, gives each a distinct config
// epoch, joins them (CLUSTER MEET), spreads the 16384 slots evenly over
// the masters (CLUSTER ADDSLOTS, which every version has), makes
// replicasPerMaster replicas of each (CLUSTER REPLICATE), and waits until
// the cluster is ready (WaitReady). Everything is stopped when t ends.
// opts apply to every node (WithPassword is ignored: the set picks one
// password for all).
func StartCluster(t testing.TB, masters, replicasPerMaster int, opts ...Option) *ClusterSet {
	t.Helper()
	if masters < 1 || replicasPerMaster < 0 {
		t.Fatalf("redistest: StartCluster(%d, %d): want at least one master", masters, replicasPerMaster)
	}
	pw := RandomPassword()
	nodeOpts := append([]Option{WithArgs(
		"--cluster-enabled", "yes",
		"--cluster-config-file", "nodes.conf", // relative to --dir: one per node
		"--cluster-node-timeout", strconv.FormatInt(ClusterNodeTimeout.Milliseconds(), 10),
		"--repl-diskless-sync-delay", "0",
	)}, opts...)
	nodeOpts = append(nodeOpts, WithPassword(pw))
	set := &ClusterSet{Password: pw, ids: map[*Server]string{}}
	for i := 0; i < masters; i++ {
		set.masters = append(set.masters, Start(t, nodeOpts...))
	}
	for i := 0; i < masters; i++ {
		var rs []*Server
		for j := 0; j < replicasPerMaster; j++ {
			rs = append(rs, Start(t, nodeOpts...))
		}
		set.replicas = append(set.replicas, rs)
	}
	ctx, cancel := context.WithTimeout(context.Background(), ClusterReadyTimeout)
	defer cancel()
	if err := set.create(ctx); err != nil {
		t.Fatalf("redistest: create the cluster: %v", err)
	}
	set.WaitReady(t, ClusterReadyTimeout)
	return set
}

// create runs the cluster's set-up commands.
func (c *ClusterSet) create(ctx context.Context) error {
	nodes := c.Nodes()
	clients := make([]*redis.Client, len(nodes))
	for i, s := range nodes {
		clients[i] = s.Client()
		defer clients[i].Close()
	}
	for i, s := range nodes {
		id, err := clients[i].Do(ctx, "CLUSTER", "MYID").Text()
		if err != nil {
			return fmt.Errorf("CLUSTER MYID on %s: %w", s.Addr, err)
		}
		c.ids[s] = id
		// Distinct epochs from the start, as redis-cli --cluster create
		// does: no epoch collision to resolve.
		if err := clients[i].Do(ctx, "CLUSTER", "SET-CONFIG-EPOCH", i+1).Err(); err != nil {
			return fmt.Errorf("CLUSTER SET-CONFIG-EPOCH %d on %s: %w", i+1, s.Addr, err)
		}
	}
	for _, s := range nodes[1:] {
		if err := clients[0].Do(ctx, "CLUSTER", "MEET", s.Host, s.Port).Err(); err != nil {
			return fmt.Errorf("CLUSTER MEET %s on %s: %w", s.Addr, nodes[0].Addr, err)
		}
	}
	for i, s := range c.masters {
		lo, hi := i*clusterSlots/len(c.masters), (i+1)*clusterSlots/len(c.masters)
		args := []any{"CLUSTER", "ADDSLOTS"}
		for slot := lo; slot < hi; slot++ {
			args = append(args, slot)
		}
		if err := clients[i].Do(ctx, args...).Err(); err != nil {
			return fmt.Errorf("CLUSTER ADDSLOTS %d-%d on %s: %w", lo, hi-1, s.Addr, err)
		}
	}
	// A replica can only follow a master it knows: wait until every node
	// knows every other one.
	if err := poll(ctx, func() string { return c.notMet(ctx, clients) }); err != nil {
		return err
	}
	for i, m := range c.masters {
		for _, r := range c.replicas[i] {
			rc := clients[indexOf(nodes, r)]
			if err := rc.Do(ctx, "CLUSTER", "REPLICATE", c.ids[m]).Err(); err != nil {
				return fmt.Errorf("CLUSTER REPLICATE %s (%s) on %s: %w", c.ids[m], m.Addr, r.Addr, err)
			}
		}
	}
	return nil
}

// notMet says which node does not know every other node yet, "" when all
// do.
func (c *ClusterSet) notMet(ctx context.Context, clients []*redis.Client) string {
	nodes := c.Nodes()
	for i, cl := range clients {
		text, err := cl.Do(ctx, "CLUSTER", "NODES").Text()
		if err != nil {
			return fmt.Sprintf("CLUSTER NODES on %s: %v", nodes[i].Addr, err)
		}
		known := 0
		for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
			f := strings.Fields(line)
			if len(f) >= 3 && !strings.Contains(f[2], "handshake") && !strings.Contains(f[2], "noaddr") {
				known++
			}
		}
		if known != len(nodes) {
			return fmt.Sprintf("%s knows %d of the %d nodes", nodes[i].Addr, known, len(nodes))
		}
	}
	return ""
}

// WaitReady waits until every node of the set answers, reports
// cluster_state:ok with every slot ok, knows every node of the set with
// no fail, pfail, handshake or noaddr flag, every node sees the same roles,
// masters, config epochs and slots, and every node that is a
// replica in its own view has its replication link up and no sync in
// progress. It holds whatever the roles are after failovers; the test
// fails after timeout, saying what was missing.
func (c *ClusterSet) WaitReady(t testing.TB, timeout time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	nodes := c.Nodes()
	clients := make([]*redis.Client, len(nodes))
	for i, s := range nodes {
		clients[i] = s.Client()
		defer clients[i].Close()
	}
	if err := poll(ctx, func() string { return c.notReady(ctx, clients) }); err != nil {
		t.Fatalf("redistest: cluster not ready after %s: %v", timeout, err)
	}
}

// notReady says what is missing for WaitReady, "" when nothing.
func (c *ClusterSet) notReady(ctx context.Context, clients []*redis.Client) string {
	nodes := c.Nodes()
	var first string // the first node's view
	for i, cl := range clients {
		addr := nodes[i].Addr
		info, err := cl.ClusterInfo(ctx).Result()
		if err != nil {
			return fmt.Sprintf("CLUSTER INFO on %s: %v", addr, err)
		}
		if !strings.Contains(info, "cluster_state:ok") || !strings.Contains(info, "cluster_slots_ok:"+strconv.Itoa(clusterSlots)) {
			return fmt.Sprintf("%s: not ok yet: %s", addr, strings.Join(strings.Fields(info), " "))
		}
		text, err := cl.ClusterNodes(ctx).Result()
		if err != nil {
			return fmt.Sprintf("CLUSTER NODES on %s: %v", addr, err)
		}
		lines := strings.Split(strings.TrimSpace(text), "\n")
		if len(lines) != len(nodes) {
			return fmt.Sprintf("%s knows %d nodes, want %d", addr, len(lines), len(nodes))
		}
		replica := false
		var sig []string
		for _, line := range lines {
			f := strings.Fields(line)
			if len(f) < 8 {
				return fmt.Sprintf("%s: short CLUSTER NODES line %q", addr, line)
			}
			role := "master"
			for _, flag := range strings.Split(f[2], ",") {
				switch flag {
				case "fail", "fail?", "handshake", "noaddr":
					return fmt.Sprintf("%s sees %s as %s", addr, f[1], f[2])
				case "slave":
					role = "slave"
				}
			}
			if strings.Contains(f[2], "myself") {
				replica = role == "slave"
			}
			// Who is what, and for masters their epoch and slots: every
			// node must see the same.
			entry := f[0] + " " + role + " " + f[3]
			if role == "master" {
				entry += " " + f[6] + " " + strings.Join(f[8:], " ")
			}
			sig = append(sig, entry)
		}
		sort.Strings(sig)
		if i == 0 {
			first = strings.Join(sig, "\n")
		} else if got := strings.Join(sig, "\n"); got != first {
			return fmt.Sprintf("%s and %s disagree on the configuration:\n%s\nand\n%s", nodes[0].Addr, addr, first, got)
		}
		if replica {
			r, err := cl.Info(ctx, "replication").Result()
			if err != nil {
				return fmt.Sprintf("INFO replication on %s: %v", addr, err)
			}
			if !strings.Contains(r, "master_link_status:up") || !strings.Contains(r, "master_sync_in_progress:0") {
				return fmt.Sprintf("the replica %s's link is not up yet", addr)
			}
		}
	}
	return ""
}

// poll calls notYet every 20 ms until it returns "" or ctx ends; the error
// then carries its last answer.
func poll(ctx context.Context, notYet func() string) error {
	for {
		why := notYet()
		if why == "" {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: %s", ctx.Err(), why)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func indexOf(nodes []*Server, s *Server) int {
	for i, n := range nodes {
		if n == s {
			return i
		}
	}
	return -1
}
