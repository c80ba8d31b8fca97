package container

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/understudy/understudy/steps/redis"
)

func TestClusterConfig(t *testing.T) {
	n, err := newNode("c", []Option{WithSession("test-" + NewSessionID()), WithCluster(), WithUser("app"), WithPassword("pw")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Terminate(context.Background()) })
	n.replicaOf = "127.0.0.1 6379" // as Stop records it for a replica
	if _, err := n.writeConfig(redis.MustParseVersion("7.0")); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(n.tmpDir, "server.conf"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	for _, want := range []string{
		"cluster-enabled yes", "cluster-config-file /data/nodes.conf", "cluster-node-timeout 5000",
		"cluster-announce-ip 127.0.0.1", `masteruser "app"`, `masterauth "pw"`,
	} {
		if !slices.Contains(lines, want) {
			t.Errorf("config lacks %q:\n%s", want, b)
		}
	}
	// The server refuses replicaof in cluster mode; nodes.conf has the role.
	mustNotContain(t, string(b), "replicaof")
	if n.ClusterBusPort() != n.Port()+10000 || n.ClusterBusPort() > 65535 {
		t.Errorf("bus port %d for port %d", n.ClusterBusPort(), n.Port())
	}
	if got, want := n.ClusterConfigFile(), filepath.Join(n.DataDir(), "nodes.conf"); got != want {
		t.Errorf("ClusterConfigFile = %s, want %s", got, want)
	}

	plain, err := newNode("p", []Option{WithSession("test-" + NewSessionID())})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = plain.Terminate(context.Background()) })
	if plain.Cluster() || plain.clusterConfig() != "" || plain.ClusterBusPort() != 0 {
		t.Errorf("a node without WithCluster is in cluster mode")
	}
	if _, err := plain.MyID(context.Background()); err == nil || !strings.Contains(err.Error(), "not in cluster mode") {
		t.Errorf("MyID of a plain node: %v", err)
	}

	for _, tc := range []struct {
		opt  Option
		want string
	}{
		{WithClusterNodeTimeout(1500 * time.Microsecond), "cluster-node-timeout 1.5ms must be a positive whole number of milliseconds"},
		{WithClusterNodeTimeout(-time.Second), "cluster-node-timeout -1s"},
		{WithPort(60000), "port 60000: a cluster node's bus listens on its port + 10000, and 70000 is not a port"},
	} {
		_, err := Run(context.Background(), "bad", redis.MustParseVersion("7.0"), WithCluster(), tc.opt)
		if err == nil {
			t.Fatalf("Run accepted %s", tc.want)
		}
		mustContain(t, err.Error(), tc.want)
	}
	n2, err := newNode("t", []Option{WithSession("test-" + NewSessionID()), WithClusterNodeTimeout(2 * time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n2.Terminate(context.Background()) })
	if !n2.Cluster() || !strings.Contains(n2.clusterConfig(), "cluster-node-timeout 2000\n") || strings.Contains(n2.clusterConfig(), "masteruser") {
		t.Errorf("WithClusterNodeTimeout(2s): %q", n2.clusterConfig())
	}
}

