package redis

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"

	goredis "github.com/redis/go-redis/v9"
)

// ReadInfo sends INFO with the given section (the default set when none;
// Redis 6.0 takes at most one) and parses every field.
func ReadInfo(ctx context.Context, c *goredis.Client, sections ...string) (map[string]string, error) {
	s, err := c.Info(ctx, sections...).Result()
	if err != nil {
		return nil, err
	}
	return ParseInfo(s), nil
}

// ParseInfo reads the "field:value" lines of an INFO reply.
func ParseInfo(s string) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		if k, v, ok := strings.Cut(line, ":"); ok {
			out[k] = v
		}
	}
	return out
}

// Int is an integer INFO field; 0 when absent or not a number.
func Int(info map[string]string, key string) int64 {
	n, _ := strconv.ParseInt(info[key], 10, 64)
	return n
}

// EngineVersionFromInfo tells the engine and its own version number from
// INFO server fields: Valkey reports redis_version:7.2.4 forever, so it is
// told by server_name:valkey and valkey_version.
func EngineVersionFromInfo(info map[string]string) (Engine, string) {
	if info["server_name"] == "valkey" || info["valkey_version"] != "" {
		return EngineValkey, info["valkey_version"]
	}
	return EngineRedis, info["redis_version"]
}

// VersionFromInfo is the server's engine and version from INFO server.
func VersionFromInfo(info map[string]string) (Version, error) {
	engine, num := EngineVersionFromInfo(info)
	v, err := ParseVersion(num)
	if err != nil {
		return Version{}, fmt.Errorf("cannot read the server version from INFO: %w", err)
	}
	v.Engine = engine
	return v, nil
}

// ServerVersion reads a server's engine and version (INFO server).
func ServerVersion(ctx context.Context, c *goredis.Client) (Version, error) {
	info, err := ReadInfo(ctx, c, "server")
	if err != nil {
		return Version{}, err
	}
	return VersionFromInfo(info)
}

// RoleFromInfo is "master" or "replica" (INFO says "slave"), or
// "sentinel" for a sentinel (redis_mode in INFO server).
func RoleFromInfo(info map[string]string) string {
	if info["role"] == "slave" {
		return "replica"
	}
	if info["role"] == "" && info["redis_mode"] == "sentinel" {
		return "sentinel"
	}
	return info["role"]
}

// MasterAddr is the master a replica's INFO names, host:port ("" for a
// master).
func MasterAddr(info map[string]string) string {
	if info["role"] != "slave" {
		return ""
	}
	return net.JoinHostPort(info["master_host"], info["master_port"])
}

// FollowsMaster reports whether INFO shows a replica of the master at addr.
func FollowsMaster(info map[string]string, addr string) bool {
	return info["role"] == "slave" && SameAddr(MasterAddr(info), addr)
}

// Keyspace is one dbN line of INFO keyspace.
type Keyspace struct {
	Keys, Expires, AvgTTL int64
}

// ParseKeyspace reads "keys=1,expires=0,avg_ttl=0".
func ParseKeyspace(s string) Keyspace {
	var ks Keyspace
	for _, part := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			continue
		}
		n, _ := strconv.ParseInt(v, 10, 64)
		switch k {
		case "keys":
			ks.Keys = n
		case "expires":
			ks.Expires = n
		case "avg_ttl":
			ks.AvgTTL = n
		}
	}
	return ks
}

// Databases returns the dbN fields of INFO keyspace by database number.
func Databases(info map[string]string) map[int]Keyspace {
	out := map[int]Keyspace{}
	for k, v := range info {
		if rest, ok := strings.CutPrefix(k, "db"); ok {
			if n, err := strconv.Atoi(rest); err == nil {
				out[n] = ParseKeyspace(v)
			}
		}
	}
	return out
}
