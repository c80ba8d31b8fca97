package redis

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/understudy/understudy/internal/redistest"
)

// clusterNodesSample is a CLUSTER NODES reply in the forms the parser
// meets: 7.0+ ",hostname" suffixes, migrating and importing markers on
// the answering node's line, a pfail replica, a failed master with an
// IPv6 address (Redis writes it without brackets), a node whose address is
// not known yet, 7.2's empty hostname with aux fields, and a pre-4.0
// address without a bus port (a master without slots).
const clusterNodesSample = `07c37dfeb235213a872192d90877d0cd55635b91 127.0.0.1:30004@31004,host4 slave e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 0 1426238317239 1 connected
67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1 127.0.0.1:30002@31002,host2 master - 0 1426238316232 2 connected 5461-10922
e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 127.0.0.1:30001@31001,host1 myself,master - 0 0 1 connected 0-5459 5460 [5460->-67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1] [10923-<-292f8b365bb7edb5e285caf0b7e6ddc7265d2f4f]
6ec23923021cf3ffec47632106199cb7f496ce01 127.0.0.1:30005@31005,host5 slave,fail? 67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1 1426238316000 1426238316232 2 disconnected
292f8b365bb7edb5e285caf0b7e6ddc7265d2f4f 127.0.0.1:30003@31003,host3 master - 0 1426238318243 3 connected 10923-16383
aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa ::1:30006@31006 master,fail - 1426238316232 1426238316000 5 disconnected
bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb :0@0 master,noaddr - 0 0 0 disconnected
cccccccccccccccccccccccccccccccccccccccc 127.0.0.1:30007@31007,,shard-id=ab12 slave e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 0 0 1 connected
dddddddddddddddddddddddddddddddddddddddd 127.0.0.1:30008 master - 0 0 6 connected
`

func TestParseClusterNodes(t *testing.T) {
	nodes, err := ParseClusterNodes(clusterNodesSample)
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes) != 9 {
		t.Fatalf("%d nodes, want 9", len(nodes))
	}
	self, ok := ClusterMyself(nodes)
	if !ok || self.ID != "e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca" {
		t.Fatalf("myself = %+v, %v", self, ok)
	}
	want := ClusterNode{
		ID: "e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca", Addr: "127.0.0.1:30001", BusPort: 31001, Hostname: "host1",
		Flags: []string{"myself", "master"}, ConfigEpoch: 1, LinkState: "connected",
		Slots:     []SlotRange{{0, 5459}, {5460, 5460}},
		Migrating: map[int]string{5460: "67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1"},
		Importing: map[int]string{10923: "292f8b365bb7edb5e285caf0b7e6ddc7265d2f4f"},
	}
	if !reflect.DeepEqual(self, want) {
		t.Errorf("myself:\n got %+v\nwant %+v", self, want)
	}
	checks := []struct {
		i                      int
		addr, host, master     string
		bus, slots             int
		replica, pfail, failed bool
	}{
		{0, "127.0.0.1:30004", "host4", "e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca", 31004, 0, true, false, false},
		{1, "127.0.0.1:30002", "host2", "", 31002, 5462, false, false, false},
		{3, "127.0.0.1:30005", "host5", "67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1", 31005, 0, true, true, false},
		{5, "[::1]:30006", "", "", 31006, 0, false, false, true},
		{6, ":0", "", "", 0, 0, false, false, false},
		{7, "127.0.0.1:30007", "", "e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca", 31007, 0, true, false, false},
		{8, "127.0.0.1:30008", "", "", 0, 0, false, false, false},
	}
	for _, c := range checks {
		n := nodes[c.i]
		if n.Addr != c.addr || n.Hostname != c.host || n.MasterID != c.master || n.BusPort != c.bus || n.SlotCount() != c.slots ||
			n.IsReplica() != c.replica || n.PFail() != c.pfail || n.Failed() != c.failed {
			t.Errorf("line %d: got %+v", c.i+1, n)
		}
	}
	if nodes[3].PingSent != 1426238316000 || nodes[3].LinkState != "disconnected" || nodes[5].ConfigEpoch != 5 {
		t.Errorf("ping-sent, link or epoch: %+v / %+v", nodes[3], nodes[5])
	}

	shards := ClusterShards(nodes)
	var got []string
	for _, s := range shards {
		var reps []string
		for _, r := range s.Replicas {
			reps = append(reps, r.Addr)
		}
		got = append(got, fmt.Sprintf("%s %v %v", s.Master.Addr, s.Slots(), reps))
	}
	wantShards := []string{
		"127.0.0.1:30001 [0-5459 5460] [127.0.0.1:30004 127.0.0.1:30007]",
		"127.0.0.1:30002 [5461-10922] [127.0.0.1:30005]",
		"127.0.0.1:30003 [10923-16383] []",
		"127.0.0.1:30008 [] []",
		":0 [] []",
		"[::1]:30006 [] []",
	}
	if !reflect.DeepEqual(got, wantShards) {
		t.Errorf("shards:\n got %q\nwant %q", got, wantShards)
	}

	for _, bad := range []string{
		"abc 127.0.0.1:1@2 master - 0 0",                        // short
		"abc 127.0.0.1@2 master - 0 0 1 connected",              // no port
		"abc 127.0.0.1:x@2 master - 0 0 1 connected",            // bad port
		"abc 127.0.0.1:1@2 master - 0 0 x connected",            // bad epoch
		"abc 127.0.0.1:1@2 master - 0 0 1 connected 16384",      // slot out of range
		"abc 127.0.0.1:1@2 master - 0 0 1 connected 9-3",        // reversed range
		"abc 127.0.0.1:1@2 master - 0 0 1 connected [5-?-abcd]", // unknown marker
	} {
		if _, err := ParseClusterNodes(bad); err == nil {
			t.Errorf("ParseClusterNodes(%q): no error", bad)
		}
	}
}

