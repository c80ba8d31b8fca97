package dataset

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	goredis "github.com/redis/go-redis/v9"
	"github.com/understudy/understudy/steps/redis"
)

// side is what a comparison needs to know of one server: its version,
// its databases and which commands it has.
type side struct {
	c       *goredis.Client
	label   string // "a", "b", "snapshot", "server": names the side in reasons
	version string // e.g. "Redis 7.0.15", "Valkey 8.1.1"
	dbs     map[int]dbInfo
	// hfe: HPEXPIRETIME exists (hash field expiration: Redis 7.4+, Valkey 9+).
	hfe bool
	// memory: MEMORY USAGE is allowed, to learn the size in bytes of
	// collections before reading them.
	memory bool
}

// dbInfo is one database's line of INFO keyspace.
type dbInfo struct {
	keys int64
	// subexpiry is the number of hashes with field TTLs (Redis 7.4+);
	// hasSub is false when the server does not report it.
	subexpiry int64
	hasSub    bool
}

// probe reads c's version, keyspace and commands in one round trip. The
// commands are O(1) but for INFO keyspace (O(databases)).
func probe(ctx context.Context, c *goredis.Client, label string) (*side, error) {
	pipe := c.Pipeline()
	infoServer := pipe.Info(ctx, "server")
	infoKeyspace := pipe.Info(ctx, "keyspace")
	cmdInfo := pipe.Do(ctx, "COMMAND", "INFO", "HPEXPIRETIME")
	// Any key: nil when it does not exist. What counts is whether the
	// command is allowed.
	mem := pipe.Do(ctx, "MEMORY", "USAGE", "understudy:compare:memory-usage-probe")
	_, _ = pipe.Exec(ctx)
	if err := infoServer.Err(); err != nil {
		return nil, fmt.Errorf("%s: info server: %w", label, err)
	}
	if err := infoKeyspace.Err(); err != nil {
		return nil, fmt.Errorf("%s: info keyspace: %w", label, err)
	}
	s := &side{c: c, label: label, dbs: parseKeyspace(infoKeyspace.Val())}
	info := redis.ParseInfo(infoServer.Val())
	engine, num := redis.EngineVersionFromInfo(info)
	name := "Redis"
	if engine == redis.EngineValkey {
		name = "Valkey"
	}
	s.version = name + " " + num
	if l, err := cmdInfo.Slice(); err == nil {
		s.hfe = len(l) == 1 && l[0] != nil
	} else if v, verr := redis.ParseVersion(num); verr == nil {
		// COMMAND refused: go by the version.
		s.hfe = (engine == redis.EngineRedis && v.Compare(redis.MustParseVersion("7.4")) >= 0) ||
			(engine == redis.EngineValkey && v.Major >= 9)
	}
	s.memory = mem.Err() == nil || errors.Is(mem.Err(), goredis.Nil)
	return s, nil
}

// parseKeyspace reads the dbN lines of INFO keyspace, with subexpiry.
func parseKeyspace(text string) map[int]dbInfo {
	out := make(map[int]dbInfo)
	for k, v := range redis.ParseInfo(text) {
		rest, ok := strings.CutPrefix(k, "db")
		if !ok {
			continue
		}
		n, err := strconv.Atoi(rest)
		if err != nil {
			continue
		}
		var d dbInfo
		for _, part := range strings.Split(v, ",") {
			name, val, _ := strings.Cut(part, "=")
			x, _ := strconv.ParseInt(val, 10, 64)
			switch name {
			case "keys":
				d.keys = x
			case "subexpiry":
				d.subexpiry, d.hasSub = x, true
			}
		}
		out[n] = d
	}
	return out
}

// dbsWithKeys returns the databases that hold keys on any of servers,
// sorted.
func dbsWithKeys(servers ...*side) []int {
	var dbs []int
	for _, s := range servers {
		for n, d := range s.dbs {
			if d.keys > 0 && !slices.Contains(dbs, n) {
				dbs = append(dbs, n)
			}
		}
	}
	slices.Sort(dbs)
	return dbs
}

// fieldTTLsIn reports whether hash field TTLs must be read in database db
// of s: the server has them and does not report that no hash in db has one.
func (s *side) fieldTTLsIn(db int) bool {
	if !s.hfe {
		return false
	}
	d, ok := s.dbs[db]
	return !ok || !d.hasSub || d.subexpiry > 0
}

// onDB returns s for database db: the same server with a client of its
// own for db, paced (see pacer).
func (s *side) onDB(db int) (_ *side, done func()) {
	c, done := newClient(s.c, db)
	c.AddHook(&pacer{})
	cp := *s
	cp.c = c
	return &cp, done
}
