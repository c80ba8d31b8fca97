package kinds

import (
	"context"
	"fmt"

	goredis "github.com/redis/go-redis/v9"
	"github.com/understudy/understudy/steps/redis"
)

// serverVersion reads a node's engine and version from INFO server.
func serverVersion(ctx context.Context, c *goredis.Client, node string) (redis.Version, error) {
	info, err := redis.ReadInfo(ctx, c, "server")
	if err != nil {
		return redis.Version{}, fmt.Errorf("INFO on %q: %w", node, err)
	}
	v, err := redis.VersionFromInfo(info)
	if err != nil {
		return redis.Version{}, fmt.Errorf("node %q: %w", node, err)
	}
	return v, nil
}
