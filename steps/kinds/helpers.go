package kinds

import (
	"context"
	"fmt"

	"github.com/hashicorp/hcl/v2"
	goredis "github.com/redis/go-redis/v9"
	"github.com/understudy/understudy/dsl"
	"github.com/understudy/understudy/steps/redis"
)

// nodeText names a node argument for a plan, with its version where the
// walk knows it: "node.new (rehearsal 8.0)".
func nodeText(s *dsl.Step, arg string, sim *redis.Sim) string {
	n := s.NodeArg(arg)
	if v, ok := sim.Version(n); ok {
		return fmt.Sprintf("node.%s (rehearsal %s)", n, v)
	}
	return "node." + n
}

// addrText is a node argument's address as the runbook gives it.
func addrText(s *dsl.Step, arg string) string {
	if n := s.Runbook().Nodes[s.NodeArg(arg)]; n != nil && n.Address != "" {
		return n.Address
	}
	return "<address of node." + s.NodeArg(arg) + ">"
}

// noCheck is the Check of kinds that have no static check and do not
// change the simulated deployment.
type noCheck struct{}

func (noCheck) Check(*dsl.Step, *redis.Sim) hcl.Diagnostics { return nil }

// serverVersion reads a node's engine and version from INFO server.
func serverVersion(ctx context.Context, c *goredis.Client, node string) (redis.Version, error) {
	v, err := redis.ServerVersion(ctx, c)
	if err != nil {
		return redis.Version{}, fmt.Errorf("node %q: %w", node, err)
	}
	return v, nil
}