func TestParseClusterInfo(t *testing.T) {
	info := ParseClusterInfo("cluster_state:fail\r\ncluster_slots_assigned:16384\r\ncluster_slots_ok:10923\r\ncluster_slots_pfail:0\r\ncluster_slots_fail:5461\r\ncluster_known_nodes:6\r\ncluster_size:3\r\ncluster_current_epoch:7\r\ncluster_my_epoch:2\r\n")
	want := ClusterInfo{State: "fail", SlotsAssigned: 16384, SlotsOK: 10923, SlotsFail: 5461, KnownNodes: 6, Size: 3, CurrentEpoch: 7, MyEpoch: 2}
	info.Fields = nil
	if !reflect.DeepEqual(info, want) {
		t.Errorf("got %+v\nwant %+v", info, want)
	}
}

// TestClusterViewsCompared feeds two views that disagree on a slot range's
// owner, a replica's master and a master's epoch, and a flagged node, to
// the checks ClusterHealth runs on what the nodes answer.
func TestClusterViewsCompared(t *testing.T) {
	a, err := ParseClusterNodes(clusterNodesSample)
	if err != nil {
		t.Fatal(err)
	}
	// b: the view of 127.0.0.1:30002 after 30004 took 0-5460 over from
	// 30001 at epoch 7, which 30001 has not learnt yet.
	text := strings.NewReplacer(
		"127.0.0.1:30004@31004,host4 slave e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 0 1426238317239 1 connected",
		"127.0.0.1:30004@31004,host4 master - 0 1426238317239 7 connected 0-5460",
		"myself,master - 0 0 1 connected 0-5459 5460 [5460->-67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1] [10923-<-292f8b365bb7edb5e285caf0b7e6ddc7265d2f4f]",
		"slave 07c37dfeb235213a872192d90877d0cd55635b91 0 0 7 connected",
		"127.0.0.1:30002@31002,host2 master", "127.0.0.1:30002@31002,host2 myself,master",
	).Replace(clusterNodesSample)
	b, err := ParseClusterNodes(text)
	if err != nil {
		t.Fatal(err)
	}
	views := []*clusterView{{addr: "127.0.0.1:30001", nodes: a}, {addr: "127.0.0.1:30002", nodes: b}}
	got := disagreements(views)
	if len(got) != 2 || got[0].Kind != ClusterProblemDisagree || got[1].Kind != ClusterProblemRoles || got[0].Node != "127.0.0.1:30002" {
		t.Fatalf("disagreements: %v", got)
	}
	for i, want := range []string{
		"slots 0-5460: 127.0.0.1:30001 (e7d1eecc) vs 127.0.0.1:30004 (07c37dfe)",
		"127.0.0.1:30001 (e7d1eecc): a master vs a replica of 127.0.0.1:30004 (07c37dfe)",
		"127.0.0.1:30004 (07c37dfe): a replica of 127.0.0.1:30001 (e7d1eecc) vs a master",
	} {
		if p := got[min(i, 1)]; !strings.Contains(p.Detail, want) {
			t.Errorf("%s lacks %q", p, want)
		}
	}
	t.Log(got)

	// Epochs only: 30003 at epoch 3 in one view, 8 in the other.
	c, err := ParseClusterNodes(strings.Replace(clusterNodesSample, "0 1426238318243 3 connected", "0 1426238318243 8 connected", 1))
	if err != nil {
		t.Fatal(err)
	}
	got = disagreements([]*clusterView{views[0], {addr: "127.0.0.1:30003", nodes: c}})
	if len(got) != 1 || !strings.HasSuffix(got[0].Detail, ": config epoch of 127.0.0.1:30003 (292f8b36): 3 vs 8") {
		t.Errorf("epochs: %v", got)
	}
	if got := disagreements(views[:1]); got != nil {
		t.Errorf("one view: %v", got)
	}
	if got := disagreements([]*clusterView{views[0], views[0]}); got != nil {
		t.Errorf("equal views: %v", got)
	}

	fl := flagged(views)
	var kinds []string
	for _, p := range fl {
		kinds = append(kinds, p.Kind+" "+p.Node+" "+p.Detail)
	}
	want := []string{
		"pfail 127.0.0.1:30005 flagged fail? (pfail) by 127.0.0.1:30001, 127.0.0.1:30002",
		"fail [::1]:30006 flagged fail by 127.0.0.1:30001, 127.0.0.1:30002",
	}
	if !reflect.DeepEqual(kinds, want) {
		t.Errorf("flagged:\n got %q\nwant %q", kinds, want)
	}
}

