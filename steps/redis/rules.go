package redis

import (
	"errors"
	"fmt"
)

// Which versions can replicate from which, as one table (redis-facts.md).
//
// A replica does a full sync by loading the snapshot its master writes, so
// the question is whether the replica's version reads the master's RDB
// version. A node restarted on another version asks the same question of
// the dump file the old version wrote: CheckUpgrade(from, to) reads the
// table as if to were a replica of from.
//
// The same table answers which versions can run side by side in one Redis
// Cluster, whatever their roles: its cluster rules (CheckClusterPair) are
// the mixed-version pairs with known cluster bus or nodes.conf bugs. A
// master and its replica in a cluster must pass both questions
// (CheckClusterReplication).
//
// The rules are read in order and the first whose predicate holds decides.

// rule is one line of the table. src is the version that wrote the data
// (the master, or the version a node ran before a restart), dst the
// version that must load it (the replica, or the version after it).
type rule struct {
	name    string
	applies func(src, dst Version) bool
	// works says whether the replica syncs (and the restarted node loads
	// its data).
	works bool
	// rdb says the refusal is about the snapshot format: a replica would
	// empty its dataset before failing and retry the sync forever, a
	// restarted server would refuse to start with the file.
	rdb bool
	// reason is the fact, naming both sides and the RDB numbers when they
	// are the reason; p names the sides ("the master", or "8.0").
	reason func(p sides) string
	// advice is what to do instead of this replication, a sentence; nil
	// when there is nothing to add.
	advice func(p sides) string
	// warning, for pairs that work, is what the operator should know
	// before relying on it; nil when there is nothing to say.
	warning func(src, dst Version) string
	// syncOnly rules answer the replication question only: what a master
	// sends in a full sync can differ from the dump file it writes.
	syncOnly bool
	// cluster rules answer only the cluster question: can two nodes of
	// one Redis Cluster, in any roles, run these versions side by side.
	// They are symmetric: applies is asked with the pair both ways round,
	// and src is then the version the predicate names first.
	cluster bool
	// ref is where the rule's fact comes from (issues, "measured here"),
	// printed after the reason; "" when the comment above the rule says it.
	ref string
}

// sides are the two versions of a question and how a sentence names them.
type sides struct {
	src, dst         Version
	srcName, dstName string
}

