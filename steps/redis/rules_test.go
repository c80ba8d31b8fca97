package redis

import (
	"strings"
	"testing"
)

// pairCases is every ordered pair of the versions below, master first, with
// what the table must say. A refusal gives a substring of the reason for a
// replication and for a restart (CheckUpgrade); "" means allowed. The RDB
// facts: Redis 6.0 writes 9, 7.0 10, 7.2 11, 7.4 and 8.0 12 and each reads
// up to its own; Valkey 8.x writes and reads up to 11; Valkey 9 writes 80
// (VALKEY080) and reads up to 11 and 80, not Redis's 12 to 79. Valkey 9.1
// sends a replica that does not read 80 the version-11 format in a diskless
// full sync (measured), so replicas that read 11 follow it; their restart
// on its dump file still fails.
var pairCases = []struct {
	master, replica string
	replication     string
	upgrade         string
}{
	{"6.0", "6.0", "", ""},
	{"6.0", "7.0", "", ""},
	{"6.0", "7.2", "", ""},
	{"6.0", "7.4", "", ""},
	{"6.0", "8.0", "", ""},
	{"6.0", "valkey:8.0", "", ""},
	{"6.0", "valkey:8.1", "", ""},
	{"6.0", "valkey:9.0", "", ""},
	{"6.0", "valkey:9.1", "", ""},
	{"7.0", "6.0", "the master writes RDB version 10, the replica reads up to 9", "7.0 writes RDB version 10, 6.0 reads up to 9"},
	{"7.0", "7.0", "", ""},
	{"7.0", "7.2", "", ""},
	{"7.0", "7.4", "", ""},
	{"7.0", "8.0", "", ""},
	{"7.0", "valkey:8.0", "", ""},
	{"7.0", "valkey:8.1", "", ""},
	{"7.0", "valkey:9.0", "", ""},
	{"7.0", "valkey:9.1", "", ""},
	{"7.2", "6.0", "the master writes RDB version 11, the replica reads up to 9", "7.2 writes RDB version 11, 6.0 reads up to 9"},
	{"7.2", "7.0", "the master writes RDB version 11, the replica reads up to 10", "7.2 writes RDB version 11, 7.0 reads up to 10"},
	{"7.2", "7.2", "", ""},
	{"7.2", "7.4", "", ""},
	{"7.2", "8.0", "", ""},
	{"7.2", "valkey:8.0", "", ""},
	{"7.2", "valkey:8.1", "", ""},
	{"7.2", "valkey:9.0", "", ""},
	{"7.2", "valkey:9.1", "", ""},
	{"7.4", "6.0", "the master writes RDB version 12, the replica reads up to 9", "7.4 writes RDB version 12, 6.0 reads up to 9"},
	{"7.4", "7.0", "the master writes RDB version 12, the replica reads up to 10", "7.4 writes RDB version 12, 7.0 reads up to 10"},
	{"7.4", "7.2", "the master writes RDB version 12, the replica reads up to 11", "7.4 writes RDB version 12, 7.2 reads up to 11"},
	{"7.4", "7.4", "", ""},
	{"7.4", "8.0", "", ""},
	{"7.4", "valkey:8.0", "the master writes RDB version 12, Valkey reads up to 11", "7.4 writes RDB version 12, Valkey reads up to 11"},
	{"7.4", "valkey:8.1", "the master writes RDB version 12, Valkey reads up to 11", "7.4 writes RDB version 12, Valkey reads up to 11"},
	{"7.4", "valkey:9.0", "the master writes RDB version 12, Valkey reads up to 11", "7.4 writes RDB version 12, Valkey reads up to 11"},
	{"7.4", "valkey:9.1", "the master writes RDB version 12, Valkey reads up to 11", "7.4 writes RDB version 12, Valkey reads up to 11"},
	{"8.0", "6.0", "the master writes RDB version 12, the replica reads up to 9", "8.0 writes RDB version 12, 6.0 reads up to 9"},
	{"8.0", "7.0", "the master writes RDB version 12, the replica reads up to 10", "8.0 writes RDB version 12, 7.0 reads up to 10"},
	{"8.0", "7.2", "the master writes RDB version 12, the replica reads up to 11", "8.0 writes RDB version 12, 7.2 reads up to 11"},
	{"8.0", "7.4", "", ""},
	{"8.0", "8.0", "", ""},
	{"8.0", "valkey:8.0", "the master writes RDB version 12, Valkey reads up to 11", "8.0 writes RDB version 12, Valkey reads up to 11"},
	{"8.0", "valkey:8.1", "the master writes RDB version 12, Valkey reads up to 11", "8.0 writes RDB version 12, Valkey reads up to 11"},
	{"8.0", "valkey:9.0", "the master writes RDB version 12, Valkey reads up to 11", "8.0 writes RDB version 12, Valkey reads up to 11"},
	{"8.0", "valkey:9.1", "the master writes RDB version 12, Valkey reads up to 11", "8.0 writes RDB version 12, Valkey reads up to 11"},
	{"valkey:8.0", "6.0", "the master writes RDB version 11, the replica reads up to 9", "valkey:8.0 writes RDB version 11, 6.0 reads up to 9"},
	{"valkey:8.0", "7.0", "the master writes RDB version 11, the replica reads up to 10", "valkey:8.0 writes RDB version 11, 7.0 reads up to 10"},
	{"valkey:8.0", "7.2", "", ""},
	{"valkey:8.0", "7.4", "", ""},
	{"valkey:8.0", "8.0", "", ""},
	{"valkey:8.0", "valkey:8.0", "", ""},
	{"valkey:8.0", "valkey:8.1", "", ""},
	{"valkey:8.0", "valkey:9.0", "", ""},
	{"valkey:8.0", "valkey:9.1", "", ""},
	{"valkey:8.1", "6.0", "the master writes RDB version 11, the replica reads up to 9", "valkey:8.1 writes RDB version 11, 6.0 reads up to 9"},
	{"valkey:8.1", "7.0", "the master writes RDB version 11, the replica reads up to 10", "valkey:8.1 writes RDB version 11, 7.0 reads up to 10"},
	{"valkey:8.1", "7.2", "", ""},
	{"valkey:8.1", "7.4", "", ""},
	{"valkey:8.1", "8.0", "", ""},
	{"valkey:8.1", "valkey:8.0", "", ""},
	{"valkey:8.1", "valkey:8.1", "", ""},
	{"valkey:8.1", "valkey:9.0", "", ""},
	{"valkey:8.1", "valkey:9.1", "", ""},
	{"valkey:9.0", "6.0", "the master writes RDB version 80 in Valkey's own format (magic VALKEY080), which no Redis reads", "valkey:9.0 writes RDB version 80 in Valkey's own format (magic VALKEY080), which no Redis reads"},
	{"valkey:9.0", "7.0", "the master writes RDB version 80 in Valkey's own format (magic VALKEY080), which no Redis reads", "valkey:9.0 writes RDB version 80 in Valkey's own format (magic VALKEY080), which no Redis reads"},
	{"valkey:9.0", "7.2", "the master writes RDB version 80 in Valkey's own format (magic VALKEY080), which no Redis reads", "valkey:9.0 writes RDB version 80 in Valkey's own format (magic VALKEY080), which no Redis reads"},
	{"valkey:9.0", "7.4", "the master writes RDB version 80 in Valkey's own format (magic VALKEY080), which no Redis reads", "valkey:9.0 writes RDB version 80 in Valkey's own format (magic VALKEY080), which no Redis reads"},
	{"valkey:9.0", "8.0", "the master writes RDB version 80 in Valkey's own format (magic VALKEY080), which no Redis reads", "valkey:9.0 writes RDB version 80 in Valkey's own format (magic VALKEY080), which no Redis reads"},
	{"valkey:9.0", "valkey:8.0", "the master writes RDB version 80 (magic VALKEY080), the replica reads up to 11", "valkey:9.0 writes RDB version 80 (magic VALKEY080), valkey:8.0 reads up to 11"},
	{"valkey:9.0", "valkey:8.1", "the master writes RDB version 80 (magic VALKEY080), the replica reads up to 11", "valkey:9.0 writes RDB version 80 (magic VALKEY080), valkey:8.1 reads up to 11"},
	{"valkey:9.0", "valkey:9.0", "", ""},
	{"valkey:9.0", "valkey:9.1", "", ""},
	{"valkey:9.1", "6.0", "the master sends a replica that does not read its RDB version 80 the version-11 format in a diskless full sync, and the replica reads up to 9", "valkey:9.1 writes RDB version 80 in Valkey's own format (magic VALKEY080), which no Redis reads"},
	{"valkey:9.1", "7.0", "the master sends a replica that does not read its RDB version 80 the version-11 format in a diskless full sync, and the replica reads up to 10", "valkey:9.1 writes RDB version 80 in Valkey's own format (magic VALKEY080), which no Redis reads"},
	{"valkey:9.1", "7.2", "", "valkey:9.1 writes RDB version 80 in Valkey's own format (magic VALKEY080), which no Redis reads"},
	{"valkey:9.1", "7.4", "", "valkey:9.1 writes RDB version 80 in Valkey's own format (magic VALKEY080), which no Redis reads"},
	{"valkey:9.1", "8.0", "", "valkey:9.1 writes RDB version 80 in Valkey's own format (magic VALKEY080), which no Redis reads"},
	{"valkey:9.1", "valkey:8.0", "", "valkey:9.1 writes RDB version 80 (magic VALKEY080), valkey:8.0 reads up to 11"},
	{"valkey:9.1", "valkey:8.1", "", "valkey:9.1 writes RDB version 80 (magic VALKEY080), valkey:8.1 reads up to 11"},
	{"valkey:9.1", "valkey:9.0", "", ""},
	{"valkey:9.1", "valkey:9.1", "", ""},
}