// clusterClients returns a client per node of the set, closed when t ends.
func clusterClients(t *testing.T, set *redistest.ClusterSet) []*goredis.Client {
	t.Helper()
	var out []*goredis.Client
	for _, s := range set.Nodes() {
		c := s.Client()
		t.Cleanup(func() { c.Close() })
		out = append(out, c)
	}
	return out
}

// waitProblem polls ClusterHealth until a problem of one of the kinds
// about node shows up, for at most timeout, and returns it.
func waitProblem(t *testing.T, clients []*goredis.Client, node string, timeout time.Duration, kinds ...string) ClusterProblem {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(timeout)
	for {
		problems := ClusterHealth(ctx, clients...)
		for _, p := range problems {
			if slices.Contains(kinds, p.Kind) && p.Node == node {
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %v problem about %s after %s; problems: %v", kinds, node, timeout, problems)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitHealthy polls ClusterHealth until it finds nothing, for at most
// timeout, and returns how long that took.
func waitHealthy(t *testing.T, clients []*goredis.Client, timeout time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		problems := ClusterHealth(context.Background(), clients...)
		if len(problems) == 0 {
			return time.Since(start)
		}
		if time.Since(start) > timeout {
			t.Fatalf("cluster not healthy after %s: %v", timeout, problems)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestClusterOnRealServers reads a real 3 × 1 cluster: CLUSTER NODES and
// CLUSTER INFO parsed on every node, the shards as set up, a healthy
// cluster; then problems one at a time: a replica whose link is down
// (wrong masterauth), an open slot (SETSLOT MIGRATING), a killed replica
// (unreachable, then pfail or fail after the node timeout).
func TestClusterOnRealServers(t *testing.T) {
	set := redistest.StartCluster(t, 3, 1)
	clients := clusterClients(t, set)
	ctx := context.Background()
	masters, replicas := set.Masters(), set.Replicas()

	// KeySlot agrees with the server's CLUSTER KEYSLOT, hash tags included.
	for _, key := range []string{"", "a", "seed:string:0", "understudy:probe:12345", "{user1000}.following", "foo{}{bar}", "foo{{bar}}zap", "{}x", "x{y", "\xff\x00key"} {
		want, err := clients[0].ClusterKeySlot(ctx, key).Result()
		if err != nil {
			t.Fatal(err)
		}
		if got := KeySlot(key); got != int(want) {
			t.Errorf("KeySlot(%q) = %d, CLUSTER KEYSLOT says %d", key, got, want)
		}
	}

	for i, c := range clients {
		node := set.Nodes()[i]
		nodes, err := ReadClusterNodes(ctx, c)
		if err != nil {
			t.Fatalf("%s: %v", node.Addr, err)
		}
		self, ok := ClusterMyself(nodes)
		if len(nodes) != 6 || !ok || self.ID != set.ID(node) || self.Addr != node.Addr || self.BusPort == 0 {
			t.Fatalf("%s: myself %+v among %d nodes", node.Addr, self, len(nodes))
		}
		shards := ClusterShards(nodes)
		if len(shards) != 3 {
			t.Fatalf("%s sees %d shards", node.Addr, len(shards))
		}
		next := 0
		for j, s := range shards {
			if s.Master.ID != set.ID(masters[j]) || len(s.Replicas) != 1 || s.Replicas[0].ID != set.ID(replicas[j]) || s.Replicas[0].MasterID != s.Master.ID {
				t.Fatalf("%s: shard %d is %+v", node.Addr, j, s)
			}
			if len(s.Slots()) != 1 || s.Slots()[0].From != next {
				t.Fatalf("%s: shard %d serves %v, want one range from %d", node.Addr, j, s.Slots(), next)
			}
			next = s.Slots()[0].To + 1
		}
		if next != ClusterSlots {
			t.Fatalf("%s: the shards' slots end at %d", node.Addr, next-1)
		}
		info, err := ReadClusterInfo(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		if info.State != "ok" || info.SlotsOK != ClusterSlots || info.KnownNodes != 6 || info.Size != 3 || info.CurrentEpoch < 6 {
			t.Fatalf("%s: CLUSTER INFO %+v", node.Addr, info)
		}
	}
	if p := ClusterHealth(ctx, clients...); len(p) != 0 {
		t.Fatalf("a new cluster has problems: %v", p)
	}

	// A replica whose replication link is down.
	r0 := clients[3]
	if err := r0.ConfigSet(ctx, "masterauth", "wrong").Err(); err != nil {
		t.Fatal(err)
	}
	if err := r0.Do(ctx, "CLIENT", "KILL", "TYPE", "master").Err(); err != nil {
		t.Fatal(err)
	}
	t.Log(waitProblem(t, clients, replicas[0].Addr, 10*time.Second, ClusterProblemLinkDown))
	if err := r0.ConfigSet(ctx, "masterauth", set.Password).Err(); err != nil {
		t.Fatal(err)
	}
	t.Logf("healthy again after %s", waitHealthy(t, clients, 15*time.Second))

	// An open slot.
	if err := clients[0].Do(ctx, "CLUSTER", "SETSLOT", 100, "MIGRATING", set.ID(masters[1])).Err(); err != nil {
		t.Fatal(err)
	}
	p := waitProblem(t, clients, masters[0].Addr, 5*time.Second, ClusterProblemOpenSlot)
	if !strings.Contains(p.Detail, "slot 100 is migrating to "+masters[1].Addr) {
		t.Errorf("open slot: %v", p)
	}
	if err := clients[0].Do(ctx, "CLUSTER", "SETSLOT", 100, "STABLE").Err(); err != nil {
		t.Fatal(err)
	}
	waitHealthy(t, clients, 5*time.Second)

	// A killed replica: unreachable at once, pfail after the node timeout,
	// soon fail (a majority of masters agreed). A ClusterHealth pass with a
	// node down takes about a second (go-redis retries the dial), so the
	// pfail moment may pass unseen.
	replicas[2].Stop()
	start := time.Now()
	waitProblem(t, clients, replicas[2].Addr, 5*time.Second, ClusterProblemUnreachable)
	p = waitProblem(t, clients, replicas[2].Addr, 3*redistest.ClusterNodeTimeout, ClusterProblemPFail, ClusterProblemFail)
	t.Logf("%v, %s after the kill (node timeout %s)", p, time.Since(start).Round(time.Millisecond), redistest.ClusterNodeTimeout)
}
