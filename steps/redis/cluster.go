package redis

import (
	"context"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"

	goredis "github.com/redis/go-redis/v9"
)

// ClusterSlots is the number of hash slots of a Redis Cluster.
const ClusterSlots = 16384

// DefaultClusterMaxLag is how many bytes of replication stream a cluster
// replica with its link up may be behind its master before ClusterHealth
// reports it. A replica at rest is 0 behind; under writes, a few kilobytes
// (the offset read between the master's INFO and the replica's).
const DefaultClusterMaxLag = 1 << 20

// SlotRange is the hash slots From to To, both included.
type SlotRange struct {
	From, To int
}

// String is "From-To", or "From" for a single slot, as CLUSTER NODES
// writes it.
func (r SlotRange) String() string {
	if r.From == r.To {
		return strconv.Itoa(r.From)
	}
	return fmt.Sprintf("%d-%d", r.From, r.To)
}

// ClusterNode is one line of CLUSTER NODES: one node as the node that
// answered sees it.
type ClusterNode struct {
	// ID is the node's 40-character cluster ID.
	ID string
	// Addr is the node's client address, host:port; BusPort its cluster
	// bus port (0 when the line has none, before Redis 4.0). Hostname is
	// the 7.0+ ",hostname" suffix (cluster-announce-hostname), "" when
	// none.
	Addr     string
	BusPort  int
	Hostname string
	// Flags as listed: myself, master, slave, fail?, fail, handshake,
	// noaddr, nofailover, noflags.
	Flags []string
	// MasterID is the master's ID for a replica, "" for a master ("-").
	MasterID string
	// PingSent and PongRecv are Unix times in milliseconds (0 when none).
	PingSent, PongRecv int64
	// ConfigEpoch is the node's config epoch (a replica shows its
	// master's).
	ConfigEpoch int64
	// LinkState is the state of the cluster bus link to the node:
	// connected or disconnected.
	LinkState string
	// Slots are the slot ranges the node serves (masters).
	Slots []SlotRange
	// Migrating maps a slot being moved away from the node to the
	// destination's ID, Importing a slot being moved to the node to the
	// source's ID. Redis lists them on the answering node's own line
	// only.
	Migrating, Importing map[int]string
}

// HasFlag reports whether the node has flag f.
func (n ClusterNode) HasFlag(f string) bool { return hasFlag(n.Flags, f) }

// Myself reports whether this is the line of the node that answered.
func (n ClusterNode) Myself() bool { return n.HasFlag("myself") }

// IsMaster reports whether the node is a master.
func (n ClusterNode) IsMaster() bool { return n.HasFlag("master") }

// IsReplica reports whether the node is a replica (flag slave).
func (n ClusterNode) IsReplica() bool { return n.HasFlag("slave") }

// PFail reports whether the answering node suspects the node is down
// (flag fail?: no reply for cluster-node-timeout).
func (n ClusterNode) PFail() bool { return n.HasFlag("fail?") }

// Failed reports whether the node is marked failed (flag fail: a majority
// of masters agreed).
func (n ClusterNode) Failed() bool { return n.HasFlag("fail") }

// SlotCount is how many slots the node serves.
func (n ClusterNode) SlotCount() int {
	c := 0
	for _, r := range n.Slots {
		c += r.To - r.From + 1
	}
	return c
}

// ParseClusterNodes reads a CLUSTER NODES reply:
//
//	<id> <ip:port@cport[,hostname]> <flags> <master> <ping-sent> <pong-recv> <config-epoch> <link-state> <slot>...
//
// where a slot is "n", "from-to", "[n->-dest]" (migrating, on the
// answering node's own line) or "[n-<-source]" (importing).
func ParseClusterNodes(text string) ([]ClusterNode, error) {
	var out []ClusterNode
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		n, err := parseClusterNode(line)
		if err != nil {
			return nil, fmt.Errorf("CLUSTER NODES line %d: %w", i+1, err)
		}
		out = append(out, n)
	}
	return out, nil
}