func TestRulePairs(t *testing.T) {
	versions := map[string]bool{}
	for _, tc := range pairCases {
		versions[tc.master] = true
		m, r := MustParseVersion(tc.master), MustParseVersion(tc.replica)

		err := CheckReplication(m, r)
		switch {
		case tc.replication == "" && err != nil:
			t.Errorf("%s master, %s replica: refused, want allowed: %v", m, r, err)
		case tc.replication != "" && err == nil:
			t.Errorf("%s master, %s replica: allowed, want refused (%s)", m, r, tc.replication)
		case err != nil:
			msg := err.Error()
			for _, want := range []string{"a replica on " + r.String() + " cannot follow a master on " + m.String() + ": ", tc.replication, "RDB version"} {
				if !strings.Contains(msg, want) {
					t.Errorf("%s master, %s replica: %q lacks %q", m, r, msg, want)
				}
			}
		}

		err = CheckUpgrade(m, r)
		switch {
		case tc.upgrade == "" && err != nil:
			t.Errorf("restart %s on %s: refused, want allowed: %v", m, r, err)
		case tc.upgrade != "" && err == nil:
			t.Errorf("restart %s on %s: allowed, want refused (%s)", m, r, tc.upgrade)
		case err != nil:
			msg := err.Error()
			for _, want := range []string{"a node on " + m.String() + " cannot restart on " + r.String() + " with its data: ", tc.upgrade, "would refuse to load the dump file"} {
				if !strings.Contains(msg, want) {
					t.Errorf("restart %s on %s: %q lacks %q", m, r, msg, want)
				}
			}
		}
		// The same facts answer both questions, except where a master sends
		// another format in a full sync than it writes to its dump file.
		if (tc.replication == "") != (tc.upgrade == "") && !valkey9Downgrades(m, r) {
			t.Errorf("%s → %s: the case disagrees with itself", m, r)
		}
	}
	if len(pairCases) != len(versions)*len(versions) {
		t.Errorf("%d cases for %d versions: not every ordered pair", len(pairCases), len(versions))
	}
}