// rules is the table. Keep each reason true: it is what a refused runbook
// prints.
var rules = []rule{
	// The cluster question. Valkey forked from 7.2.4 but carries the
	// cluster bus fix (valkey#52, ported to Redis as redis#13465), and a
	// 7.0/Valkey 8.1 cluster ran fine here: only Redis 7.2 is named.
	{
		name:    "Redis before 7.0 with Redis 7.2 in one cluster",
		cluster: true,
		applies: func(s, d Version) bool { return isRedisSeries(s, 7, 2) && d.Engine == EngineRedis && d.Major < 7 },
		reason: func(p sides) string {
			return fmt.Sprintf("%s sends cluster bus messages with ping extensions, which %s (before 7.0) discards as too long: the nodes on %s see the cluster fail, and a node on %s cannot join a cluster of nodes on %s",
				p.srcName, p.dstName, p.src, p.src, p.dst)
		},
		ref: "redis#12685, redis#13401",
		advice: func(sides) string {
			return "Upgrade every node to 7.0 first (the maintainers' workaround), then to 8.0 rather than 7.2: 7.0 with 7.2 has a bug of its own, and a cluster of 7.0 and 8.0 nodes ran fine here"
		},
	},
	{
		name:    "Redis 7.0 with Redis 7.2 in one cluster",
		cluster: true,
		applies: func(s, d Version) bool { return isRedisSeries(s, 7, 2) && isRedisSeries(d, 7, 0) },
		reason: func(p sides) string {
			return fmt.Sprintf("%s does not gossip the shard IDs that %s records in nodes.conf, so a node on %s that restarts can report its nodes.conf corrupted (\"Unrecoverable error: corrupted cluster config file\") and not start",
				p.dstName, p.srcName, p.src)
		},
		ref: "redis#12761",
		advice: func(sides) string {
			return "Upgrade 7.0 to 8.0 instead: a cluster of 7.0 and 8.0 nodes ran fine here"
		},
	},
	{
		name:    "no known problem in one cluster",
		cluster: true,
		applies: func(Version, Version) bool { return true },
		works:   true,
		reason: func(p sides) string {
			return fmt.Sprintf("no bug is known of a cluster with nodes on %s and %s", p.src, p.dst)
		},
	},

	// The replication and restart questions.
	{
		name:    "unknown RDB version",
		applies: func(s, d Version) bool { return s.RDBVersion() == 0 || d.RDBVersion() == 0 },
		works:   true,
		reason: func(p sides) string {
			return fmt.Sprintf("understudy knows no RDB version for %s, so whether %s loads what %s writes is not checked", unknownOf(p.src, p.dst), p.dst, p.src)
		},
		warning: func(s, d Version) string {
			return fmt.Sprintf("understudy knows no RDB version for %s: whether a replica on %s can load the snapshot of a master on %s is not checked; rehearse it against real servers", unknownOf(s, d), d, s)
		},
	},
	{
		// Measured 2026-11-26 (understudy/valkey:9.1, diskless sync, the
		// default): a Valkey 9.1.2 master sends a replica that does not
		// read its format 80 the RDB 11 format instead (valkey#2735);
		// Valkey 8.1.1 and Redis 8.0.2 replicas synced.
		name:     "Valkey 9 full sync in RDB 11 to a reader of 11",
		syncOnly: true,
		applies: func(s, d Version) bool {
			return valkey9Downgrades(s, d) && d.ReadsRDB(valkey9SyncRDB)
		},
		works: true,
		reason: func(p sides) string {
			return fmt.Sprintf("%s sends a replica that does not read its RDB version %d the version-%d format in a diskless full sync, which %s reads", p.srcName, p.src.RDBVersion(), valkey9SyncRDB, p.dstName)
		},
		warning: func(s, d Version) string {
			w := fmt.Sprintf("a replica on %s of a master on %s syncs only because the master sends it RDB version %d in a diskless full sync (repl-diskless-sync yes, the default; valkey#2735): with repl-diskless-sync no the master sends its dump file, RDB version %d, which %s cannot load", d, s, valkey9SyncRDB, s.RDBVersion(), d)
			if d.Engine == EngineRedis {
				w += "; and it moves the data from Valkey to Redis: commands and configuration options only Valkey has are not there"
			}
			return w
		},
	},
	{
		// Measured: 6.0.16 and 7.0.15 replicas of a Valkey 9.1.2 master log
		// "Can't handle RDB format version 11".
		name:     "Valkey 9 full sync in RDB 11 to an older reader",
		syncOnly: true,
		applies:  valkey9Downgrades,
		rdb:      true,
		reason: func(p sides) string {
			return fmt.Sprintf("%s sends a replica that does not read its RDB version %d the version-%d format in a diskless full sync, and %s reads up to %d", p.srcName, p.src.RDBVersion(), valkey9SyncRDB, p.dstName, p.dst.MaxRDBRead())
		},
		advice: func(sides) string { return "Upgrade replicas first" },
	},
	{
		// Valkey 9 writes RDB 80 under the magic VALKEY080; Redis checks
		// for the magic REDIS and stops there. For replication, the two
		// rules above answer first.
		name: "Valkey 9 format to Redis",
		applies: func(s, d Version) bool {
			return s.Engine == EngineValkey && s.RDBVersion() > rdbForeignMax && d.Engine == EngineRedis
		},
		rdb: true,
		reason: func(p sides) string {
			return fmt.Sprintf("%s writes RDB version %d in Valkey's own format (magic %s), which no Redis reads (%s reads RDB up to version %d, magic REDIS)",
				p.srcName, p.src.RDBVersion(), p.src.RDBMagic(), p.dst, p.dst.MaxRDBRead())
		},
	},
	{
		name: "Valkey 9 format to Valkey 8",
		applies: func(s, d Version) bool {
			return s.Engine == EngineValkey && d.Engine == EngineValkey && s.RDBVersion() > rdbForeignMax && !d.ReadsRDB(s.RDBVersion())
		},
		rdb: true,
		reason: func(p sides) string {
			return fmt.Sprintf("%s writes RDB version %d (magic %s), %s reads up to %d (magic REDIS)",
				p.srcName, p.src.RDBVersion(), p.src.RDBMagic(), p.dstName, p.dst.MaxRDBRead())
		},
		advice: func(sides) string {
			return "Upgrade replicas first: Valkey does not go back across major versions"
		},
	},
	{
		// Valkey reserves 12 to 79 as foreign formats; Redis 7.4 and
		// later write 12.
		name: "Redis 7.4+ to Valkey",
		applies: func(s, d Version) bool {
			return s.Engine == EngineRedis && d.Engine == EngineValkey && !d.ReadsRDB(s.RDBVersion())
		},
		rdb: true,
		reason: func(p sides) string {
			return fmt.Sprintf("%s writes RDB version %d, Valkey reads up to 11 (%s refuses 12 to 79, the formats of Redis 7.4 and later)",
				p.srcName, p.src.RDBVersion(), p.dst)
		},
		advice: func(sides) string {
			return "Only Redis 7.2 and older can hand their data to Valkey by replication or by dump file"
		},
	},
	{
		name:    "replica reads an older RDB version only",
		applies: func(s, d Version) bool { return !d.ReadsRDB(s.RDBVersion()) },
		rdb:     true,
		reason: func(p sides) string {
			return fmt.Sprintf("%s writes RDB version %d, %s reads up to %d", p.srcName, p.src.RDBVersion(), p.dstName, p.dst.MaxRDBRead())
		},
		advice: func(p sides) string {
			if p.src.Engine == EngineValkey && p.dst.Engine == EngineRedis {
				return fmt.Sprintf("A Redis replica of a master on %s needs a Redis that reads RDB version %d: 7.2 or later", p.src, p.src.RDBVersion())
			}
			return "Upgrade replicas first"
		},
	},
	{
		// Not reached by the versions understudy knows (Valkey 9 → 8 is
		// refused above for its RDB version); kept for the next major.
		name: "Valkey downgrade across majors",
		applies: func(s, d Version) bool {
			return s.Engine == EngineValkey && d.Engine == EngineValkey && s.Major > d.Major
		},
		reason: func(p sides) string {
			return fmt.Sprintf("Valkey does not support going back from major version %d (%s) to %d (%s)", p.src.Major, p.src, p.dst.Major, p.dst)
		},
		advice: func(sides) string { return "Upgrade replicas first" },
	},
	{
		// Measured: a Redis 8.0.2 replica fully synced from a Valkey 8.1.1
		// master (REDIS0011), keys of every type, a stream with a consumer
		// group and TTLs included, then followed live writes.
		name:    "Valkey 8 to Redis 7.2+",
		applies: func(s, d Version) bool { return s.Engine == EngineValkey && d.Engine == EngineRedis },
		works:   true,
		reason: func(p sides) string {
			return fmt.Sprintf("%s writes RDB version %d (magic %s), which %s reads (up to %d)", p.srcName, p.src.RDBVersion(), p.src.RDBMagic(), p.dstName, p.dst.MaxRDBRead())
		},
		warning: func(s, d Version) string {
			w := fmt.Sprintf("a replica on %s of a master on %s moves the data from Valkey to Redis: commands and configuration options only Valkey has are not there (clients using them get errors, and a Valkey-only directive stops Redis from starting)", d, s)
			if !s.ReadsRDB(d.RDBVersion()) {
				w += fmt.Sprintf("; and there is no way back by replication: once the Redis node writes RDB version %d, %s (which reads up to %d) cannot follow it", d.RDBVersion(), s, s.MaxRDBRead())
			}
			return w
		},
	},
	{
		name:    "replica reads the master's RDB version",
		applies: func(Version, Version) bool { return true },
		works:   true,
		reason: func(p sides) string {
			return fmt.Sprintf("%s writes RDB version %d, which %s reads (up to %d)", p.srcName, p.src.RDBVersion(), p.dstName, p.dst.MaxRDBRead())
		},
	},
}

