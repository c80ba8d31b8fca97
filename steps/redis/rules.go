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
}

// sides are the two versions of a question and how a sentence names them.
type sides struct {
	src, dst         Version
	srcName, dstName string
}

// rules is the table. Keep each reason true: it is what a refused runbook
// prints.
var rules = []rule{
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
		// Valkey 9 writes RDB 80 under the magic VALKEY080; Redis checks
		// for the magic REDIS and stops there.
		//
		// Not measured here (no Valkey 9 image). Valkey after 9.0
		// (valkey#2735) may send an older RDB version in a diskless full
		// sync to a replica that announces an older version, or none as
		// Redis does; if so, this rule is conservative for replication, and
		// still true for dump files.
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

// match is the first rule of the table that applies.
func match(src, dst Version) *rule {
	for i := range rules {
		if rules[i].applies(src, dst) {
			return &rules[i]
		}
	}
	panic("redis: the rule table has no rule for " + src.String() + " → " + dst.String())
}

// CheckReplication reports why a replica of version replica cannot follow a
// master of version master, or nil when it can. Pairs that work may still
// deserve a ReplicationWarning.
func CheckReplication(master, replica Version) error {
	r := match(master, replica)
	if r.works {
		return nil
	}
	p := sides{src: master, dst: replica, srcName: "the master", dstName: "the replica"}
	msg := fmt.Sprintf("a replica on %s cannot follow a master on %s: %s", replica, master, r.reason(p))
	if r.rdb {
		msg += "; it would empty its dataset and retry the sync forever"
	}
	return errors.New(withAdvice(msg, r, p))
}

// ReplicationWarning is a sentence for pairs that replicate but deserve a
// warning (a replica on Redis of a master on Valkey), or "" when there is
// nothing to say or the pair does not replicate at all.
func ReplicationWarning(master, replica Version) string {
	r := match(master, replica)
	if !r.works || r.warning == nil {
		return ""
	}
	return r.warning(master, replica)
}

// CheckUpgrade reports why a node of version from cannot restart as to with
// its data, or nil when it can: to must load the dump file from wrote,
// which is the question a replica on to of a master on from asks.
func CheckUpgrade(from, to Version) error {
	r := match(from, to)
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
