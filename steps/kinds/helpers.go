package kinds

import (
	"context"
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
	goredis "github.com/redis/go-redis/v9"
	"github.com/understudy/understudy/dsl"
	"github.com/understudy/understudy/steps"
	"github.com/understudy/understudy/steps/redis"
	"github.com/understudy/understudy/steps/topology"
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

// newestReplica is the node among candidates (in their order) whose link
// to its master is up and which runs the newest version, the first among
// equals; ok is false when none has its link up. It is what a switchover
// promotes when the runbook leaves the choice to it.
func newestReplica(ctx context.Context, x *steps.Exec, candidates []string) (n topology.Node, v redis.Version, ok bool, err error) {
	for _, name := range candidates {
		c, err := x.Client(name)
		if err != nil {
			return nil, redis.Version{}, false, err
		}
		info, err := redis.ReadInfo(ctx, c, "server", "replication")
		if err != nil || info["master_link_status"] != "up" {
			continue
		}
		cv, err := redis.VersionFromInfo(info)
		if err != nil {
			continue
		}
		if !ok || cv.Compare(v) > 0 {
			if n, err = x.Node(name); err != nil {
				return nil, redis.Version{}, false, err
			}
			v, ok = cv, true
		}
	}
	return n, v, ok, nil
}

// staticNewestReplica is newestReplica in the static walk: the node of
// names that follows master there and runs the newest version, the first
// among equals; "" when none follows it.
func staticNewestReplica(sim *redis.Sim, names []string, master string) string {
	to := ""
	var best redis.Version
	for _, n := range names {
		if master == "" || sim.MasterOf(n) != master {
			continue
		}
		if v, ok := sim.Version(n); to == "" || (ok && v.Compare(best) > 0) {
			to, best = n, v
		}
	}
	return to
}

// parseSides reads back the two node names a step logged as
// "PREFIX FROM → TO (...)" before it sent anything, for its Resume.
func parseSides(line, prefix string) (from, to string, ok bool) {
	rest, ok := strings.CutPrefix(line, prefix+" ")
	if !ok {
		return "", "", false
	}
	from, rest, ok = strings.Cut(rest, " → ")
	if !ok {
		return "", "", false
	}
	to, _, ok = strings.Cut(rest, " (")
	return from, to, ok
}
