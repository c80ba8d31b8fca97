package redis

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"

	goredis "github.com/redis/go-redis/v9"
)

// Auth is a node's credentials as its replicas need them (masteruser,
// masterauth). Secrets: never log them.
type Auth struct {
	User, Password string
}

// ReplicaOf sets masteruser and masterauth (when the master has them) and
// sends REPLICAOF host port through c; node names it in errors.
func ReplicaOf(ctx context.Context, c *goredis.Client, node, masterAddr string, auth Auth) error {
	host, port, err := net.SplitHostPort(masterAddr)
	if err != nil {
		return fmt.Errorf("master address %q: %w", masterAddr, err)
	}
	if auth.User != "" {
		if err := c.ConfigSet(ctx, "masteruser", auth.User).Err(); err != nil {
			return fmt.Errorf("CONFIG SET masteruser on %q: %w", node, err)
		}
	}
	if auth.Password != "" {
		if err := c.ConfigSet(ctx, "masterauth", auth.Password).Err(); err != nil {
			return fmt.Errorf("CONFIG SET masterauth on %q: %w", node, err)
		}
	}
	if err := c.Do(ctx, "REPLICAOF", host, port).Err(); err != nil {
		return fmt.Errorf("REPLICAOF %s %s on %q: %w", host, port, node, err)
	}
	return nil
}

// Promote sends REPLICAOF NO ONE through c.
func Promote(ctx context.Context, c *goredis.Client, node string) error {
	if err := c.Do(ctx, "REPLICAOF", "NO", "ONE").Err(); err != nil {
		return fmt.Errorf("REPLICAOF NO ONE on %q: %w", node, err)
	}
	return nil
}

// Replicas lists the addresses of a master's replicas from its slaveN INFO
// fields (ip=..,port=..,state=..).
func Replicas(info map[string]string) []string {
	var out []string
	for k, v := range info {
		rest, ok := strings.CutPrefix(k, "slave")
		if !ok {
			continue
		}
		if _, err := strconv.Atoi(rest); err != nil {
			continue
		}
		f := map[string]string{}
		for _, part := range strings.Split(v, ",") {
			if a, b, ok := strings.Cut(part, "="); ok {
				f[a] = b
			}
		}
		out = append(out, net.JoinHostPort(f["ip"], f["port"]))
	}
	return out
}
