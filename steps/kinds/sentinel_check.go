package kinds

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/understudy/understudy/dsl"
	"github.com/understudy/understudy/steps"
	"github.com/understudy/understudy/steps/redis"
	"github.com/understudy/understudy/steps/topology"
	"github.com/zclconf/go-cty/cty"
)

// SentinelCheck waits until a Sentinel deployment is whole: every sentinel
// answers and names the same master, which is one of the data nodes and a
// master; every sentinel has the quorum (SENTINEL CKQUORUM), knows every
// other sentinel and every other data node as a replica with its link up,
// none of them down. Run after each node a rolling upgrade restarts, it
// keeps the next restart from taking down a deployment that has not
// recovered from the last one.
type SentinelCheck struct{}

var sentinelCheckSpec = &dsl.KindSpec{
	Name: "sentinel_check",
	Doc: "Waits until a Sentinel deployment is whole: every sentinel names the same master, has the quorum and knows every other sentinel " +
		"and every replica, up, with its link to the master up.",
	DefaultTimeout: time.Minute,
	Args: []dsl.ArgSpec{
		{Name: "deployment", Type: dsl.ArgDeployment, Required: true, Doc: "The deployment: sentinel.NAME."},
	},
}

func (SentinelCheck) Spec() *dsl.KindSpec { return sentinelCheckSpec }

func (SentinelCheck) Check(*dsl.Step, *redis.Sim) hcl.Diagnostics { return nil }

func (SentinelCheck) Describe(s *dsl.Step, sim *redis.Sim) []string {
	d := s.DeploymentArg("deployment")
	if d == nil {
		return nil
	}
	return []string{
		fmt.Sprintf("asks each of %s for master %q (GET-MASTER-ADDR-BY-NAME, CKQUORUM, SENTINEL REPLICAS, SENTINEL SENTINELS) until all name the same data node, a master, and know the %d other sentinel(s) and the %d replica(s), none down, every replica's link up; reads only",
			strings.Join(d.Sentinels, ", "), d.MasterName, len(d.Sentinels)-1, len(d.DataNodes)-1),
	}
}

// sentinelCheckInterval is how often the deployment is read again.
const sentinelCheckInterval = 250 * time.Millisecond

func (SentinelCheck) Run(ctx context.Context, x *steps.Exec) (cty.Value, error) {
	d := x.Step.DeploymentArg("deployment")
	var last error
	for {
		master, err := sentinelWhole(ctx, x, d)
		if err == nil {
			x.Log("%d sentinel(s) agree: master %s, %d replica(s) up and in their view", len(d.Sentinels), master, len(d.DataNodes)-1)
			for _, n := range d.DataNodes {
				if why := cannotFollow(ctx, x, master, n); n != master && why != "" {
					x.Log("replica %s cannot sync from the master until it is upgraded (its link is not required): %s", n, why)
				}
			}
			return cty.ObjectVal(map[string]cty.Value{"master": cty.StringVal(master)}), nil
		}
		if last == nil || err.Error() != last.Error() {
			x.Log("not yet: %s", strings.ReplaceAll(err.Error(), "\n", "; "))
		}
		last = err
		t := time.NewTimer(sentinelCheckInterval)
		select {
		case <-ctx.Done():
			t.Stop()
			return cty.NilVal, steps.Permanent(fmt.Errorf("deployment %q not whole: %w", d.Name, last))
		case <-t.C:
		}
	}
}

// sentinelWhole checks the deployment once and returns its master's node
// name, or what is missing.
func sentinelWhole(ctx context.Context, x *steps.Exec, d *dsl.SentinelDeployment) (string, error) {
	master := ""
	var problems []error
	for _, s := range d.Sentinels {
		m, err := oneSentinelWhole(ctx, x, d, s)
		if err != nil {
			problems = append(problems, fmt.Errorf("sentinel %s: %w", s, err))
			continue
		}
		if master != "" && m != master {
			problems = append(problems, fmt.Errorf("sentinel %s names %s as the master, another names %s", s, m, master))
		}
		master = m
	}
	if len(problems) > 0 {
		return "", errors.Join(problems...)
	}
	c, err := x.Client(master)
	if err != nil {
		return "", err
	}
	info, err := redis.ReadInfo(ctx, c, "replication")
	if err != nil {
		return "", fmt.Errorf("INFO replication on %s: %w", master, err)
	}
	if role := redis.RoleFromInfo(info); role != "master" {
		return "", fmt.Errorf("the sentinels name %s, which is a %s", master, role)
	}
	return master, nil
}