// valkey9SyncRDB is the RDB version a Valkey 9 master sends a replica that
// does not read Valkey 9's own format, in a diskless full sync.
const valkey9SyncRDB = 11

// valkey9Downgrades reports whether src is a Valkey 9.1+ master whose own
// format dst does not read: it sends dst the version-11 format instead
// (measured on 9.1.2; 9.0 is left to the dump-file rules, unmeasured).
func valkey9Downgrades(src, dst Version) bool {
	return src.Engine == EngineValkey && (src.Major > 9 || src.Major == 9 && src.Minor >= 1) &&
		src.RDBVersion() > rdbForeignMax && !dst.ReadsRDB(src.RDBVersion())
}

// SyncRDBVersion is the RDB version master sends replica in a full sync
// (diskless, the default): its own, except that a Valkey 9 master sends a
// replica that does not read Valkey 9's format the version-11 one.
func SyncRDBVersion(master, replica Version) int {
	if valkey9Downgrades(master, replica) {
		return valkey9SyncRDB
	}
	return master.RDBVersion()
}

// EmptiesOnFailedSync reports whether a replica of version v empties its
// dataset when a full sync fails to load: Redis and Valkey 8 do, a Valkey
// 9.1.2 replica kept its keys (measured 2026-11-26).
func EmptiesOnFailedSync(v Version) bool {
	return !(v.Engine == EngineValkey && v.Major >= 9)
}