// The message of the example in the brief, word for word (callers add the
// final period).
func TestRefusalMessage(t *testing.T) {
	err := CheckReplication(MustParseVersion("8.0"), MustParseVersion("7.0"))
	want := "a replica on 7.0 cannot follow a master on 8.0: the master writes RDB version 12, the replica reads up to 10; it would empty its dataset and retry the sync forever. Upgrade replicas first"
	if err == nil || err.Error() != want {
		t.Errorf("got  %v\nwant %s", err, want)
	}
}

// A Redis replica of a Valkey 8.1 master works (Redis 8.0.2 measured); a
// Redis 7.0 replica does not, for its RDB version, not for the engine.
func TestValkeyToRedis(t *testing.T) {
	v81 := MustParseVersion("valkey:8.1")
	if err := CheckReplication(v81, MustParseVersion("8.0")); err != nil {
		t.Errorf("valkey:8.1 → 8.0: %v", err)
	}
	if err := CheckUpgrade(v81, MustParseVersion("8.0")); err != nil {
		t.Errorf("restart valkey:8.1 on 8.0: %v", err)
	}
	err := CheckReplication(v81, MustParseVersion("7.0"))
	if err == nil {
		t.Fatal("valkey:8.1 → 7.0 allowed")
	}
	for _, want := range []string{"RDB version 11", "reads up to 10", "7.2 or later"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q lacks %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "Valkey's RDB format") {
		t.Errorf("the false reason is back: %v", err)
	}
}