// oneSentinelWhole checks the deployment as one sentinel sees it.
func oneSentinelWhole(ctx context.Context, x *steps.Exec, d *dsl.SentinelDeployment, name string) (string, error) {
	sn, err := x.Node(name)
	if err != nil {
		return "", err
	}
	c, err := sn.Client()
	if err != nil {
		return "", err
	}
	qctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	addr, err := redis.SentinelMasterAddr(qctx, c, d.MasterName)
	if err != nil {
		return "", err
	}
	m, ok := topology.NodeByAddress(x.Topology(), d.DataNodes, addr)
	if !ok {
		return "", fmt.Errorf("names %s as the master, none of the data nodes", addr)
	}
	if ok, why, err := redis.SentinelCheckQuorum(qctx, c, d.MasterName); err != nil {
		return "", err
	} else if !ok {
		return "", fmt.Errorf("CKQUORUM: %s", why)
	}
	mi, err := redis.SentinelMasterInfo(qctx, c, d.MasterName)
	if err != nil {
		return "", err
	}
	if mi.FailoverInProgress() {
		return "", errors.New("a failover is in progress")
	}
	peers, err := redis.SentinelPeers(qctx, c, d.MasterName)
	if err != nil {
		return "", err
	}
	up := 0
	for _, p := range peers {
		if !p.Down() {
			up++
		}
	}
	if up < len(d.Sentinels)-1 {
		return "", fmt.Errorf("knows %d other sentinel(s) up, the deployment has %d", up, len(d.Sentinels)-1)
	}
	reps, err := redis.SentinelReplicas(qctx, c, d.MasterName)
	if err != nil {
		return "", err
	}
	for _, r := range reps {
		if _, ok := topology.NodeByAddress(x.Topology(), d.DataNodes, r.Addr); !ok && !r.Down() {
			return "", fmt.Errorf("knows a replica %s that is none of the data nodes (%s): declare it, or the upgrade leaves it out", r.Addr, strings.Join(d.DataNodes, ", "))
		}
	}
	for _, n := range d.DataNodes {
		if n == m.Name() {
			continue
		}
		dn, err := x.Node(n)
		if err != nil {
			return "", err
		}
		i := slices.IndexFunc(reps, func(r redis.SentinelReplica) bool { return redis.SameAddr(r.Addr, dn.Address()) })
		switch {
		case i < 0:
			return "", fmt.Errorf("does not know %s (%s) as a replica of %s", n, dn.Address(), m.Name())
		case reps[i].Down():
			return "", fmt.Errorf("sees replica %s as %s", n, strings.Join(reps[i].Flags, ","))
		case reps[i].LinkStatus != "ok" && cannotFollow(ctx, x, m.Name(), n) == "":
			return "", fmt.Errorf("sees replica %s with its link to the master %s", n, reps[i].LinkStatus)
		case !redis.SameAddr(reps[i].MasterAddr, m.Address()):
			return "", fmt.Errorf("sees replica %s following %s, not the master %s", n, reps[i].MasterAddr, m.Address())
		}
	}
	return m.Name(), nil
}

// cannotFollow says why replica's version cannot follow master's (a
// replica on an older version than its master, in the middle of a rolling
// upgrade), "" when it can or the versions cannot be read.
func cannotFollow(ctx context.Context, x *steps.Exec, master, replica string) string {
	mc, err := x.Client(master)
	if err != nil {
		return ""
	}
	rc, err := x.Client(replica)
	if err != nil {
		return ""
	}
	mv, err := redis.ServerVersion(ctx, mc)
	if err != nil {
		return ""
	}
	rv, err := redis.ServerVersion(ctx, rc)
	if err != nil {
		return ""
	}
	if err := redis.CheckReplication(mv, rv); err != nil {
		return err.Error()
	}
	return ""
}
