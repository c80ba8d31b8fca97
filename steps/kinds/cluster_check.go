package kinds

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/understudy/understudy/dsl"
	"github.com/understudy/understudy/steps"
	"github.com/understudy/understudy/steps/redis"
	"github.com/zclconf/go-cty/cty"
)

// ClusterCheck waits until a Redis Cluster is healthy as every one of its
// nodes sees it (redis.ClusterHealth): all answer, cluster_state ok with
// every slot ok, no node flagged fail? or fail, the same slot owners,
// epochs and roles in every view, no open slot, every replica's link up and
// near its master's offset; the cluster has no node the step does not
// name, and, when asked, every node runs the given version. Run after each
// node a rolling upgrade restarts, it keeps the next restart from taking
// down a cluster that has not recovered from the last one.
type ClusterCheck struct{ noCheck }

var clusterCheckSpec = &dsl.KindSpec{
	Name: "cluster_check",
	Doc: "Waits until a Redis Cluster is healthy as each of its nodes sees it: cluster_state ok, every slot ok, no node failing, " +
		"the same slots, epochs and roles in every view, no open slot, every replica's link up; optionally every node on one version.",
	DefaultTimeout: 2 * time.Minute,
	Args: []dsl.ArgSpec{
		{Name: "nodes", Type: dsl.ArgNodeList, Required: true, Doc: "Every node of the cluster: [node.n1, node.n2, ...]."},
		{Name: "version", Type: dsl.ArgVersion, Doc: `The version every node must run, engine and major.minor: "7.2", "valkey:8.1".`},
	},
}

func (ClusterCheck) Spec() *dsl.KindSpec { return clusterCheckSpec }

func (ClusterCheck) Describe(s *dsl.Step, _ *redis.Sim) []string {
	var refs []string
	for _, n := range s.NodeListArg("nodes") {
		refs = append(refs, "node."+n)
	}
	line := fmt.Sprintf("asks each of %s for CLUSTER INFO, CLUSTER NODES and INFO replication every %s until: cluster_state ok, all %d slots ok, no node flagged fail? or fail, "+
		"every node sees the same slot owners, epochs and roles, no slot migrating or importing, every replica's link up and near its master's offset, the cluster has no other node",
		strings.Join(refs, ", "), clusterCheckInterval, redis.ClusterSlots)
	if a, ok := s.Args["version"]; ok {
		line += fmt.Sprintf(", every node on %s", a.Version.Series())
	}
	return []string{line + "; reads only"}
}

// clusterCheckInterval is how often the cluster is read again.
const clusterCheckInterval = 250 * time.Millisecond

func (ClusterCheck) Run(ctx context.Context, x *steps.Exec) (cty.Value, error) {
	names := x.Step.NodeListArg("nodes")
	clients := make([]*goredis.Client, len(names))
	for i, n := range names {
		c, err := x.Client(n)
		if err != nil {
			return cty.NilVal, err
		}
		clients[i] = c
	}
	var last []string
	for {
		problems, masters, replicas := clusterProblems(ctx, x, names, clients)
		if len(problems) == 0 {
			x.Log("the cluster is healthy: %d master(s), %d replica(s)", masters, replicas)
			return cty.ObjectVal(map[string]cty.Value{
				"masters":  cty.NumberIntVal(int64(masters)),
				"replicas": cty.NumberIntVal(int64(replicas)),
			}), nil
		}
		if !slices.Equal(problems, last) {
			x.Log("not yet: %s", strings.Join(problems, "; "))
		}
		last = problems
		t := time.NewTimer(clusterCheckInterval)
		select {
		case <-ctx.Done():
			t.Stop()
			return cty.NilVal, steps.Permanent(fmt.Errorf("cluster of %s not healthy: %s", strings.Join(names, ", "), strings.Join(last, "; ")))
		case <-t.C:
		}
	}
}

// clusterProblems reads the cluster once: what is wrong (nil when
// nothing) and, from each node's own line, how many are masters and
// replicas.
func clusterProblems(ctx context.Context, x *steps.Exec, names []string, clients []*goredis.Client) (problems []string, masters, replicas int) {
	for _, p := range redis.ClusterHealth(ctx, clients...) {
		problems = append(problems, p.String())
	}
	want, checkVersion := x.Step.Args["version"]
	for i, c := range clients {
		view, err := redis.ReadClusterNodes(ctx, c)
		if err != nil {
			continue // ClusterHealth named it
		}
		if self, ok := redis.ClusterMyself(view); ok && self.IsMaster() {
			masters++
		} else if ok && self.IsReplica() {
			replicas++
		}
		if i == 0 && len(view) > len(names) {
			problems = append(problems, fmt.Sprintf("%s knows %d nodes, the step names %d: name every node of the cluster", names[i], len(view), len(names)))
		}
		if checkVersion {
			v, err := serverVersion(ctx, c, names[i])
			switch {
			case err != nil:
				problems = append(problems, err.Error())
			case v.Engine != want.Version.Engine || v.Series().Compare(want.Version.Series()) != 0:
				problems = append(problems, fmt.Sprintf("node %q runs %s, want %s", names[i], v, want.Version.Series()))
			}
		}
	}
	return problems, masters, replicas
}