func TestReplicationWarning(t *testing.T) {
	for _, tc := range []struct {
		master, replica string
		want            []string // substrings; nil: no warning
		not             string
	}{
		{"valkey:8.1", "8.0", []string{"8.0", "valkey:8.1", "only Valkey has", "no way back by replication", "RDB version 12", "reads up to 11"}, ""},
		{"valkey:8.0", "7.4", []string{"only Valkey has", "no way back by replication", "RDB version 12"}, ""},
		// Redis 7.2 writes RDB 11, which Valkey reads: no point of no return.
		{"valkey:8.1", "7.2", []string{"only Valkey has"}, "no way back"},
		{"4.0", "7.0", []string{"knows no RDB version for 4.0", "not checked"}, ""},
		{"7.0", "8.0", nil, ""},
		{"7.0", "valkey:8.1", nil, ""},
		{"valkey:8.1", "valkey:9.0", nil, ""},
		// Refused pairs get their error, not a warning.
		{"valkey:8.1", "7.0", nil, ""},
		{"8.0", "valkey:8.1", nil, ""},
	} {
		got := ReplicationWarning(MustParseVersion(tc.master), MustParseVersion(tc.replica))
		if tc.want == nil {
			if got != "" {
				t.Errorf("%s → %s: unexpected warning %q", tc.master, tc.replica, got)
			}
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(got, w) {
				t.Errorf("%s → %s: warning %q lacks %q", tc.master, tc.replica, got, w)
			}
		}
		if tc.not != "" && strings.Contains(got, tc.not) {
			t.Errorf("%s → %s: warning %q says %q", tc.master, tc.replica, got, tc.not)
		}
	}
}

