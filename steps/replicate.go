package steps

import (
	"context"
	"fmt"
	"github.com/understudy/understudy/steps/redis"

	"github.com/zclconf/go-cty/cty"
)

// runReplicate makes a node a replica of another, after checking from the
// servers' own INFO that the replica can read what the master writes.
// Nothing is written to either node when the check fails.
func runReplicate(ctx context.Context, x *Exec) (cty.Value, error) {
	replica, rc, err := x.NodeArg("replica")
	if err != nil {
		return cty.NilVal, err
	}
	master, mc, err := x.NodeArg("master")
	if err != nil {
		return cty.NilVal, err
	}
	mi, err := ReadInfo(ctx, mc, "server")
	if err != nil {
		return cty.NilVal, fmt.Errorf("INFO on master %q: %w", master, err)
	}
	ri, err := ReadInfo(ctx, rc, "server")
	if err != nil {
		return cty.NilVal, fmt.Errorf("INFO on replica %q: %w", replica, err)
	}
	mv, err := nodeVersion(mi)
	if err != nil {
		return cty.NilVal, err
	}
	rv, err := nodeVersion(ri)
	if err != nil {
		return cty.NilVal, err
	}
	if err := redis.CheckReplication(mv, rv); err != nil {
		return cty.NilVal, Permanent(errorAt(x.Step.NameRange, "Versions cannot replicate", "Refused before any write: %s.", err))
	}
	addr, err := x.Backend().Address(master)
	if err != nil {
		return cty.NilVal, err
	}
	if err := replicaOf(ctx, x, replica, addr, x.Backend().MasterAuth(master)); err != nil {
		return cty.NilVal, err
	}
	x.Log("%s (%s) now replicates from %s (%s)", replica, rv, master, mv)
	return cty.ObjectVal(map[string]cty.Value{
		"master_version":  cty.StringVal(mv.String()),
		"replica_version": cty.StringVal(rv.String()),
	}), nil
}

// replicaOf sets masteruser and masterauth (when the master has them) and
// sends REPLICAOF host port to node.
func replicaOf(ctx context.Context, x *Exec, node, masterAddr string, auth Auth) error {
	c, err := x.Client(node)
	if err != nil {
		return err
	}
	return replicaOfWith(ctx, c, node, masterAddr, auth)
}