func TestParseClusterNode(t *testing.T) {
	const id1, id2 = "e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca", "67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1"
	for _, tc := range []struct {
		line string
		want clusterNode
		ok   bool
	}{
		{id1 + " 127.0.0.1:30001@40001 myself,master - 0 0 1 connected 0-5460",
			clusterNode{id: id1, addr: "127.0.0.1:30001", flags: []string{"myself", "master"}, link: "connected"}, true},
		{id2 + " 127.0.0.1:30004@40004,host.example slave,fail? " + id1 + " 1700000000000 1699999999000 1 disconnected",
			clusterNode{id: id2, addr: "127.0.0.1:30004", flags: []string{"slave", "fail?"}, masterID: id1, link: "disconnected"}, true},
		{"vars currentEpoch 6 lastVoteEpoch 0", clusterNode{}, false},
		{"", clusterNode{}, false},
	} {
		got, ok := parseClusterNode(tc.line)
		if ok != tc.ok || got.id != tc.want.id || got.addr != tc.want.addr || !slices.Equal(got.flags, tc.want.flags) ||
			got.masterID != tc.want.masterID || got.link != tc.want.link {
			t.Errorf("parseClusterNode(%q) = %+v, %v; want %+v, %v", tc.line, got, ok, tc.want, tc.ok)
		}
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "nodes.conf")
	conf := id2 + " 127.0.0.1:30004@40004 slave " + id1 + " 0 0 1 connected\n" +
		id1 + " 127.0.0.1:30001@40001 myself,master - 0 0 1 connected 0-5460\nvars currentEpoch 6 lastVoteEpoch 0\n"
	if err := os.WriteFile(file, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	if id, err := clusterConfigMyID(file); err != nil || id != id1 {
		t.Errorf("clusterConfigMyID = %q, %v", id, err)
	}
}

func TestCreateClusterRefuses(t *testing.T) {
	opts := func(extra ...Option) []Option {
		return append([]Option{WithSession("test-" + NewSessionID()), WithCluster(), WithPassword("pw")}, extra...)
	}
	node := func(name string, o []Option) *Node {
		n, err := newNode(name, o)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = n.Terminate(context.Background()) })
		return n
	}
	a, b, c := node("a", opts()), node("b", opts()), node("c", opts())
	plain := node("plain", []Option{WithPassword("pw")})
	otherPW := node("other", opts(WithPassword("other")))
	otherUser := node("user", opts(WithUser("app")))
	for _, tc := range []struct {
		masters  []*Node
		replicas map[*Node][]*Node
		want     string
	}{
		{nil, nil, "no master"},
		{[]*Node{a}, map[*Node][]*Node{b: {c}}, `replicas given for node "b", which is not one of the masters`},
		{[]*Node{a, plain}, nil, `node "plain" is not in cluster mode`},
		{[]*Node{a, b}, map[*Node][]*Node{b: {a}}, `node "a" is given twice`},
		{[]*Node{a}, map[*Node][]*Node{a: {otherPW}}, `node "other" has another password or ACL user than node "a"`},
		{[]*Node{a, otherUser}, nil, `node "user" has another password or ACL user`},
		{[]*Node{a, nil}, nil, "a nil node"},
	} {
		err := CreateCluster(context.Background(), tc.masters, tc.replicas)
		if err == nil {
			t.Fatalf("CreateCluster accepted: %s", tc.want)
		}
		mustContain(t, err.Error(), "create cluster: "+tc.want)
	}
}

// runClusterNodes starts count cluster nodes of a test session at version,
// concurrently, with one random password, and terminates them when the
// test ends.
func runClusterNodes(t *testing.T, ctx context.Context, session, version string, count int, opts ...Option) []*Node {
	t.Helper()
	nodes := make([]*Node, count)
	errs := make([]error, count)
	opts = append([]Option{WithSession(session), WithCluster(), WithPassword(randomHex(16))}, opts...)
	var wg sync.WaitGroup
	for i := range nodes {
		wg.Go(func() {
			o := opts[:len(opts):len(opts)]
			nodes[i], errs[i] = Run(ctx, "node"+strconv.Itoa(i), redis.MustParseVersion(version), o...)
		})
	}
	wg.Wait()
	for _, n := range nodes {
		t.Cleanup(func() {
			if err := n.Terminate(context.Background()); err != nil {
				t.Errorf("Terminate %s: %v", n.Name, err)
			}
		})
	}
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("start %d cluster nodes of %s: %v", count, version, err)
	}
	return nodes
}