func parseClusterNode(line string) (ClusterNode, error) {
	f := strings.Fields(line)
	if len(f) < 8 {
		return ClusterNode{}, fmt.Errorf("%d fields, want at least 8: %q", len(f), line)
	}
	n := ClusterNode{ID: f[0], Flags: splitFlags(f[2]), LinkState: f[7]}
	if err := n.parseAddr(f[1]); err != nil {
		return ClusterNode{}, err
	}
	if f[3] != "-" {
		n.MasterID = f[3]
	}
	var err error
	if n.PingSent, err = strconv.ParseInt(f[4], 10, 64); err != nil {
		return ClusterNode{}, fmt.Errorf("ping-sent %q: %w", f[4], err)
	}
	if n.PongRecv, err = strconv.ParseInt(f[5], 10, 64); err != nil {
		return ClusterNode{}, fmt.Errorf("pong-recv %q: %w", f[5], err)
	}
	if n.ConfigEpoch, err = strconv.ParseInt(f[6], 10, 64); err != nil {
		return ClusterNode{}, fmt.Errorf("config-epoch %q: %w", f[6], err)
	}
	for _, s := range f[8:] {
		if err := n.parseSlot(s); err != nil {
			return ClusterNode{}, err
		}
	}
	return n, nil
}

// parseAddr reads "ip:port@cport[,hostname[,aux=value...]]". The ip may be
// empty (":0@0" for a node whose address is not known yet) or an IPv6
// address, which Redis writes without brackets: the port is after the
// last colon.
func (n *ClusterNode) parseAddr(s string) error {
	addr, rest, _ := strings.Cut(s, ",")
	for _, part := range strings.Split(rest, ",") {
		if part != "" && !strings.Contains(part, "=") && n.Hostname == "" {
			n.Hostname = part
		}
	}
	addr, bus, hasBus := strings.Cut(addr, "@")
	i := strings.LastIndexByte(addr, ':')
	if i < 0 {
		return fmt.Errorf("address %q: no port", s)
	}
	host, port := addr[:i], addr[i+1:]
	if _, err := strconv.Atoi(port); err != nil {
		return fmt.Errorf("address %q: port: %w", s, err)
	}
	n.Addr = net.JoinHostPort(strings.Trim(host, "[]"), port)
	if hasBus {
		p, err := strconv.Atoi(bus)
		if err != nil {
			return fmt.Errorf("address %q: bus port: %w", s, err)
		}
		n.BusPort = p
	}
	return nil
}

// parseSlot reads one slot field.
func (n *ClusterNode) parseSlot(s string) error {
	if inner, ok := strings.CutPrefix(s, "["); ok {
		inner = strings.TrimSuffix(inner, "]")
		if slot, dest, ok := strings.Cut(inner, "->-"); ok {
			k, err := parseSlotNumber(slot)
			if err != nil {
				return err
			}
			if n.Migrating == nil {
				n.Migrating = map[int]string{}
			}
			n.Migrating[k] = dest
			return nil
		}
		if slot, src, ok := strings.Cut(inner, "-<-"); ok {
			k, err := parseSlotNumber(slot)
			if err != nil {
				return err
			}
			if n.Importing == nil {
				n.Importing = map[int]string{}
			}
			n.Importing[k] = src
			return nil
		}
		return fmt.Errorf("slot field %q: neither migrating (->-) nor importing (-<-)", s)
	}
	from, to, isRange := strings.Cut(s, "-")
	a, err := parseSlotNumber(from)
	if err != nil {
		return err
	}
	b := a
	if isRange {
		if b, err = parseSlotNumber(to); err != nil {
			return err
		}
	}
	if b < a {
		return fmt.Errorf("slot range %q ends before it starts", s)
	}
	n.Slots = append(n.Slots, SlotRange{a, b})
	return nil
}

func parseSlotNumber(s string) (int, error) {
	k, err := strconv.Atoi(s)
	if err != nil || k < 0 || k >= ClusterSlots {
		return 0, fmt.Errorf("slot %q: not a number from 0 to %d", s, ClusterSlots-1)
	}
	return k, nil
}

// ReadClusterNodes sends CLUSTER NODES through c and parses the reply.
func ReadClusterNodes(ctx context.Context, c *goredis.Client) ([]ClusterNode, error) {
	text, err := c.ClusterNodes(ctx).Result()
	if err != nil {
		return nil, fmt.Errorf("CLUSTER NODES: %w", err)
	}
	return ParseClusterNodes(text)
}

