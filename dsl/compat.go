package dsl

import (
	"errors"
	"fmt"
	"github.com/understudy/understudy/steps/redis"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// checkVersions walks the main steps with the nodes' rehearsal versions, as
// the servers would change: a replicate step between versions that cannot
// replicate is an error (the rehearsal refuses it before any node is
// written), a downgrade that cannot load the data is an error, and the step
// after which the old version can no longer take the data back is marked as
// the point of no return.
func (r *Runbook) checkVersions() hcl.Diagnostics {
	var diags hcl.Diagnostics
	ver := map[string]redis.Version{}
	for name, n := range r.Nodes {
		if n.Rehearsal != nil {
			ver[name] = n.Rehearsal.Version
		}
	}
	masterOf := map[string]string{}
	for _, s := range r.Steps {
		switch s.Kind {
		case "replicate":
			replica, master := s.NodeArg("replica"), s.NodeArg("master")
			vr, okr := ver[replica]
			vm, okm := ver[master]
			if okr && okm {
				if err := redis.CheckReplication(vm, vr); err != nil {
					diags = append(diags, &hcl.Diagnostic{
						Severity: hcl.DiagError,
						Summary:  "Versions cannot replicate",
						Detail:   fmt.Sprintf("Step %s makes node %q (%s) a replica of node %q (%s): %s.", s.Ref(), replica, vr, master, vm, err),
						Subject:  s.NameRange.Ptr(),
						Context:  s.DeclRange.Ptr(),
					})
				}
			}
			masterOf[replica] = master
		case "promote":
			delete(masterOf, s.NodeArg("node"))
		case "upgrade":
			node := s.NodeArg("node")
			to := s.Args["version"].Version
			if from, ok := ver[node]; ok {
				if err := checkUpgrade(from, to); err != nil {
					diags = append(diags, &hcl.Diagnostic{
						Severity: hcl.DiagError,
						Summary:  "Upgrade cannot keep the data",
						Detail:   fmt.Sprintf("Step %s replaces node %q (%s) with %s: %s.", s.Ref(), node, from, to, err),
						Subject:  s.Args["version"].Range.Ptr(),
					})
				} else if from.RDBVersion() < to.RDBVersion() || from.Engine != to.Engine {
					s.PointOfNoReturn = fmt.Sprintf("once %q runs %s it writes RDB version %d, which %s cannot load: going back means restoring a backup", node, to, to.RDBVersion(), from)
				}
			}
			ver[node] = to
		case "switchover":
			from, to := s.NodeArg("from"), s.NodeArg("to")
			vf, okf := ver[from]
			vt, okt := ver[to]
			delete(masterOf, to)
			if s.BoolArg("demote", true) {
				masterOf[from] = to
			}
			if !okf || !okt {
				continue
			}
			var why []string
			if err := redis.CheckReplication(vt, vf); err != nil {
				why = append(why, fmt.Sprintf("after it, %q (%s) can follow %q (%s) only by partial resync; a full resync fails: %s", from, vf, to, vt, err))
			}
			if vf.Engine == redis.EngineRedis && !vf.AtLeast(7, 0) && vt.AtLeast(7, 0) {
				why = append(why, fmt.Sprintf("after the first write on %q (%s), commands such as SET .. EX propagate as SET .. PXAT, which %q (%s) does not know: it diverges silently", to, vt, from, vf))
			}
			s.PointOfNoReturn = strings.Join(why, "; and ")
		}
	}
	return diags
}

// checkUpgrade reports why a node of version from cannot restart as to with
// its data.
func checkUpgrade(from, to redis.Version) error {
	if from.Engine == redis.EngineValkey && to.Engine == redis.EngineRedis {
		return errors.New("the RDB files Valkey writes cannot be loaded by Redis")
	}
	if from.Engine == to.Engine && from.RDBVersion() > to.RDBVersion() {
		return fmt.Errorf("%s writes RDB version %d, %s reads up to %d", from, from.RDBVersion(), to, to.RDBVersion())
	}
	if from.Engine == redis.EngineRedis && to.Engine == redis.EngineValkey && from.RDBVersion() > 11 {
		return fmt.Errorf("%s writes RDB version %d, Valkey reads up to 11", from, from.RDBVersion())
	}
	return nil
}
