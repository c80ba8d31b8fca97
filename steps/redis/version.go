package redis

import (
	"cmp"
	"fmt"
	"strconv"
	"strings"
)

// Engine names a server implementation.
type Engine string

// The engines understudy knows.
const (
	EngineRedis  Engine = "redis"
	EngineValkey Engine = "valkey"
)

// Version is an engine and its version, as a user writes it: "7.0" (Redis),
// "7.0.15", "valkey:8.1". Patch is -1 when the user did not name one.
type Version struct {
	Engine Engine
	Major  int
	Minor  int
	Patch  int
}

// ParseVersion reads "7.0", "redis:7.0", "7.0.15" or "valkey:8.1".
func ParseVersion(s string) (Version, error) {
	v := Version{Engine: EngineRedis, Patch: -1}
	rest := strings.TrimSpace(s)
	if eng, num, ok := strings.Cut(rest, ":"); ok {
		switch Engine(strings.ToLower(eng)) {
		case EngineRedis, EngineValkey:
			v.Engine = Engine(strings.ToLower(eng))
		default:
			return Version{}, fmt.Errorf("unknown engine %q in version %q: write \"7.0\" for Redis or \"valkey:8.1\" for Valkey", eng, s)
		}
		rest = num
	}
	parts := strings.Split(rest, ".")
	if len(parts) < 2 || len(parts) > 3 {
		return Version{}, fmt.Errorf("version %q must be MAJOR.MINOR or MAJOR.MINOR.PATCH, optionally prefixed by \"valkey:\"", s)
	}
	nums := make([]int, len(parts))
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return Version{}, fmt.Errorf("version %q: %q is not a number", s, p)
		}
		nums[i] = n
	}
	v.Major, v.Minor = nums[0], nums[1]
	if len(nums) == 3 {
		v.Patch = nums[2]
	}
	return v, nil
}

// MustParseVersion is ParseVersion for constants in code and tests.
func MustParseVersion(s string) Version {
	v, err := ParseVersion(s)
	if err != nil {
		panic(err)
	}
	return v
}

// String writes the version back in the user's notation.
func (v Version) String() string {
	num := fmt.Sprintf("%d.%d", v.Major, v.Minor)
	if v.Patch >= 0 {
		num += fmt.Sprintf(".%d", v.Patch)
	}
	if v.Engine == EngineValkey {
		return "valkey:" + num
	}
	return num
}

// Series is the version without its patch level: "7.0", "valkey:8.1".
func (v Version) Series() Version {
	v.Patch = -1
	return v
}

// Compare orders two versions of the same engine by number; the patch level
// counts only when both name one.
func (v Version) Compare(o Version) int {
	switch {
	case v.Major != o.Major:
		return cmp.Compare(v.Major, o.Major)
	case v.Minor != o.Minor:
		return cmp.Compare(v.Minor, o.Minor)
	case v.Patch >= 0 && o.Patch >= 0:
		return cmp.Compare(v.Patch, o.Patch)
	}
	return 0
}

// AtLeast reports whether v is of the same engine family and not older than
// major.minor. Valkey counts as Redis 7.2 for Redis feature checks.
func (v Version) AtLeast(major, minor int) bool {
	r := v.RedisEquivalent()
	return r.Compare(Version{Major: major, Minor: minor, Patch: -1}) >= 0
}

// RedisEquivalent maps a Valkey version to the Redis version whose commands
// and protocol it offers (Valkey forked from Redis 7.2.4).
func (v Version) RedisEquivalent() Version {
	if v.Engine == EngineValkey {
		return Version{Engine: EngineRedis, Major: 7, Minor: 2, Patch: 4}
	}
	return v
}

// RDBVersion is the RDB format version the server writes. Values follow
// redis-facts.md; unknown versions return 0.
func (v Version) RDBVersion() int {
	if v.Engine == EngineValkey {
		switch {
		case v.Major >= 9:
			return 80
		case v.Major == 8:
			return 11
		}
		return 11
	}
	switch {
	case v.Major >= 8, v.Major == 7 && v.Minor >= 4:
		return 12
	case v.Major == 7 && v.Minor >= 2:
		return 11
	case v.Major == 7:
		return 10
	case v.Major == 6 || v.Major == 5:
		return 9
	}
	return 0
}

// The RDB versions 12 to 79 are the formats of Redis 7.4 and later; Valkey
// reserves them as foreign and refuses them (redis-facts.md). Valkey 9
// writes its own format from 80 on, under the magic "VALKEY" instead of
// "REDIS".
const (
	rdbForeignMin = 12
	rdbForeignMax = 79
)

// MaxRDBRead is the highest RDB version the server loads, which is the one
// it writes: a server reads every older version and no newer one (Redis
// 6.0 up to 9, 7.0 up to 10, Valkey 8.x up to 11). Valkey 9 reads up to its
// own 80 but refuses the Redis versions 12 to 79 in between: ask ReadsRDB.
// Unknown versions return 0.
func (v Version) MaxRDBRead() int { return v.RDBVersion() }

// ReadsRDB reports whether the server loads a snapshot (a dump file or a
// full sync) of RDB version rdb: any version up to MaxRDBRead, except that
// Valkey refuses the Redis 7.4+ formats 12 to 79 (with its default
// rdb-version-check strict; relaxed does not lift this range either).
func (v Version) ReadsRDB(rdb int) bool {
	if rdb <= 0 || rdb > v.MaxRDBRead() {
		return false
	}
	if v.Engine == EngineValkey && rdb >= rdbForeignMin && rdb <= rdbForeignMax {
		return false
	}
	return true
}

// RDBMagic is how the server's snapshots start: "REDIS0011", "VALKEY080";
// "" for unknown versions.
func (v Version) RDBMagic() string {
	n := v.RDBVersion()
	switch {
	case n == 0:
		return ""
	case n > rdbForeignMax:
		return fmt.Sprintf("VALKEY%03d", n)
	}
	return fmt.Sprintf("REDIS%04d", n)
}

// HasFailover reports whether the server has FAILOVER and CLIENT PAUSE WRITE (6.2+).
func (v Version) HasFailover() bool { return v.AtLeast(6, 2) }

// DebugNeedsEnabling reports whether DEBUG is refused unless the server
// started with enable-debug-command (7.0+).
func (v Version) DebugNeedsEnabling() bool { return v.AtLeast(7, 0) }
