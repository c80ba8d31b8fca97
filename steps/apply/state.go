package apply

import (
	"context"
	"fmt"
	"maps"

	"github.com/understudy/understudy/steps/redis"
	"github.com/understudy/understudy/steps/topology"
)

// NodeState is what a plan binds a node to: who it is (run id: a restart
// changes it), what it runs, and its place in replication.
type NodeState struct {
	Name    string `json:"name"`
	Address string `json:"address"`
	Version string `json:"version"`
	Role    string `json:"role"`
	// Master is a replica's master, host:port.
	Master string `json:"master,omitempty"`
	RunID  string `json:"run_id"`
	// ReplID is the replication id: a replica that resynced from another
	// master, or a promoted one, has another.
	ReplID string `json:"replication_id"`
	Keys   int64  `json:"keys"`
}

// ReadNodes reads the live state of the named nodes, in order. It sends
// only INFO, and fails naming the node that cannot be read: unreachable, a
// wrong password or user, a server that is not Redis or Valkey.
func ReadNodes(ctx context.Context, t topology.Topology, names []string) ([]NodeState, error) {
	out := make([]NodeState, 0, len(names))
	for _, name := range names {
		n, c, err := topology.NodeClient(t, name)
		if err != nil {
			return nil, err
		}
		info, err := redis.ReadInfo(ctx, c, "server")
		if err == nil && info["redis_mode"] != "sentinel" {
			// A sentinel has neither replication nor keyspace.
			var more map[string]string
			if more, err = redis.ReadInfo(ctx, c, "replication", "keyspace"); err == nil {
				maps.Copy(info, more)
			}
		}
		if err != nil {
			return nil, fmt.Errorf("node %q at %s: %w", name, n.Address(), err)
		}
		v, err := redis.VersionFromInfo(info)
		if err != nil {
			return nil, fmt.Errorf("node %q at %s: %w", name, n.Address(), err)
		}
		s := NodeState{Name: name, Address: n.Address(), Version: v.String(), Role: redis.RoleFromInfo(info), RunID: info["run_id"], ReplID: info["master_replid"], Keys: keys(info)}
		if s.Role == "replica" {
			s.Master = redis.MasterAddr(info)
		}
		out = append(out, s)
	}
	return out, nil
}

// Changes lists how the nodes now differ from the planned ones, one
// sentence per change; none means the plan still holds. Key counts and
// offsets move with the application's traffic and are not compared.
func Changes(planned, now []NodeState) []string {
	var out []string
	byName := map[string]NodeState{}
	for _, n := range now {
		byName[n.Name] = n
	}
	for _, p := range planned {
		n, ok := byName[p.Name]
		if !ok {
			out = append(out, fmt.Sprintf("node %q is no longer in the runbook", p.Name))
			continue
		}
		delete(byName, p.Name)
		if p.Address != n.Address {
			out = append(out, fmt.Sprintf("node %q: address %s, planned against %s", p.Name, n.Address, p.Address))
		}
		if p.RunID != n.RunID {
			out = append(out, fmt.Sprintf("node %q: run id %s, planned %s: the server restarted or was replaced since the plan", p.Name, short(n.RunID), short(p.RunID)))
		}
		if p.Version != n.Version {
			out = append(out, fmt.Sprintf("node %q: runs %s, planned against %s", p.Name, n.Version, p.Version))
		}
		if p.Role != n.Role || p.Master != n.Master {
			out = append(out, fmt.Sprintf("node %q: is %s, planned as %s", p.Name, roleText(n), roleText(p)))
		}
		if p.ReplID != n.ReplID && p.RunID == n.RunID {
			out = append(out, fmt.Sprintf("node %q: replication id %s, planned %s: it was promoted or resynced since the plan", p.Name, short(n.ReplID), short(p.ReplID)))
		}
	}
	for _, n := range now {
		if _, ok := byName[n.Name]; ok {
			out = append(out, fmt.Sprintf("node %q was not in the plan", n.Name))
		}
	}
	return out
}

func keys(info map[string]string) int64 {
	var n int64
	for _, ks := range redis.Databases(info) {
		n += ks.Keys
	}
	return n
}

func roleText(n NodeState) string {
	if n.Role == "replica" {
		return "a replica of " + n.Master
	}
	return "a " + n.Role
}

func short(id string) string { return id[:min(len(id), 12)] }