// TestCluster creates 3 masters × 1 replica on 7.0, writes through a
// cluster client, and upgrades one replica and one master (after a manual
// failover to its replica) to 8.0 with Replace: each comes back with its
// node id and data, and the cluster becomes healthy again.
func TestCluster(t *testing.T) {
	ctx := testCtx(t)
	session := "test-" + NewSessionID()
	expectSessionEmpty(t, session)
	start := time.Now()
	nodes := runClusterNodes(t, ctx, session, "7.0", 6)
	t.Logf("6 nodes of 7.0 answer after %s", since(start))
	masters := nodes[:3]
	replicas := map[*Node][]*Node{nodes[0]: {nodes[3]}, nodes[1]: {nodes[4]}, nodes[2]: {nodes[5]}}
	start = time.Now()
	if err := CreateCluster(ctx, masters, replicas); err != nil {
		t.Fatal(err)
	}
	t.Logf("CreateCluster 3×1: healthy after %s", since(start))

	ids := map[*Node]string{}
	for _, n := range nodes {
		id, err := n.MyID(ctx)
		if err != nil || len(id) != 40 {
			t.Fatalf("MyID of %s = %q, %v", n.Name, id, err)
		}
		ids[n] = id
		c := n.Client()
		state := strings.TrimSpace(clusterField(t, ctx, c, "cluster_state"))
		size := clusterField(t, ctx, c, "cluster_size")
		c.Close()
		if state != "ok" || size != "3" {
			t.Fatalf("node %s: cluster_state:%s cluster_size:%s", n.Name, state, size)
		}
	}
	// CLUSTER SHARDS reports a replica online once the master has heard
	// of its replication offset (a cluster bus ping after the sync), which
	// WaitCluster does not wait for.
	for i, m := range masters {
		c := m.Client()
		first, last := int64(i*16384/3), int64((i+1)*16384/3-1)
		eventually(t, 10*time.Second, "CLUSTER SHARDS on "+m.Name, func() (bool, string) {
			shards, err := c.ClusterShards(ctx).Result()
			if err != nil {
				return false, err.Error()
			}
			for _, sh := range shards {
				if !slices.ContainsFunc(sh.Nodes, func(n goredis.Node) bool { return n.ID == ids[m] }) {
					continue
				}
				var nodes []string
				for _, n := range sh.Nodes {
					nodes = append(nodes, n.ID[:8]+" "+n.Role+" "+n.Health)
				}
				ok := len(sh.Slots) == 1 && sh.Slots[0].Start == first && sh.Slots[0].End == last && len(sh.Nodes) == 2 &&
					slices.ContainsFunc(sh.Nodes, func(n goredis.Node) bool {
						return n.ID == ids[replicas[m][0]] && n.Role == "replica" && n.Health == "online"
					})
				return ok, fmt.Sprintf("%s's shard: slots %+v, nodes %s; want %d-%d with replica %s online", m.Name, sh.Slots, nodes, first, last, replicas[m][0].Name)
			}
			return false, "no shard of " + m.Name
		})
		c.Close()
	}

	cc := ClusterClient(nodes...)
	defer cc.Close()
	const keys = 300
	for i := range keys {
		if err := cc.Set(ctx, "key:"+strconv.Itoa(i), "value "+strconv.Itoa(i), 0).Err(); err != nil {
			t.Fatalf("SET through the cluster client: %v", err)
		}
	}
	checkKeys := func(when string) {
		t.Helper()
		for i := range keys {
			if v, err := cc.Get(ctx, "key:"+strconv.Itoa(i)).Result(); err != nil || v != "value "+strconv.Itoa(i) {
				t.Fatalf("%s: GET key:%d through the cluster client = %q, %v", when, i, v, err)
			}
		}
	}
	checkKeys("after CreateCluster")
	dbsizes := map[*Node]int64{}
	for _, m := range masters {
		c := m.Client()
		dbsizes[m] = c.DBSize(ctx).Val()
		c.Close()
		if dbsizes[m] == 0 {
			t.Fatalf("master %s holds no key of %d", m.Name, keys)
		}
	}

	// replaced checks that n came back from Replace as the same node, a
	// replica of master with master's data, in a healthy cluster.
	replaced := func(n, master *Node, to string, took time.Duration) {
		t.Helper()
		if got, err := n.MyID(ctx); err != nil || got != ids[n] {
			t.Fatalf("%s after Replace → %s: MyID %s, %v; was %s", n.Name, to, got, err, ids[n])
		}
		start := time.Now()
		if err := WaitCluster(ctx, nodes...); err != nil {
			t.Fatalf("after Replace of %s → %s: %v", n.Name, to, err)
		}
		c := n.Client()
		defer c.Close()
		if v := info(t, ctx, c, "server", "redis_version"); !strings.HasPrefix(v, to+".") {
			t.Fatalf("%s runs %s, want %s", n.Name, v, to)
		}
		if f := info(t, ctx, c, "replication", "master_port"); f != strconv.Itoa(master.Port()) {
			t.Fatalf("%s replicates port %s, want %s's %d", n.Name, f, master.Name, master.Port())
		}
		mc := master.Client()
		defer mc.Close()
		want := mc.DBSize(ctx).Val()
		if got := c.DBSize(ctx).Val(); got != want || got == 0 {
			t.Fatalf("%s holds %d keys, its master %s %d", n.Name, got, master.Name, want)
		}
		// A key of the shard, read on the replica itself.
		conn := c.Conn()
		defer conn.Close()
		if err := conn.ReadOnly(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		found := false
		for i := range keys {
			k := "key:" + strconv.Itoa(i)
			v, err := conn.Get(ctx, k).Result()
			if err != nil && strings.HasPrefix(err.Error(), "MOVED ") {
				continue // another shard's key
			}
			if err != nil || v != "value "+strconv.Itoa(i) {
				t.Fatalf("READONLY GET %s on %s = %q, %v", k, n.Name, v, err)
			}
			found = true
			break
		}
		if !found {
			t.Fatalf("no key of %s's shard", master.Name)
		}
		t.Logf("%s: Replace → %s took %s, the cluster was healthy %s later; same id, %d keys like its master %s", n.Name, to, took, since(start), want, master.Name)
	}

	// A replica first.
	start = time.Now()
	if err := nodes[3].Replace(ctx, redis.MustParseVersion("8.0")); err != nil {
		t.Fatal(err)
	}
	replaced(nodes[3], nodes[0], "8.0", since(start))
	checkKeys("after the replica's Replace")

	// Then a master: CLUSTER FAILOVER to its replica, then Replace.
	oldMaster, newMaster := nodes[1], nodes[4]
	nc := newMaster.Client()
	defer nc.Close()
	start = time.Now()
	if err := nc.Do(ctx, "CLUSTER", "FAILOVER").Err(); err != nil {
		t.Fatalf("CLUSTER FAILOVER on %s: %v", newMaster.Name, err)
	}
	oc := oldMaster.Client()
	defer oc.Close()
	eventually(t, 15*time.Second, "the roles swap", func() (bool, string) {
		ni, err1 := redis.ReadInfo(ctx, nc, "replication")
		oi, err2 := redis.ReadInfo(ctx, oc, "replication")
		if err := errors.Join(err1, err2); err != nil {
			return false, err.Error()
		}
		return ni["role"] == "master" && redis.FollowsMaster(oi, newMaster.Addr()),
			fmt.Sprintf("%s is %s, %s is %s", newMaster.Name, ni["role"], oldMaster.Name, oi["role"])
	})
	t.Logf("CLUSTER FAILOVER: %s is master, %s its replica after %s", newMaster.Name, oldMaster.Name, since(start))
	if err := WaitCluster(ctx, nodes...); err != nil {
		t.Fatalf("after CLUSTER FAILOVER: %v", err)
	}
	start = time.Now()
	if err := oldMaster.Replace(ctx, redis.MustParseVersion("8.0")); err != nil {
		t.Fatal(err)
	}
	replaced(oldMaster, newMaster, "8.0", since(start))
	checkKeys("after the old master's Replace")
	if dbsizes[nodes[1]] != nc.DBSize(ctx).Val() {
		t.Fatalf("the shard had %d keys, the new master has %d", dbsizes[nodes[1]], nc.DBSize(ctx).Val())
	}
}

// TestClusterShapes creates 3 masters × 2 replicas on 6.0 (CLUSTER ADDSLOTS,
// no ADDSLOTSRANGE), whose replicas authenticate as an ACL user.
func TestClusterShapes(t *testing.T) {
	ctx := testCtx(t)
	session := "test-" + NewSessionID()
	expectSessionEmpty(t, session)
	start := time.Now()
	nodes := runClusterNodes(t, ctx, session, "6.0", 9, WithUser("app"))
	t.Logf("9 nodes of 6.0 answer after %s", since(start))
	masters := nodes[:3]
	replicas := map[*Node][]*Node{nodes[0]: {nodes[3], nodes[4]}, nodes[1]: {nodes[5], nodes[6]}, nodes[2]: {nodes[7], nodes[8]}}
	start = time.Now()
	if err := CreateCluster(ctx, masters, replicas); err != nil {
		t.Fatal(err)
	}
	t.Logf("CreateCluster 3×2 on 6.0: healthy after %s", since(start))
	c := nodes[8].Client()
	defer c.Close()
	if got := info(t, ctx, c, "replication", "master_port"); got != strconv.Itoa(nodes[2].Port()) {
		t.Fatalf("node8 replicates port %s, want %d", got, nodes[2].Port())
	}
	if got, err := c.ConfigGet(ctx, "masteruser").Result(); err != nil || got["masteruser"] != "app" {
		t.Fatalf("masteruser = %v, %v", got, err)
	}
	cc := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: []string{nodes[0].Addr()}, Username: "app", Password: nodes[0].Password()})
	defer cc.Close()
	if err := cc.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatalf("SET as app through the cluster client: %v", err)
	}
	// WaitCluster says which node is missing, within the context's bound.
	// The stopped node's id is read from its nodes.conf.
	id, err := nodes[8].MyID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := nodes[8].Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if got, err := nodes[8].MyID(ctx); err != nil || got != id {
		t.Fatalf("MyID of the stopped node = %q, %v; want %s", got, err, id)
	}
	wctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	err = WaitCluster(wctx, nodes...)
	if err == nil {
		t.Fatal("WaitCluster passed with a node stopped")
	}
	mustContain(t, err.Error(), "wait for a cluster of 9 nodes: waiting ")
	mustContain(t, err.Error(), `until the cluster is healthy: context deadline exceeded (last: node "node8": CLUSTER INFO: `)
	t.Logf("WaitCluster with node8 stopped: %v", err)

	// CreateCluster refuses nodes that already belong to a cluster.
	err = CreateCluster(ctx, masters, nil)
	if err == nil {
		t.Fatal("CreateCluster accepted nodes of a cluster")
	}
	mustContain(t, err.Error(), `node "node0" already belongs to a cluster (it knows 9 nodes and 16384 slots are assigned)`)
}

func clusterField(t *testing.T, ctx context.Context, c *goredis.Client, field string) string {
	t.Helper()
	text, err := c.ClusterInfo(ctx).Result()
	if err != nil {
		t.Fatalf("CLUSTER INFO: %v", err)
	}
	return redis.ParseInfo(text)[field]
}

func mustNotContain(t *testing.T, s, sub string) {
	t.Helper()
	if strings.Contains(s, sub) {
		t.Fatalf("%q contains %q", s, sub)
	}
}
