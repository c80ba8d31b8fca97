package container

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/understudy/understudy/steps/redis"
)

// A cluster node is a Node started WithCluster: the same container, data
// directory and Replace, with cluster-enabled yes and its cluster state in
// the data directory. CreateCluster joins such nodes into one cluster the
// way redis-cli --cluster create does, and WaitCluster waits until they
// agree again, after a failover or a Replace.

// ClusterSlots is the number of hash slots of a Redis Cluster.
const ClusterSlots = 16384

// DefaultClusterNodeTimeout is the cluster-node-timeout of a node started
// WithCluster: a realistic production value (the server's default is 15 s).
const DefaultClusterNodeTimeout = 5 * time.Second

// DefaultClusterTimeout bounds how long CreateCluster and WaitCluster wait
// for the nodes to form one healthy cluster.
const DefaultClusterTimeout = 60 * time.Second

// clusterBusOffset is the distance from a node's port to its cluster bus
// port. It is the default of every version: cluster-port (7.0+) is not
// written, so a node keeps its bus port when Replace crosses 6.0.
const clusterBusOffset = 10000

// clusterConfName is a cluster node's own state (its id, epochs, role,
// slots and the nodes it knows) in its data directory. The server rewrites
// it; being in the data directory, it survives Replace like dump.rdb.
const clusterConfName = "nodes.conf"

// checkCluster validates the cluster options and fills in their defaults.
func (o *options) checkCluster() error {
	if o.clusterNodeTimeout == 0 {
		o.clusterNodeTimeout = DefaultClusterNodeTimeout
	}
	if d := o.clusterNodeTimeout; d < time.Millisecond || d%time.Millisecond != 0 {
		return fmt.Errorf("cluster-node-timeout %s must be a positive whole number of milliseconds", d)
	}
	if o.port != 0 && o.port+clusterBusOffset > 65535 {
		return fmt.Errorf("port %d: a cluster node's bus listens on its port + %d, and %d is not a port", o.port, clusterBusOffset, o.port+clusterBusOffset)
	}
	return nil
}

// freeClusterPort returns a loopback port that was free a moment ago, and
// whose cluster bus port (+10000) was free too.
func freeClusterPort() (int, error) {
	const tries = 50
	for range tries {
		p, err := freePort()
		if err != nil {
			return 0, err
		}
		if p+clusterBusOffset > 65535 {
			continue
		}
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p+clusterBusOffset)))
		if err != nil {
			continue
		}
		_ = l.Close()
		if !reservePort(p + clusterBusOffset) {
			continue
		}
		return p, nil
	}
	return 0, fmt.Errorf("find a free port whose cluster bus port (+%d) is free too: none in %d tries", clusterBusOffset, tries)
}

// clusterConfig is the cluster part of a node's configuration, "" for a
// node that is not in cluster mode. The node announces 127.0.0.1, the
// address it listens on and clients dial. Its replicas authenticate to
// their master as the node's ACL user when it has one (masteruser), with
// the node's password (masterauth, written by serverConfig).
func (n *Node) clusterConfig() string {
	if !n.Cluster() {
		return ""
	}
	var b strings.Builder
	b.WriteString("cluster-enabled yes\n")
	fmt.Fprintf(&b, "cluster-config-file %s\n", path.Join(dataPath, clusterConfName))
	fmt.Fprintf(&b, "cluster-node-timeout %d\n", n.clusterNodeTimeout.Milliseconds())
	fmt.Fprintf(&b, "cluster-announce-ip %s\n", n.Host())
	if n.user != "" && n.user != "default" {
		fmt.Fprintf(&b, "masteruser %s\n", quoteConfigArg(n.user))
	}
	return b.String()
}

// Cluster reports whether the node runs in cluster mode (WithCluster).
func (n *Node) Cluster() bool { return n.clusterNodeTimeout > 0 }

// ClusterNodeTimeout returns the node's cluster-node-timeout, 0 for a node
// that is not in cluster mode.
func (n *Node) ClusterNodeTimeout() time.Duration { return n.clusterNodeTimeout }

