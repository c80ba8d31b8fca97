package redis

import (
	"context"
	"fmt"
	"strings"

	goredis "github.com/redis/go-redis/v9"
)

// AppClients lists the IDs of a server's application connections: every
// client that is neither a replication link (flags M or S) nor named own
// (understudy's own connections).
func AppClients(ctx context.Context, c *goredis.Client, own string) ([]string, error) {
	list, err := c.ClientList(ctx).Result()
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, line := range strings.Split(strings.TrimSpace(list), "\n") {
		if line == "" {
			continue
		}
		f := map[string]string{}
		for _, kv := range strings.Fields(line) {
			if k, v, ok := strings.Cut(kv, "="); ok {
				f[k] = v
			}
		}
		if f["name"] == own || strings.ContainsAny(f["flags"], "MS") {
			continue
		}
		ids = append(ids, f["id"])
	}
	return ids, nil
}

// KillAppClients closes the application connections of a server (see
// AppClients), so that clients reconnect through their endpoint, and
// returns how many it closed. Replication links and understudy's own
// connections stay.
func KillAppClients(ctx context.Context, c *goredis.Client, own string) (int, error) {
	ids, err := AppClients(ctx, c, own)
	if err != nil || len(ids) == 0 {
		return 0, err
	}
	pipe := c.Pipeline()
	for _, id := range ids {
		pipe.Do(ctx, "CLIENT", "KILL", "ID", id)
	}
	cmds, err := pipe.Exec(ctx)
	n := 0
	for _, cmd := range cmds {
		// A client that left meanwhile answers "No such client" or 0.
		if v, err := cmd.(*goredis.Cmd).Int(); err == nil && v > 0 {
			n++
		}
	}
	if err != nil && !strings.Contains(err.Error(), "No such client") {
		return n, fmt.Errorf("CLIENT KILL: %w", err)
	}
	return n, nil
}