// ClusterMyself returns the line of the node that answered.
func ClusterMyself(nodes []ClusterNode) (ClusterNode, bool) {
	for _, n := range nodes {
		if n.Myself() {
			return n, true
		}
	}
	return ClusterNode{}, false
}

// ClusterNodeByID returns the node with the given ID.
func ClusterNodeByID(nodes []ClusterNode, id string) (ClusterNode, bool) {
	for _, n := range nodes {
		if n.ID == id {
			return n, true
		}
	}
	return ClusterNode{}, false
}

// ClusterInfo is a CLUSTER INFO reply.
type ClusterInfo struct {
	// State is cluster_state: ok or fail.
	State string
	// Slot counts: assigned to a node, served by a node not suspected or
	// failed, by a node suspected (pfail), by a failed node.
	SlotsAssigned, SlotsOK, SlotsPFail, SlotsFail int
	// KnownNodes counts the nodes known, handshakes included; Size the
	// masters serving at least one slot.
	KnownNodes, Size int
	// CurrentEpoch is the highest epoch the node knows, MyEpoch its own
	// config epoch (its master's for a replica).
	CurrentEpoch, MyEpoch int64
	// Fields holds every field of the reply.
	Fields map[string]string
}

// ParseClusterInfo reads a CLUSTER INFO reply ("field:value" lines).
func ParseClusterInfo(text string) ClusterInfo {
	f := ParseInfo(text)
	return ClusterInfo{
		State:         f["cluster_state"],
		SlotsAssigned: int(Int(f, "cluster_slots_assigned")),
		SlotsOK:       int(Int(f, "cluster_slots_ok")),
		SlotsPFail:    int(Int(f, "cluster_slots_pfail")),
		SlotsFail:     int(Int(f, "cluster_slots_fail")),
		KnownNodes:    int(Int(f, "cluster_known_nodes")),
		Size:          int(Int(f, "cluster_size")),
		CurrentEpoch:  Int(f, "cluster_current_epoch"),
		MyEpoch:       Int(f, "cluster_my_epoch"),
		Fields:        f,
	}
}

// ReadClusterInfo sends CLUSTER INFO through c and parses the reply.
func ReadClusterInfo(ctx context.Context, c *goredis.Client) (ClusterInfo, error) {
	text, err := c.ClusterInfo(ctx).Result()
	if err != nil {
		return ClusterInfo{}, fmt.Errorf("CLUSTER INFO: %w", err)
	}
	return ParseClusterInfo(text), nil
}

// ClusterShard is a master and its replicas, as one node sees them.
type ClusterShard struct {
	Master   ClusterNode
	Replicas []ClusterNode
}

// Slots are the slot ranges the shard's master serves.
func (s ClusterShard) Slots() []SlotRange { return s.Master.Slots }

// ClusterShards groups one node's view into shards: each master with the
// replicas that name it, ordered by their first slot, masters without
// slots last (by address). Replicas of a master not in the view are left
// out.
func ClusterShards(nodes []ClusterNode) []ClusterShard {
	var shards []ClusterShard
	at := map[string]int{}
	for _, n := range nodes {
		if n.IsMaster() {
			at[n.ID] = len(shards)
			shards = append(shards, ClusterShard{Master: n})
		}
	}
	for _, n := range nodes {
		if i, ok := at[n.MasterID]; ok && n.IsReplica() {
			shards[i].Replicas = append(shards[i].Replicas, n)
		}
	}
	for _, s := range shards {
		sort.Slice(s.Replicas, func(i, j int) bool { return s.Replicas[i].Addr < s.Replicas[j].Addr })
	}
	sort.SliceStable(shards, func(i, j int) bool {
		a, b := shards[i].Master.Slots, shards[j].Master.Slots
		switch {
		case len(a) == 0 || len(b) == 0:
			if len(a) != len(b) {
				return len(b) == 0
			}
			return shards[i].Master.Addr < shards[j].Master.Addr
		default:
			return a[0].From < b[0].From
		}
	})
	return shards
}