// ClusterBusPort returns the port of the node's cluster bus (the node's
// port + 10000), 0 for a node that is not in cluster mode.
func (n *Node) ClusterBusPort() int {
	if !n.Cluster() {
		return 0
	}
	return n.port + clusterBusOffset
}

// ClusterConfigFile returns the host path of the node's nodes.conf, ""
// for a node that is not in cluster mode.
func (n *Node) ClusterConfigFile() string {
	if !n.Cluster() {
		return ""
	}
	return filepath.Join(n.dataDir, clusterConfName)
}

// MyID returns the cluster node's id (CLUSTER MYID), by which the other
// nodes know it. It is kept in nodes.conf, so it survives Stop, Start and
// Replace; a stopped node's is read from the file.
func (n *Node) MyID(ctx context.Context) (string, error) {
	if !n.Cluster() {
		return "", fmt.Errorf("node %q is not in cluster mode", n.Name)
	}
	if _, running, err := n.container(ctx); err == nil && running {
		cl := n.adminClient()
		defer cl.Close()
		id, err := cl.Do(ctx, "CLUSTER", "MYID").Text()
		if err != nil {
			return "", fmt.Errorf("node %q: CLUSTER MYID: %w", n.Name, err)
		}
		return id, nil
	}
	id, err := clusterConfigMyID(n.ClusterConfigFile())
	if err != nil {
		return "", fmt.Errorf("node %q: read its id from %s: %w", n.Name, clusterConfName, err)
	}
	return id, nil
}

