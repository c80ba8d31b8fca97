package steps

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/understudy/understudy/dsl"
	"github.com/understudy/understudy/steps/redis"
	"github.com/understudy/understudy/steps/topology"
	"github.com/zclconf/go-cty/cty"
)

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
	if g.Root == "cluster" {
		return in.clusterMembers(ctx, g)
	}
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
	n, err := topology.AskSentinels(ctx, in.opts.Topology, d.Sentinels, d.MasterName).Master(in.opts.Topology, d.DataNodes)
	if err != nil {
		return "", err
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

// SentinelMaster is the data node the sentinels of deployment dep name as
// the master now (all sentinels that answer must agree).
func (x *Exec) SentinelMaster(ctx context.Context, dep string) (string, error) {
	return x.in.sentinelMaster(ctx, dep)
}

// clusterMembers reads a cluster's roles from the first node that answers
// CLUSTER NODES: its masters or its replicas, in the declared order, or
// all its nodes. A node the cluster knows that the runbook does not
// declare is an error: the upgrade would leave it out.
func (in *Interpreter) clusterMembers(ctx context.Context, g *dsl.Group) ([]string, error) {
	d := in.rb.Clusters[g.Deployment]
	if d == nil {
		return nil, fmt.Errorf("group %q: no cluster %q", g.Name, g.Deployment)
	}
	if g.Collection == dsl.CollectionNodes {
		return d.Nodes, nil
	}
	t := in.opts.Topology
	var failed []error
	for _, name := range d.Nodes {
		n, c, err := topology.NodeClient(t, name)
		if err != nil {
			return nil, err
		}
		qctx, cancel := context.WithTimeout(ctx, topology.SentinelQueryTimeout)
		view, err := redis.ReadClusterNodes(qctx, c)
		cancel()
		if err != nil {
			failed = append(failed, fmt.Errorf("node %q (%s): %w", name, n.Address(), err))
			continue
		}
		want := map[string]bool{}
		for _, cn := range view {
			if cn.HasFlag("noaddr") || cn.HasFlag("handshake") {
				continue
			}
			dn, ok := topology.NodeByAddress(t, d.Nodes, cn.Addr)
			if !ok {
				return nil, fmt.Errorf("group %q: node %q knows a cluster node %s (%s) that is none of the nodes of %q: declare it, or the upgrade leaves it out", g.Name, name, cn.Addr, strings.Join(cn.Flags, ","), d.Name)
			}
			if (g.Collection == dsl.CollectionMasters && cn.IsMaster()) || (g.Collection == dsl.CollectionReplicas && cn.IsReplica()) {
				want[dn.Name()] = true
			}
		}
		var out []string
		for _, n := range d.Nodes {
			if want[n] {
				out = append(out, n)
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("group %q: no node of cluster %q answered CLUSTER NODES: %w", g.Name, g.Deployment, errors.Join(failed...))
}