// The kinds of ClusterProblem.
const (
	ClusterProblemUnreachable = "unreachable" // the node did not answer CLUSTER INFO / CLUSTER NODES
	ClusterProblemState       = "state"       // cluster_state is not ok
	ClusterProblemSlots       = "slots"       // not every slot is assigned and ok
	ClusterProblemPFail       = "pfail"       // a node is flagged fail? by some node
	ClusterProblemFail        = "fail"        // a node is flagged fail by some node
	ClusterProblemDisagree    = "disagree"    // two nodes' views of slot owners or masters' config epochs differ
	ClusterProblemRoles       = "roles"       // two nodes' views of who replicates whom differ
	ClusterProblemOpenSlot    = "open-slot"   // a slot is migrating or importing
	ClusterProblemLinkDown    = "link-down"   // a replica's replication link is down or syncing
	ClusterProblemLag         = "lag"         // a replica is far behind its master's offset
)

// ClusterProblem is one thing ClusterHealth found wrong.
type ClusterProblem struct {
	// Kind is one of the ClusterProblem* constants.
	Kind string
	// Node is the address of the node the problem is about.
	Node string
	// Detail says what is wrong, in a sentence.
	Detail string
}

func (p ClusterProblem) String() string { return p.Kind + " " + p.Node + ": " + p.Detail }

// clusterView is what one node answered.
type clusterView struct {
	client *goredis.Client
	addr   string // as the node names itself, else the client's
	info   ClusterInfo
	nodes  []ClusterNode
	self   ClusterNode
}

// ClusterHealth asks every node behind clients for its cluster state and
// returns what is wrong, nil when nothing: a node that does not answer, a
// cluster_state that is not ok, slots not all assigned and ok, nodes
// flagged fail? (pfail) or fail, two nodes whose views differ on who owns
// a slot or a master's config epoch, or on who is a replica of whom, slots
// migrating or importing, and replicas whose replication link is down, who
// are still syncing, or whose offset is more than DefaultClusterMaxLag
// behind their master's (read first; only for masters among clients).
//
// Right after a failover the views differ for a while: measured here
// (7.0.15, 3 × 1, node timeout 3 s), the slot owners and epochs agree
// within milliseconds (the promoted replica broadcasts them), but the
// other nodes learn that the old master is now a replica only from its own
// gossip, 0.5-1.6 s later (ClusterProblemRoles). A caller waiting for
// health polls.
func ClusterHealth(ctx context.Context, clients ...*goredis.Client) []ClusterProblem {
	var problems []ClusterProblem
	add := func(kind, node, format string, args ...any) {
		problems = append(problems, ClusterProblem{Kind: kind, Node: node, Detail: fmt.Sprintf(format, args...)})
	}
	var views []*clusterView
	for _, c := range clients {
		v := &clusterView{client: c, addr: c.Options().Addr}
		var err error
		if v.info, err = ReadClusterInfo(ctx, c); err == nil {
			v.nodes, err = ReadClusterNodes(ctx, c)
		}
		if err != nil {
			add(ClusterProblemUnreachable, v.addr, "%v", err)
			continue
		}
		if self, ok := ClusterMyself(v.nodes); ok {
			v.self = self
			if !strings.HasPrefix(self.Addr, ":") {
				v.addr = self.Addr
			}
		}
		views = append(views, v)
	}
	for _, v := range views {
		if v.info.State != "ok" {
			add(ClusterProblemState, v.addr, "cluster_state is %s", v.info.State)
		}
		if v.info.SlotsAssigned != ClusterSlots || v.info.SlotsOK != ClusterSlots {
			add(ClusterProblemSlots, v.addr, "%d slots assigned, %d ok, %d pfail, %d fail (want all %d ok)",
				v.info.SlotsAssigned, v.info.SlotsOK, v.info.SlotsPFail, v.info.SlotsFail, ClusterSlots)
		}
		for _, slot := range sortedSlots(v.self.Migrating) {
			add(ClusterProblemOpenSlot, v.addr, "slot %d is migrating to %s", slot, nodeName(v.nodes, v.self.Migrating[slot]))
		}
		for _, slot := range sortedSlots(v.self.Importing) {
			add(ClusterProblemOpenSlot, v.addr, "slot %d is importing from %s", slot, nodeName(v.nodes, v.self.Importing[slot]))
		}
	}
	problems = append(problems, flagged(views)...)
	problems = append(problems, disagreements(views)...)
	problems = append(problems, replicaProblems(ctx, views)...)
	return problems
}