// isRedisSeries reports whether v is Redis major.minor, any patch level.
func isRedisSeries(v Version, major, minor int) bool {
	return v.Engine == EngineRedis && v.Major == major && v.Minor == minor
}

// match is the first rule of the table that applies: to a full sync when
// sync is true, else to a dump file.
func match(src, dst Version, sync bool) *rule {
	for i := range rules {
		if rules[i].cluster || rules[i].syncOnly && !sync {
			continue
		}
		if rules[i].applies(src, dst) {
			return &rules[i]
		}
	}
	panic("redis: the rule table has no rule for " + src.String() + " → " + dst.String())
}

// matchCluster is the first cluster rule that applies to a and b, either
// way round, and the two versions in the order its predicate names them.
func matchCluster(a, b Version) (*rule, sides) {
	for i := range rules {
		r := &rules[i]
		if !r.cluster {
			continue
		}
		switch {
		case r.applies(a, b):
			return r, sides{src: a, dst: b, srcName: "Redis " + a.String(), dstName: "Redis " + b.String()}
		case r.applies(b, a):
			return r, sides{src: b, dst: a, srcName: "Redis " + b.String(), dstName: "Redis " + a.String()}
		}
	}
	panic("redis: the rule table has no cluster rule for " + a.String() + " with " + b.String())
}

// CheckClusterPair reports why two nodes of one Redis Cluster, on versions
// a and b, must not run side by side whatever their roles (a mixed-version
// pair with a known bug), or nil when no bug is known of the pair. A
// master and its replica must also replicate: CheckClusterReplication.
func CheckClusterPair(a, b Version) error {
	r, p := matchCluster(a, b)
	if r.works {
		return nil
	}
	msg := fmt.Sprintf("a cluster with nodes on %s and on %s is known to fail: %s", p.src, p.dst, r.reason(p))
	if r.ref != "" {
		msg += " (" + r.ref + ")"
	}
	return errors.New(withAdvice(msg, r, p))
}

// CheckClusterReplication reports why a replica on replica cannot follow a
// master on master inside one Redis Cluster: the pair must be allowed in a
// cluster (CheckClusterPair) and replicate (CheckReplication).
func CheckClusterReplication(master, replica Version) error {
	if err := CheckClusterPair(master, replica); err != nil {
		return err
	}
	return CheckReplication(master, replica)
}