// Every rule of the table decides at least one pair, and every rule has a
// reason naming both versions.
func TestEveryRuleReached(t *testing.T) {
	list := []string{"4.0", "6.0", "7.0", "7.2", "7.4", "8.0", "valkey:8.0", "valkey:8.1", "valkey:9.0", "valkey:9.1", "valkey:10.0"}
	reached := map[string]bool{}
	for _, a := range list {
		for _, b := range list {
			m, r := MustParseVersion(a), MustParseVersion(b)
			rl := match(m, r, true)
			reached[rl.name] = true
			reason := rl.reason(sides{src: m, dst: r, srcName: m.String(), dstName: r.String()})
			if !strings.Contains(reason, m.String()) && !strings.Contains(reason, r.String()) {
				t.Errorf("%s → %s (%s): reason %q names neither version", a, b, rl.name, reason)
			}
			if err := CheckReplication(m, r); (err == nil) != rl.works {
				t.Errorf("%s → %s: rule %q works=%v, CheckReplication %v", a, b, rl.name, rl.works, err)
			}
		}
	}
	for _, a := range list {
		for _, b := range list {
			rl, p := matchCluster(MustParseVersion(a), MustParseVersion(b))
			reached[rl.name] = true
			if reason := rl.reason(p); !strings.Contains(reason, p.src.String()) || !strings.Contains(reason, p.dst.String()) {
				t.Errorf("%s with %s (%s): reason %q does not name both versions", a, b, rl.name, reason)
			}
			if !rl.works && rl.ref == "" {
				t.Errorf("cluster rule %q refuses without a reference", rl.name)
			}
		}
	}
	for _, rl := range rules {
		if !reached[rl.name] {
			t.Errorf("rule %q decides no pair", rl.name)
		}
		if rl.reason == nil || rl.applies == nil {
			t.Errorf("rule %q lacks a predicate or a reason", rl.name)
		}
	}
	// A Valkey major downgrade that the RDB version does not catch.
	err := CheckReplication(MustParseVersion("valkey:10.0"), MustParseVersion("valkey:9.1"))
	if err == nil || !strings.Contains(err.Error(), "going back from major version 10") {
		t.Errorf("valkey:10.0 → valkey:9.1: %v", err)
	}
}

func TestRDBReads(t *testing.T) {
	for _, tc := range []struct {
		v     string
		max   int
		reads []int
		not   []int
		magic string
	}{
		{"6.0", 9, []int{9}, []int{10, 11, 12, 80}, "REDIS0009"},
		{"7.0", 10, []int{9, 10}, []int{11, 12}, "REDIS0010"},
		{"7.2", 11, []int{11}, []int{12}, "REDIS0011"},
		{"8.0", 12, []int{9, 10, 11, 12}, []int{80}, "REDIS0012"},
		{"valkey:8.1", 11, []int{9, 10, 11}, []int{12, 80}, "REDIS0011"},
		{"valkey:9.0", 80, []int{9, 11, 80}, []int{12, 13, 79}, "VALKEY080"},
	} {
		v := MustParseVersion(tc.v)
		if got := v.MaxRDBRead(); got != tc.max {
			t.Errorf("%s MaxRDBRead %d, want %d", v, got, tc.max)
		}
		if got := v.RDBMagic(); got != tc.magic {
			t.Errorf("%s RDBMagic %s, want %s", v, got, tc.magic)
		}
		for _, n := range tc.reads {
			if !v.ReadsRDB(n) {
				t.Errorf("%s does not read RDB %d", v, n)
			}
		}
		for _, n := range tc.not {
			if v.ReadsRDB(n) {
				t.Errorf("%s reads RDB %d", v, n)
			}
		}
	}
}

// clusterPairCases are the mixed-version pairs of one Redis Cluster, in
// any roles: "" allowed, else substrings of the refusal. The known-bad
// pairs are Redis before 7.0 with 7.2 (cluster bus extensions) and 7.0
// with 7.2 (nodes.conf); Valkey carries the fixes, and 7.0 with 8.0 or
// Valkey 8.1 ran fine here.
var clusterPairCases = []struct {
	a, b string
	want []string
}{
	{"6.2", "7.2", []string{"a cluster with nodes on 7.2 and on 6.2 is known to fail", "ping extensions", "Redis 6.2 (before 7.0) discards as too long", "cannot join", "(redis#12685, redis#13401)", "7.0 first"}},
	{"7.2", "6.2", []string{"a cluster with nodes on 7.2 and on 6.2 is known to fail", "redis#12685"}},
	{"6.0", "7.2", []string{"ping extensions", "redis#13401"}},
	{"6.2", "7.2.4", []string{"nodes on 7.2.4 and on 6.2"}},
	{"7.0", "7.2", []string{"a cluster with nodes on 7.2 and on 7.0 is known to fail", "Redis 7.0 does not gossip the shard IDs", "corrupted cluster config file", "(redis#12761)", "to 8.0 instead"}},
	{"7.2", "7.0.15", []string{"nodes on 7.2 and on 7.0.15", "redis#12761"}},
	{"6.0", "7.0", nil},
	{"6.2", "7.0", nil},
	{"6.2", "7.4", nil},
	{"7.0", "8.0", nil},
	{"7.0", "valkey:8.1", nil},
	{"6.2", "valkey:8.1", nil},
	{"7.2", "7.2", nil},
	{"7.2", "8.0", nil},
	{"7.2", "valkey:8.0", nil},
	{"8.0", "valkey:9.1", nil},
}