// flagged reports every node some view flags fail? or fail, once per node
// and flag, naming the nodes that see it so.
func flagged(views []*clusterView) []ClusterProblem {
	type key struct{ addr, kind string }
	seen := map[key][]string{}
	var order []key
	for _, v := range views {
		for _, n := range v.nodes {
			for _, kind := range []string{ClusterProblemPFail, ClusterProblemFail} {
				if kind == ClusterProblemPFail && !n.PFail() || kind == ClusterProblemFail && !n.Failed() {
					continue
				}
				k := key{n.Addr, kind}
				if _, ok := seen[k]; !ok {
					order = append(order, k)
				}
				seen[k] = append(seen[k], v.addr)
			}
		}
	}
	var out []ClusterProblem
	for _, k := range order {
		flag := map[string]string{ClusterProblemPFail: "fail? (pfail)", ClusterProblemFail: "fail"}[k.kind]
		out = append(out, ClusterProblem{Kind: k.kind, Node: k.addr, Detail: fmt.Sprintf("flagged %s by %s", flag, strings.Join(seen[k], ", "))})
	}
	return out
}

// disagreements compares every view with the first: slot owners and the
// config epochs of the masters serving slots (ClusterProblemDisagree), who
// replicates whom (ClusterProblemRoles).
func disagreements(views []*clusterView) []ClusterProblem {
	if len(views) < 2 {
		return nil
	}
	type summary struct {
		owner  [ClusterSlots]string // slot -> master ID ("" unassigned)
		master map[string]string    // node ID -> "master" or the ID it replicates
		epoch  map[string]int64     // master ID (serving slots) -> config epoch
	}
	sum := func(v *clusterView) *summary {
		s := &summary{master: map[string]string{}, epoch: map[string]int64{}}
		for _, n := range v.nodes {
			switch {
			case n.IsMaster():
				s.master[n.ID] = "master"
			case n.IsReplica():
				s.master[n.ID] = n.MasterID
			}
			if n.IsMaster() && len(n.Slots) > 0 {
				s.epoch[n.ID] = n.ConfigEpoch
			}
			for _, r := range n.Slots {
				for k := r.From; k <= r.To; k++ {
					s.owner[k] = n.ID
				}
			}
		}
		return s
	}
	ref := views[0]
	a := sum(ref)
	var out []ClusterProblem
	for _, v := range views[1:] {
		b := sum(v)
		var diffs, roles []string
		// Slot owners, as ranges of equal disagreement.
		for k := 0; k < ClusterSlots; {
			if a.owner[k] == b.owner[k] {
				k++
				continue
			}
			from := k
			for k < ClusterSlots && a.owner[k] == a.owner[from] && b.owner[k] == b.owner[from] {
				k++
			}
			diffs = append(diffs, fmt.Sprintf("slots %s: %s vs %s", SlotRange{from, k - 1}, nodeName(ref.nodes, a.owner[from]), nodeName(v.nodes, b.owner[from])))
		}
		for _, id := range sortedKeys(a.master) {
			if m, ok := b.master[id]; ok && m != a.master[id] {
				roles = append(roles, fmt.Sprintf("%s: %s vs %s", nodeName(ref.nodes, id), roleText(ref.nodes, a.master[id]), roleText(v.nodes, m)))
			}
		}
		for _, id := range sortedKeys(a.epoch) {
			if e, ok := b.epoch[id]; ok && e != a.epoch[id] {
				diffs = append(diffs, fmt.Sprintf("config epoch of %s: %d vs %d", nodeName(ref.nodes, id), a.epoch[id], e))
			}
		}
		for _, d := range []struct {
			kind  string
			diffs []string
		}{{ClusterProblemDisagree, diffs}, {ClusterProblemRoles, roles}} {
			if len(d.diffs) == 0 {
				continue
			}
			if len(d.diffs) > 5 {
				d.diffs = append(d.diffs[:5], fmt.Sprintf("and %d more", len(d.diffs)-5))
			}
			what := "slot owners or epochs"
			if d.kind == ClusterProblemRoles {
				what = "the roles"
			}
			out = append(out, ClusterProblem{Kind: d.kind, Node: v.addr,
				Detail: fmt.Sprintf("sees %s differently from %s (%s's view first): %s", what, ref.addr, ref.addr, strings.Join(d.diffs, "; "))})
		}
	}
	return out
}