// ClusterPeer is another node of a Redis Cluster as CheckClusterPeers sees
// it from one node: its name, version and replication link to that node.
type ClusterPeer struct {
	Name    string
	Version Version
	// Master is true for the node's master, Replica for a node that
	// replicates it.
	Master, Replica bool
}

// PeerProblem is one reason a node of a cluster cannot run beside some of
// its peers.
type PeerProblem struct {
	// Peers are the names of the peers the reason concerns, in the order
	// given.
	Peers []string
	// Replication is true when the reason is that a master and its
	// replica cannot replicate, false for a known-bad mixed-version pair.
	Replication bool
	Err         error
}

// CheckClusterPeers reports what goes wrong when a node of a Redis Cluster
// runs v beside peers: every known-bad pair it forms (CheckClusterPair),
// and for its master and replicas the replication rules too
// (CheckClusterReplication). Peers with the same reason are reported
// together, in the order of peers; nil when nothing is known to go wrong.
func CheckClusterPeers(v Version, peers []ClusterPeer) []PeerProblem {
	var out []PeerProblem
	index := map[string]int{}
	for _, p := range peers {
		var err error
		switch {
		case p.Master:
			err = CheckClusterReplication(p.Version, v)
		case p.Replica:
			err = CheckClusterReplication(v, p.Version)
		default:
			err = CheckClusterPair(v, p.Version)
		}
		if err == nil {
			continue
		}
		repl := (p.Master || p.Replica) && CheckClusterPair(v, p.Version) == nil
		if i, ok := index[err.Error()]; ok {
			out[i].Peers = append(out[i].Peers, p.Name)
			continue
		}
		index[err.Error()] = len(out)
		out = append(out, PeerProblem{Peers: []string{p.Name}, Replication: repl, Err: err})
	}
	return out
}

// CheckReplication reports why a replica of version replica cannot follow a
// master of version master, or nil when it can. Pairs that work may still
// deserve a ReplicationWarning.
func CheckReplication(master, replica Version) error {
	r := match(master, replica, true)
	if r.works {
		return nil
	}
	p := sides{src: master, dst: replica, srcName: "the master", dstName: "the replica"}
	msg := fmt.Sprintf("a replica on %s cannot follow a master on %s: %s", replica, master, r.reason(p))
	switch {
	case r.rdb && EmptiesOnFailedSync(replica):
		msg += "; it would empty its dataset and retry the sync forever"
	case r.rdb:
		msg += "; it would retry the sync forever"
	}
	return errors.New(withAdvice(msg, r, p))
}

// ReplicationWarning is a sentence for pairs that replicate but deserve a
// warning (a replica on Redis of a master on Valkey), or "" when there is
// nothing to say or the pair does not replicate at all.
func ReplicationWarning(master, replica Version) string {
	r := match(master, replica, true)
	if !r.works || r.warning == nil {
		return ""
	}
	return r.warning(master, replica)
}

// CheckUpgrade reports why a node of version from cannot restart as to with
// its data, or nil when it can: to must load the dump file from wrote,
// which is the question a replica on to of a master on from asks.
func CheckUpgrade(from, to Version) error {
	r := match(from, to, false)
	if r.works {
		return nil
	}
	p := sides{src: from, dst: to, srcName: from.String(), dstName: to.String()}
	msg := fmt.Sprintf("a node on %s cannot restart on %s with its data: %s", from, to, r.reason(p))
	if r.rdb {
		msg += fmt.Sprintf("; %s would refuse to load the dump file and not start", to)
	}
	return errors.New(msg)
}

// withAdvice appends the rule's advice as its own sentence. Errors carry no
// final period: callers end the sentence.
func withAdvice(msg string, r *rule, p sides) string {
	if r.advice == nil {
		return msg
	}
	if a := r.advice(p); a != "" {
		msg += ". " + a
	}
	return msg
}

// unknownOf names the version(s) the table has no RDB facts for.
func unknownOf(a, b Version) string {
	switch {
	case a.RDBVersion() == 0 && b.RDBVersion() == 0 && a != b:
		return a.String() + " and " + b.String()
	case a.RDBVersion() == 0:
		return a.String()
	}
	return b.String()
}
