package steps

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/understudy/understudy/dsl"
	"github.com/understudy/understudy/steps/redis"
	"github.com/understudy/understudy/steps/topology"
	"github.com/zclconf/go-cty/cty"
)

// sentinelQueryTimeout bounds one question to one sentinel, so that an
// unreachable sentinel does not hold a step while the others answer.
const sentinelQueryTimeout = 3 * time.Second

// bind resolves the step's node arguments that are known only when it
// starts (dsl.Step.Bind): sentinel.NAME.master is asked of the sentinels
// now.
func (in *Interpreter) bind(ctx context.Context, s *dsl.Step) (*dsl.Step, error) {
	return s.Bind(func(dep string) (string, error) { return in.sentinelMaster(ctx, dep) })
}

// setOutput records step.NAME: under the step's name, and for an
// iteration of a group also under the declared name, so that step.NAME
// read later is its latest iteration.
func (in *Interpreter) setOutput(s *dsl.Step, v cty.Value) {
	in.outputs[s.Name] = v
	if d := s.Decl(); d != s {
		in.outputs[d.Name] = v
	}
}

// members reads the set a group repeats over, when it starts: the
// declared sentinels or data nodes, or the data nodes that the sentinels
// know as replicas of the master now.
func (in *Interpreter) members(ctx context.Context, g *dsl.Group) ([]string, error) {
	d := in.rb.Sentinels[g.Deployment]
	if d == nil {
		return nil, fmt.Errorf("group %q: no sentinel deployment %q", g.Name, g.Deployment)
	}
	switch g.Collection {
	case dsl.CollectionSentinels:
		return d.Sentinels, nil
	case dsl.CollectionDataNodes:
		return d.DataNodes, nil
	}
	replicas, err := in.sentinelReplicas(ctx, d)
	if err != nil {
		return nil, fmt.Errorf("group %q: %s: %w", g.Name, in.rb.ExprText(g.ForEach), err)
	}
	return replicas, nil
}

// sentinelMaster asks every sentinel of the deployment which address the
// master has and returns the data node there. Sentinels that do not
// answer are passed over; sentinels that disagree (a failover under way)
// are an error, as is a master that is none of the declared data nodes.
func (in *Interpreter) sentinelMaster(ctx context.Context, dep string) (string, error) {
	d := in.rb.Sentinels[dep]
	if d == nil {
		return "", fmt.Errorf("no sentinel deployment %q", dep)
	}
	says := map[string][]string{} // master address → the sentinels that say so
	var failed []error
	for _, name := range d.Sentinels {
		addr, err := askSentinel(ctx, in, name, func(qctx context.Context, c *goredis.Client) (string, error) {
			return redis.SentinelMasterAddr(qctx, c, d.MasterName)
		})
		if err != nil {
			failed = append(failed, err)
			continue
		}
		says[addr] = append(says[addr], name)
	}
	switch len(says) {
	case 0:
		return "", fmt.Errorf("no sentinel named the master %q: %w", d.MasterName, errors.Join(failed...))
	case 1:
	default:
		var parts []string
		for _, addr := range slices.Sorted(maps.Keys(says)) {
			parts = append(parts, fmt.Sprintf("%s say %s", strings.Join(says[addr], ", "), addr))
		}
		return "", fmt.Errorf("the sentinels disagree on the master %q (a failover under way?): %s", d.MasterName, strings.Join(parts, "; "))
	}
	var addr string
	for a := range says {
		addr = a
	}
	n, ok := topology.NodeByAddress(in.opts.Topology, d.DataNodes, addr)
	if !ok {
		return "", fmt.Errorf("the sentinels name %s as the master %q, which is none of the data nodes of %q (%s)", addr, d.MasterName, dep, strings.Join(d.DataNodes, ", "))
	}
	return n.Name(), nil
}

// sentinelReplicas are the data nodes other than the master the
// sentinels name now, in the declared order. The sentinels' own replica
// lists lag behind a failover (the old master appears in them only once a
// sentinel has read its INFO again), so they decide only which node is
// the master; sentinel_check compares their lists with the declaration.
func (in *Interpreter) sentinelReplicas(ctx context.Context, d *dsl.SentinelDeployment) ([]string, error) {
	master, err := in.sentinelMaster(ctx, d.Name)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, n := range d.DataNodes {
		if n != master {
			out = append(out, n)
		}
	}
	return out, nil
}

// askSentinel runs one query against one sentinel, bounded in time, with
// the sentinel's name and address in the error.
func askSentinel[T any](ctx context.Context, in *Interpreter, name string, q func(context.Context, *goredis.Client) (T, error)) (T, error) {
	var zero T
	n, err := in.opts.Topology.Node(name)
	if err != nil {
		return zero, fmt.Errorf("sentinel %q: %w", name, err)
	}
	c, err := n.Client()
	if err != nil {
		return zero, fmt.Errorf("sentinel %q: %w", name, err)
	}
	qctx, cancel := context.WithTimeout(ctx, sentinelQueryTimeout)
	defer cancel()
	v, err := q(qctx, c)
	if err != nil {
		return zero, fmt.Errorf("sentinel %q (%s): %w", name, n.Address(), err)
	}
	return v, nil
}

// SentinelMaster is the data node the sentinels of deployment dep name as
// the master now (all sentinels that answer must agree).
func (x *Exec) SentinelMaster(ctx context.Context, dep string) (string, error) {
	return x.in.sentinelMaster(ctx, dep)
}