// neverSyncs says why the replica of view v can never sync from its master
// (view mv) when their versions cannot replicate (a 7.0 replica that needs
// a full sync from an 8.0 master, as after a FORCE failover), "" when
// they can or the versions cannot be read.
func neverSyncs(ctx context.Context, v, mv *clusterView) string {
	if mv == nil {
		return ""
	}
	rv, err := ServerVersion(ctx, v.client)
	if err != nil {
		return ""
	}
	mver, err := ServerVersion(ctx, mv.client)
	if err != nil {
		return ""
	}
	if err := CheckReplication(mver, rv); err != nil {
		return ", and a full sync can never succeed: " + err.Error()
	}
	return ""
}

// replicaProblems checks every node that is a replica in its own view:
// its link, its sync, and its offset against its master's, when the
// master is among the views.
func replicaProblems(ctx context.Context, views []*clusterView) []ClusterProblem {
	byID := map[string]*clusterView{}
	for _, v := range views {
		byID[v.self.ID] = v
	}
	var out []ClusterProblem
	add := func(kind, node, format string, args ...any) {
		out = append(out, ClusterProblem{Kind: kind, Node: node, Detail: fmt.Sprintf(format, args...)})
	}
	for _, v := range views {
		if !v.self.IsReplica() {
			continue
		}
		var m map[string]string
		mv := byID[v.self.MasterID]
		if mv != nil {
			var err error
			if m, err = ReadInfo(ctx, mv.client, "replication"); err != nil {
				add(ClusterProblemUnreachable, mv.addr, "INFO replication: %v", err)
			}
		}
		r, err := ReadInfo(ctx, v.client, "replication")
		if err != nil {
			add(ClusterProblemUnreachable, v.addr, "INFO replication: %v", err)
			continue
		}
		master := nodeName(v.nodes, v.self.MasterID)
		switch {
		case r["master_link_status"] != "up":
			since := ""
			// A replica whose link was never up counts from the epoch
			// on some versions (6.0: 1.8e9 s): no duration then.
			if s := Int(r, "master_link_down_since_seconds"); s >= 0 && s < 365*24*3600 && r["master_link_down_since_seconds"] != "" {
				since = fmt.Sprintf(" for %d s", s)
			}
			add(ClusterProblemLinkDown, v.addr, "replication link to %s is %s%s%s", master, r["master_link_status"], since, neverSyncs(ctx, v, mv))
		case r["master_sync_in_progress"] != "0":
			add(ClusterProblemLinkDown, v.addr, "still syncing from %s", master)
		case m != nil:
			if lag := Int(m, "master_repl_offset") - Int(r, "slave_repl_offset"); lag > DefaultClusterMaxLag {
				add(ClusterProblemLag, v.addr, "offset %s is %d bytes behind %s's %s", r["slave_repl_offset"], lag, master, m["master_repl_offset"])
			}
		}
	}
	return out
}

// nodeName is "addr (id prefix)" for a node ID in a view, the ID alone
// when the view does not know it, "nobody" for "".
func nodeName(nodes []ClusterNode, id string) string {
	if id == "" {
		return "nobody"
	}
	short := id
	if len(short) > 8 {
		short = short[:8]
	}
	if n, ok := ClusterNodeByID(nodes, id); ok {
		return n.Addr + " (" + short + ")"
	}
	return short
}

func roleText(nodes []ClusterNode, m string) string {
	if m == "master" || m == "" {
		return "a master"
	}
	return "a replica of " + nodeName(nodes, m)
}

func sortedSlots(m map[int]string) []int {
	var out []int
	for k := range m {
		out = append(out, k)
	}
	sort.Ints(out)
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// KeySlot returns the hash slot of key, as a cluster computes it: CRC16
// (XMODEM) of the key's hash tag, the text between its first '{' and the
// first '}' after it when that is not empty, else of the whole key, modulo
// 16384.
func KeySlot(key string) int {
	if open := strings.IndexByte(key, '{'); open >= 0 {
		if n := strings.IndexByte(key[open+1:], '}'); n > 0 {
			key = key[open+1 : open+1+n]
		}
	}
	var crc uint16
	for i := 0; i < len(key); i++ {
		crc ^= uint16(key[i]) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return int(crc) % ClusterSlots
}

// Contains reports whether slot is in the range.
func (r SlotRange) Contains(slot int) bool { return r.From <= slot && slot <= r.To }