func TestClusterPairs(t *testing.T) {
	for _, tc := range clusterPairCases {
		a, b := MustParseVersion(tc.a), MustParseVersion(tc.b)
		err := CheckClusterPair(a, b)
		if tc.want == nil {
			if err != nil {
				t.Errorf("%s with %s: refused, want allowed: %v", a, b, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%s with %s: allowed, want refused (%s)", a, b, tc.want[0])
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s with %s: %q lacks %q", a, b, err, w)
			}
		}
		// Symmetric, word for word.
		if rev := CheckClusterPair(b, a); rev == nil || rev.Error() != err.Error() {
			t.Errorf("%s with %s: %v, the other way round %v", a, b, err, rev)
		}
	}
}

// Inside a cluster, a master and its replica answer the cluster question
// first, then every replication rule.
func TestClusterReplication(t *testing.T) {
	for _, tc := range []struct{ master, replica, want string }{
		{"7.0", "7.2", "redis#12761"},
		{"8.0", "7.0", "the master writes RDB version 12, the replica reads up to 10"},
		{"8.0", "valkey:8.1", "Valkey reads up to 11"},
		{"7.0", "8.0", ""},
		{"7.0", "valkey:8.1", ""},
	} {
		err := CheckClusterReplication(MustParseVersion(tc.master), MustParseVersion(tc.replica))
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s master, %s replica: %v", tc.master, tc.replica, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s master, %s replica: %v, want %q", tc.master, tc.replica, err, tc.want)
		}
	}
}

// CheckClusterPeers groups peers by reason and tells a replication
// problem from a mixed-version one.
func TestClusterPeers(t *testing.T) {
	v := MustParseVersion
	for _, tc := range []struct {
		name  string
		node  string
		peers []ClusterPeer
		want  []string // per problem: "peer,peer repl|pair substring"
	}{
		{"replica to 7.2 among 7.0", "7.2", []ClusterPeer{
			{Name: "c-1", Version: v("7.0"), Master: true}, {Name: "c-2", Version: v("7.0")}, {Name: "c-3", Version: v("7.0")}, {Name: "c-5", Version: v("7.2")},
		}, []string{"c-1,c-2,c-3 pair redis#12761"}},
		{"6.2 and 7.0 peers of a 7.2 node", "7.2", []ClusterPeer{
			{Name: "c-1", Version: v("6.2")}, {Name: "c-2", Version: v("7.0")}, {Name: "c-3", Version: v("6.2"), Replica: true},
		}, []string{"c-1,c-3 pair redis#12685", "c-2 pair redis#12761"}},
		{"master upgraded before its replica", "8.0", []ClusterPeer{
			{Name: "c-1", Version: v("7.0")}, {Name: "c-4", Version: v("7.0"), Replica: true},
		}, []string{"c-4 repl Upgrade replicas first"}},
		{"rolling 7.0 to 8.0", "8.0", []ClusterPeer{
			{Name: "c-1", Version: v("7.0"), Master: true}, {Name: "c-2", Version: v("7.0")},
		}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := CheckClusterPeers(v(tc.node), tc.peers)
			if len(got) != len(tc.want) {
				t.Fatalf("%d problem(s), want %d: %v", len(got), len(tc.want), got)
			}
			for i, w := range tc.want {
				peers, rest, _ := strings.Cut(w, " ")
				kind, sub, _ := strings.Cut(rest, " ")
				p := got[i]
				if strings.Join(p.Peers, ",") != peers || p.Replication != (kind == "repl") || !strings.Contains(p.Err.Error(), sub) {
					t.Errorf("problem %d: peers %v, replication %v, %v; want %s", i, p.Peers, p.Replication, p.Err, w)
				}
			}
		})
	}
}