// clusterConfigMyID reads the id on the "myself" line of a nodes.conf.
func clusterConfigMyID(file string) (string, error) {
	f, err := os.Open(file)
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if p, ok := parseClusterNode(sc.Text()); ok && p.myself() {
			return p.id, nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	return "", errors.New(`no "myself" line`)
}

// ClusterClient returns a go-redis cluster client seeded with the nodes'
// addresses and the first node's password, with go-redis's default
// settings, as an application has them. The caller closes it.
func ClusterClient(nodes ...*Node) *goredis.ClusterClient {
	o := &goredis.ClusterOptions{}
	for _, n := range nodes {
		o.Addrs = append(o.Addrs, n.Addr())
	}
	if len(nodes) > 0 {
		o.Password = nodes[0].password
	}
	return goredis.NewClusterClient(o)
}

// CreateCluster joins fresh cluster nodes (WithCluster, running) into one
// cluster, the way redis-cli --cluster create does: a distinct config epoch
// for every node, the 16384 slots split evenly over masters in order
// (CLUSTER ADDSLOTSRANGE from 7.0, ADDSLOTS before), CLUSTER MEET from the
// first master to every other node, and CLUSTER REPLICATE on each replica
// of replicas[master] once it knows its master. It then waits, within
// DefaultClusterTimeout and ctx, until the cluster is healthy as WaitCluster
// defines it and has the requested shape.
//
// The nodes must share one password and ACL user: a replica authenticates
// to its master with its own (masterauth, masteruser), and a cluster client
// uses one for every node. A node that already knows other nodes or owns
// slots is refused.
func CreateCluster(ctx context.Context, masters []*Node, replicas map[*Node][]*Node) error {
	all, err := checkClusterShape(masters, replicas)
	if err != nil {
		return fmt.Errorf("create cluster: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, DefaultClusterTimeout)
	defer cancel()
	if err := createCluster(ctx, masters, replicas, all); err != nil {
		return fmt.Errorf("create cluster of %d masters and %d replicas: %w", len(masters), len(all)-len(masters), err)
	}
	return nil
}

// checkClusterShape checks CreateCluster's arguments and returns every
// node, masters first.
func checkClusterShape(masters []*Node, replicas map[*Node][]*Node) ([]*Node, error) {
	if len(masters) == 0 {
		return nil, errors.New("no master")
	}
	if len(masters) > ClusterSlots {
		return nil, fmt.Errorf("%d masters for %d slots", len(masters), ClusterSlots)
	}
	for m := range replicas {
		if !slices.Contains(masters, m) {
			return nil, fmt.Errorf("replicas given for node %q, which is not one of the masters", m.Name)
		}
	}
	all := slices.Clone(masters)
	for _, m := range masters {
		all = append(all, replicas[m]...)
	}
	for i, n := range all {
		switch {
		case n == nil:
			return nil, errors.New("a nil node")
		case !n.Cluster():
			return nil, fmt.Errorf("node %q is not in cluster mode (start it WithCluster)", n.Name)
		case slices.Contains(all[:i], n):
			return nil, fmt.Errorf("node %q is given twice", n.Name)
		case n.password != all[0].password || n.user != all[0].user:
			return nil, fmt.Errorf("node %q has another password or ACL user than node %q: replicas authenticate to their masters with their own, and clients use one for every node", n.Name, all[0].Name)
		}
	}
	return all, nil
}

func createCluster(ctx context.Context, masters []*Node, replicas map[*Node][]*Node, all []*Node) error {
	clients := make(map[*Node]*goredis.Client, len(all))
	for _, n := range all {
		clients[n] = n.adminClient()
		defer clients[n].Close()
	}
	ids := make(map[*Node]string, len(all))
	for i, n := range all {
		c := clients[n]
		info, err := clusterInfo(ctx, c)
		if err != nil {
			return fmt.Errorf("node %q: %w", n.Name, err)
		}
		if info["cluster_known_nodes"] != "1" || info["cluster_slots_assigned"] != "0" {
			return fmt.Errorf("node %q already belongs to a cluster (it knows %s nodes and %s slots are assigned)", n.Name, info["cluster_known_nodes"], info["cluster_slots_assigned"])
		}
		if ids[n], err = c.Do(ctx, "CLUSTER", "MYID").Text(); err != nil {
			return fmt.Errorf("node %q: CLUSTER MYID: %w", n.Name, err)
		}
		// Distinct epochs, so that the masters need not resolve
		// collisions before they agree on the slots.
		if err := c.Do(ctx, "CLUSTER", "SET-CONFIG-EPOCH", i+1).Err(); err != nil {
			return fmt.Errorf("node %q: CLUSTER SET-CONFIG-EPOCH %d: %w", n.Name, i+1, err)
		}
	}
	for i, m := range masters {
		first, last := i*ClusterSlots/len(masters), (i+1)*ClusterSlots/len(masters)-1
		if err := addSlots(ctx, clients[m], m.Version(), first, last); err != nil {
			return fmt.Errorf("node %q: %w", m.Name, err)
		}
	}
	return joinCluster(ctx, masters, replicas, all, all[1:], clients, ids)
}

// joinCluster has the first node of all meet each newcomer, makes each
// replica of replicas[master] replicate its master once it knows it, and
// waits until the cluster is healthy with that shape. ids are the nodes'
// ids.
func joinCluster(ctx context.Context, masters []*Node, replicas map[*Node][]*Node, all, newcomers []*Node, clients map[*Node]*goredis.Client, ids map[*Node]string) error {
	seed := clients[all[0]]
	for _, n := range newcomers {
		if err := seed.Do(ctx, "CLUSTER", "MEET", n.Host(), n.Port()).Err(); err != nil {
			return fmt.Errorf("node %q: CLUSTER MEET %s %d: %w", all[0].Name, n.Host(), n.Port(), err)
		}
	}
	for _, m := range masters {
		for _, r := range replicas[m] {
			// CLUSTER REPLICATE needs a master the replica knows.
			if err := pollCluster(ctx, fmt.Sprintf("node %q knows its master %q", r.Name, m.Name), func(ctx context.Context) (bool, string, error) {
				return knowsMaster(ctx, clients[r], ids[m])
			}); err != nil {
				return err
			}
			if err := clients[r].Do(ctx, "CLUSTER", "REPLICATE", ids[m]).Err(); err != nil {
				return fmt.Errorf("node %q: CLUSTER REPLICATE %s (node %q): %w", r.Name, ids[m], m.Name, err)
			}
		}
	}
	shape := func(states []clusterState) (bool, string) {
		for _, s := range states {
			me, _ := s.myself()
			want := "" // the master id of a master
			for _, m := range masters {
				if slices.Contains(replicas[m], s.node) {
					want = ids[m]
				}
			}
			if me.masterID != want {
				return false, fmt.Sprintf("node %q follows %q, want %q", s.node.Name, me.masterID, want)
			}
		}
		return true, ""
	}
	return waitCluster(ctx, all, clients, shape)
}

// AddClusterReplicas makes fresh cluster nodes (WithCluster, running, in no
// cluster yet) replicas of masters[i] for each replicas[masters[i]], the
// masters being a cluster CreateCluster made (with no replicas, or other
// ones): the first master meets each new node, which then replicates its
// master (CLUSTER REPLICATE) and syncs. It waits, within
// DefaultClusterTimeout and ctx, until every node given is healthy as
// WaitCluster defines it, with that shape. A rehearsal seeds the masters
// first and attaches the replicas after, so that they get the seeded keys
// by a full sync, with their expiry times as the master has them.
func AddClusterReplicas(ctx context.Context, masters []*Node, replicas map[*Node][]*Node) error {
	all, err := checkClusterShape(masters, replicas)
	if err != nil {
		return fmt.Errorf("add cluster replicas: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, DefaultClusterTimeout)
	defer cancel()
	clients := make(map[*Node]*goredis.Client, len(all))
	for _, n := range all {
		clients[n] = n.adminClient()
		defer clients[n].Close()
	}
	ids := make(map[*Node]string, len(all))
	for _, n := range all {
		if ids[n], err = clients[n].Do(ctx, "CLUSTER", "MYID").Text(); err != nil {
			return fmt.Errorf("add cluster replicas: node %q: CLUSTER MYID: %w", n.Name, err)
		}
	}
	for _, n := range all[len(masters):] {
		info, err := clusterInfo(ctx, clients[n])
		if err != nil {
			return fmt.Errorf("add cluster replicas: node %q: %w", n.Name, err)
		}
		if info["cluster_known_nodes"] != "1" {
			return fmt.Errorf("add cluster replicas: node %q already belongs to a cluster (it knows %s nodes)", n.Name, info["cluster_known_nodes"])
		}
	}
	if err := joinCluster(ctx, masters, replicas, all, all[len(masters):], clients, ids); err != nil {
		return fmt.Errorf("add %d replica(s) to a cluster of %d masters: %w", len(all)-len(masters), len(masters), err)
	}
	return nil
}

// addSlots assigns the slots first..last to the master c connects to.
func addSlots(ctx context.Context, c *goredis.Client, v redis.Version, first, last int) error {
	if v.AtLeast(7, 0) {
		if err := c.Do(ctx, "CLUSTER", "ADDSLOTSRANGE", first, last).Err(); err != nil {
			return fmt.Errorf("CLUSTER ADDSLOTSRANGE %d %d: %w", first, last, err)
		}
		return nil
	}
	args := []any{"CLUSTER", "ADDSLOTS"}
	for s := first; s <= last; s++ {
		args = append(args, s)
	}
	if err := c.Do(ctx, args...).Err(); err != nil {
		return fmt.Errorf("CLUSTER ADDSLOTS %d..%d: %w", first, last, err)
	}
	return nil
}

// knowsMaster reports whether the node c connects to knows the node id as
// a master it is in contact with.
func knowsMaster(ctx context.Context, c *goredis.Client, id string) (bool, string, error) {
	text, err := c.Do(ctx, "CLUSTER", "NODES").Text()
	if err != nil {
		return false, "", fmt.Errorf("CLUSTER NODES: %w", err)
	}
	for _, line := range strings.Split(text, "\n") {
		if p, ok := parseClusterNode(line); ok && p.id == id {
			return p.role() == "master" && !p.unhealthy(), "it sees it as " + strings.Join(p.flags, ","), nil
		}
	}
	return false, "it does not know it yet", nil
}

// WaitCluster waits until the nodes form one healthy cluster as each of
// them sees it: cluster_state:ok with all 16384 slots assigned; each node
// knows exactly these nodes, none flagged fail, pfail, handshake or noaddr,
// with every link connected; all agree on each node's role and master, as
// the node itself states it; and every replica's replication link is up,
// without a sync in progress. It is bounded by DefaultClusterTimeout and
// ctx; the error says what was last missing. Call it after a Replace or a
// failover, with every node of the cluster.
func WaitCluster(ctx context.Context, nodes ...*Node) error {
	ctx, cancel := context.WithTimeout(ctx, DefaultClusterTimeout)
	defer cancel()
	clients := make(map[*Node]*goredis.Client, len(nodes))
	for _, n := range nodes {
		clients[n] = n.adminClient()
		defer clients[n].Close()
	}
	if err := waitCluster(ctx, nodes, clients, nil); err != nil {
		return fmt.Errorf("wait for a cluster of %d nodes: %w", len(nodes), err)
	}
	return nil
}

// waitCluster polls the nodes until clusterHealthy and then extra (when
// not nil) hold for their states.
func waitCluster(ctx context.Context, nodes []*Node, clients map[*Node]*goredis.Client, extra func([]clusterState) (bool, string)) error {
	return pollCluster(ctx, "the cluster is healthy", func(ctx context.Context) (bool, string, error) {
		states := make([]clusterState, len(nodes))
		for i, n := range nodes {
			s, err := readClusterState(ctx, n, clients[n])
			if err != nil {
				// A node that is restarting does not answer for a moment.
				return false, err.Error(), nil
			}
			states[i] = s
		}
		ok, why := clusterHealthy(states)
		if ok && extra != nil {
			ok, why = extra(states)
		}
		return ok, why, nil
	})
}

// pollCluster polls cond until it holds, fails, or ctx ends; what names the
// condition in the error, with the last reason it did not hold.
func pollCluster(ctx context.Context, what string, cond func(context.Context) (bool, string, error)) error {
	start := time.Now()
	var why string
	for {
		ok, w, err := cond(ctx)
		switch {
		case err != nil:
			return err
		case ok:
			return nil
		}
		why = w
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting %s until %s: %w (last: %s)", time.Since(start).Round(time.Millisecond), what, ctx.Err(), why)
		case <-time.After(pollInterval):
		}
	}
}

// clusterState is what one node says about the cluster.
type clusterState struct {
	node  *Node
	info  map[string]string // CLUSTER INFO
	repl  map[string]string // INFO replication
	peers []clusterNode     // CLUSTER NODES
}

func (s clusterState) myself() (clusterNode, bool) {
	for _, p := range s.peers {
		if p.myself() {
			return p, true
		}
	}
	return clusterNode{}, false
}

func readClusterState(ctx context.Context, n *Node, c *goredis.Client) (clusterState, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	s := clusterState{node: n}
	var err error
	if s.info, err = clusterInfo(ctx, c); err != nil {
		return s, fmt.Errorf("node %q: %w", n.Name, err)
	}
	if s.repl, err = redis.ReadInfo(ctx, c, "replication"); err != nil {
		return s, fmt.Errorf("node %q: INFO replication: %w", n.Name, err)
	}
	text, err := c.Do(ctx, "CLUSTER", "NODES").Text()
	if err != nil {
		return s, fmt.Errorf("node %q: CLUSTER NODES: %w", n.Name, err)
	}
	for _, line := range strings.Split(text, "\n") {
		if p, ok := parseClusterNode(line); ok {
			s.peers = append(s.peers, p)
		}
	}
	return s, nil
}

func clusterInfo(ctx context.Context, c *goredis.Client) (map[string]string, error) {
	text, err := c.Do(ctx, "CLUSTER", "INFO").Text()
	if err != nil {
		return nil, fmt.Errorf("CLUSTER INFO: %w", err)
	}
	return redis.ParseInfo(text), nil
}

// clusterHealthy is WaitCluster's condition, with the first thing missing.
func clusterHealthy(states []clusterState) (bool, string) {
	self := make(map[string]clusterNode, len(states)) // each node as it sees itself
	names := make(map[string]string, len(states))     // id → node name
	for _, s := range states {
		me, ok := s.myself()
		if !ok {
			return false, fmt.Sprintf("node %q lists no myself in CLUSTER NODES", s.node.Name)
		}
		if other, dup := names[me.id]; dup {
			return false, fmt.Sprintf("nodes %q and %q have the same id %s", other, s.node.Name, me.id)
		}
		self[me.id], names[me.id] = me, s.node.Name
	}
	name := func(id string) string {
		if n, ok := names[id]; ok {
			return strconv.Quote(n)
		}
		return id
	}
	for _, s := range states {
		n := strconv.Quote(s.node.Name)
		if st := s.info["cluster_state"]; st != "ok" {
			return false, fmt.Sprintf("node %s: cluster_state:%s", n, st)
		}
		if a := s.info["cluster_slots_assigned"]; a != strconv.Itoa(ClusterSlots) {
			return false, fmt.Sprintf("node %s: cluster_slots_assigned:%s", n, a)
		}
		if len(s.peers) != len(states) {
			return false, fmt.Sprintf("node %s knows %d nodes, want %d", n, len(s.peers), len(states))
		}
		for _, p := range s.peers {
			me, ok := self[p.id]
			switch {
			case !ok:
				return false, fmt.Sprintf("node %s knows node %s (%s), which is not one of the cluster's", n, p.id, p.addr)
			case p.unhealthy():
				return false, fmt.Sprintf("node %s sees node %s as %s", n, name(p.id), strings.Join(p.flags, ","))
			case !p.myself() && p.link != "connected":
				return false, fmt.Sprintf("node %s: link to node %s %s", n, name(p.id), p.link)
			case p.role() != me.role() || p.masterID != me.masterID:
				return false, fmt.Sprintf("node %s sees node %s as %s, which is %s", n, name(p.id), p.describe(name), me.describe(name))
			}
		}
		me, _ := s.myself()
		if me.role() == "slave" {
			if m, ok := self[me.masterID]; !ok || m.role() != "master" {
				return false, fmt.Sprintf("node %s follows %s, which is not a master of the cluster", n, name(me.masterID))
			}
			if l, syncing := s.repl["master_link_status"], s.repl["master_sync_in_progress"]; l != "up" || syncing != "0" {
				return false, fmt.Sprintf("node %s: master_link_status:%s master_sync_in_progress:%s", n, l, syncing)
			}
		}
	}
	return true, ""
}

// clusterNode is one line of CLUSTER NODES (or nodes.conf).
type clusterNode struct {
	id       string
	addr     string // host:port, without the bus port
	flags    []string
	masterID string // "" for a master
	link     string // connected or disconnected
}

// parseClusterNode reads "<id> <ip:port@cport[,hostname]> <flags>
// <master> <ping-sent> <pong-recv> <config-epoch> <link-state> <slots>...".
func parseClusterNode(line string) (clusterNode, bool) {
	f := strings.Fields(line)
	if len(f) < 8 || len(f[0]) != 40 {
		return clusterNode{}, false
	}
	addr, _, _ := strings.Cut(f[1], "@")
	p := clusterNode{id: f[0], addr: addr, flags: strings.Split(f[2], ","), masterID: f[3], link: f[7]}
	if p.masterID == "-" {
		p.masterID = ""
	}
	return p, true
}

func (p clusterNode) myself() bool { return slices.Contains(p.flags, "myself") }

// role is "master" or "slave".
func (p clusterNode) role() string {
	if slices.Contains(p.flags, "slave") {
		return "slave"
	}
	return "master"
}

// unhealthy reports a flag that a healthy cluster does not show.
func (p clusterNode) unhealthy() bool {
	return slices.ContainsFunc(p.flags, func(f string) bool {
		return f == "fail" || f == "fail?" || f == "handshake" || f == "noaddr"
	})
}

func (p clusterNode) describe(name func(id string) string) string {
	if p.role() == "slave" {
		return "a replica of node " + name(p.masterID)
	}
	return "a master"
}
