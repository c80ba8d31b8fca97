package kinds

import (
	"context"
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/understudy/understudy/dsl"
	"github.com/understudy/understudy/steps"
	"github.com/understudy/understudy/steps/redis"
	"github.com/zclconf/go-cty/cty"
)

// Replicate makes a node a replica of another, after checking from the
// servers' own INFO that the replica can read what the master writes.
type Replicate struct{}

var replicateSpec = &dsl.KindSpec{
	Name: "replicate",
	Doc:  "Makes a node a replica of another (REPLICAOF host port), after checking the versions can replicate.",
	Args: []dsl.ArgSpec{
		{Name: "replica", Type: dsl.ArgNode, Required: true, Doc: "The node that becomes a replica."},
		{Name: "master", Type: dsl.ArgNode, Required: true, Doc: "The node it follows."},
	},
}

func (Replicate) Spec() *dsl.KindSpec { return replicateSpec }

// Check refuses versions that cannot replicate (the rehearsal refuses them
// before any node is written) and records the replication.
func (Replicate) Check(s *dsl.Step, sim *redis.Sim) hcl.Diagnostics {
	diags := dsl.CheckTwoNodes(s, "replica", "master")
	replica, master := s.NodeArg("replica"), s.NodeArg("master")
	vr, okr := sim.Version(replica)
	vm, okm := sim.Version(master)
	if okr && okm {
		if err := redis.CheckReplication(vm, vr); err != nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Versions cannot replicate",
				Detail:   fmt.Sprintf("Step %s makes node %q (%s) a replica of node %q (%s): %s.", s.Ref(), replica, vr, master, vm, strings.TrimSuffix(err.Error(), ".")),
				Subject:  s.NameRange.Ptr(),
				Context:  s.DeclRange.Ptr(),
			})
		} else if w := redis.ReplicationWarning(vm, vr); w != "" {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagWarning,
				Summary:  "Replication across engines",
				Detail:   fmt.Sprintf("Step %s makes node %q (%s) a replica of node %q (%s): %s", s.Ref(), replica, vr, master, vm, w),
				Subject:  s.NameRange.Ptr(),
			})
		}
	}
	sim.Follow(replica, master)
	return diags
}

func (Replicate) Describe(s *dsl.Step, sim *redis.Sim) []string {
	return []string{
		fmt.Sprintf("checks that %s can replicate from %s (RDB versions), refusing before any write", nodeText(s, "replica", sim), nodeText(s, "master", sim)),
		fmt.Sprintf("CONFIG SET masteruser/masterauth (sensitive) and REPLICAOF %s to %s", strings.Replace(addrText(s, "master"), ":", " ", 1), nodeText(s, "replica", sim)),
	}
}

func (Replicate) Run(ctx context.Context, x *steps.Exec) (cty.Value, error) {
	replica, rc, err := x.NodeArg("replica")
	if err != nil {
		return cty.NilVal, err
	}
	master, mc, err := x.NodeArg("master")
	if err != nil {
		return cty.NilVal, err
	}
	mv, err := serverVersion(ctx, mc, master.Name())
	if err != nil {
		return cty.NilVal, err
	}
	rv, err := serverVersion(ctx, rc, replica.Name())
	if err != nil {
		return cty.NilVal, err
	}
	if err := redis.CheckReplication(mv, rv); err != nil {
		return cty.NilVal, steps.Permanent(steps.ErrorAt(x.Step.NameRange, "Versions cannot replicate", "Refused before any write: %s", err))
	}
	if err := redis.ReplicaOf(ctx, rc, replica.Name(), master.Address(), master.MasterAuth()); err != nil {
		return cty.NilVal, err
	}
	x.Log("%s (%s) now replicates from %s (%s)", replica.Name(), rv, master.Name(), mv)
	return replicateOutput(mv, rv), nil
}

func replicateOutput(master, replica redis.Version) cty.Value {
	return cty.ObjectVal(map[string]cty.Value{
		"master_version":  cty.StringVal(master.String()),
		"replica_version": cty.StringVal(replica.String()),
	})
}

// Resume: done when the replica already replicates from the master (its
// link up, or a sync under way); else run again: REPLICAOF the same master
// is what the step does, and the versions are checked again.
func (Replicate) Resume(ctx context.Context, x *steps.Exec) (steps.ResumeDecision, cty.Value, error) {
	replica, rc, err := x.NodeArg("replica")
	if err != nil {
		return steps.ResumeRefuse, cty.NilVal, err
	}
	master, mc, err := x.NodeArg("master")
	if err != nil {
		return steps.ResumeRefuse, cty.NilVal, err
	}
	info, err := redis.ReadInfo(ctx, rc)
	if err != nil {
		return steps.ResumeRefuse, cty.NilVal, fmt.Errorf("INFO on %q: %w", replica.Name(), err)
	}
	if info["role"] != "slave" || !redis.SameAddr(masterAddr(info), master.Address()) ||
		(info["master_link_status"] != "up" && info["master_sync_in_progress"] != "1") {
		return steps.ResumeRun, cty.NilVal, nil
	}
	rv, err := redis.VersionFromInfo(info)
	if err != nil {
		return steps.ResumeRefuse, cty.NilVal, fmt.Errorf("node %q: %w", replica.Name(), err)
	}
	mv, err := serverVersion(ctx, mc, master.Name())
	if err != nil {
		return steps.ResumeRefuse, cty.NilVal, err
	}
	x.Log("%s already replicates from %s (link %s)", replica.Name(), master.Name(), info["master_link_status"])
	return steps.ResumeDone, replicateOutput(mv, rv), nil
}
