package rehearsal

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/understudy/understudy/dsl"
	"github.com/understudy/understudy/steps/dataset"
	"github.com/understudy/understudy/steps/redis"
	"github.com/understudy/understudy/steps/rehearsal/container"
	"github.com/understudy/understudy/steps/report"
	"github.com/understudy/understudy/steps/topology"
	"github.com/understudy/understudy/steps/traffic"
)

// The phases of a Cluster layout (topology.KindCluster): every node starts
// in cluster mode (startNodes); the masters form a cluster with the 16384
// slots split evenly among them (formCluster); each master is seeded with
// the keys of its own slots and snapshotted (seedCluster), so that the
// seed covers every slot; then the replicas join and replicate their
// masters, and get their masters' ACL users (attachClusterReplicas); the
// write probe is go-redis's cluster client with its default settings,
// its keys spread over every slot (startClusterTraffic); at the end every
// shard's snapshot is checked on the node that serves its slots then, and
// every acknowledged write is read back through a new cluster client
// (checkCluster).

// clusterShard is one master's share of the slots as the rehearsal seeded
// it, and what was seeded there.
type clusterShard struct {
	// seeded is the node that was the shard's master at the seed.
	seeded string
	slots  []redis.SlotRange
	snap   *dataset.Snapshot
}

// checkClusterLayout reports a Cluster layout a rehearsal cannot build: no
// rehearsal block (it gives the version and the shape), or settings a
// cluster cannot have (a database other than 0).
func checkClusterLayout(rb *dsl.Runbook, l *topology.Layout) hcl.Diagnostics {
	if l.Kind != topology.KindCluster {
		return nil
	}
	c := l.Cluster
	bad := func(subject *hcl.Range, detail string, args ...any) hcl.Diagnostics {
		return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Cluster cannot be rehearsed", Detail: fmt.Sprintf(detail, args...), Subject: subject}}
	}
	switch {
	case !c.RehearsalDeclared:
		return bad(c.DeclRange.Ptr(), "Cluster %q has no rehearsal block: add rehearsal { version = \"7.0\" } to say which version a rehearsal runs (3 masters with 1 replica each unless masters and replicas say otherwise).", c.Name)
	case slices.ContainsFunc(rb.Rehearsal.DBs, func(db int) bool { return db != 0 }):
		return bad(rb.Rehearsal.DeclRange.Ptr(), "A Redis Cluster has only database 0: the rehearsal block's databases must be [0] or left out for cluster %q.", c.Name)
	case rb.Rehearsal.ProbeDB != nil && *rb.Rehearsal.ProbeDB != 0:
		return bad(rb.Rehearsal.DeclRange.Ptr(), "A Redis Cluster has only database 0: the write probe cannot write database %d of cluster %q.", *rb.Rehearsal.ProbeDB, c.Name)
	}
	return nil
}

// clusterMasters and clusterReplicas are the nodes a rehearsal starts as
// the masters and, by master, as their replicas.
func (r *rehearsal) clusterMasters() ([]*container.Node, map[*container.Node][]*container.Node, error) {
	c := r.layout.Cluster
	var masters []*container.Node
	replicas := map[*container.Node][]*container.Node{}
	for i := range c.Masters {
		m, err := r.dep.container(r.layout.Nodes[i].Name)
		if err != nil {
			return nil, nil, err
		}
		masters = append(masters, m)
		for _, j := range c.ReplicasOf(i) {
			n, err := r.dep.container(r.layout.Nodes[j].Name)
			if err != nil {
				return nil, nil, err
			}
			replicas[m] = append(replicas[m], n)
		}
	}
	return masters, replicas, nil
}

// formCluster joins the masters into one cluster, the slots split evenly
// among them in order (container.CreateCluster).
func (r *rehearsal) formCluster(ctx context.Context) error {
	if r.layout.Kind != topology.KindCluster {
		return nil
	}
	masters, _, err := r.clusterMasters()
	if err != nil {
		return err
	}
	t0 := time.Now()
	if err := container.CreateCluster(ctx, masters, nil); err != nil {
		return fmt.Errorf("cluster %q: %w", r.layout.Cluster.Name, err)
	}
	fmt.Fprintf(r.log, "cluster %s: %d masters share the %d slots (formed in %s)\n", r.layout.Cluster.Name, len(masters), redis.ClusterSlots, time.Since(t0).Round(time.Millisecond))
	return nil
}

// seedCluster seeds every master, in parallel, with the keys of the slots
// it serves (the same options on every master, so that each key is
// written once, on its slot's master), and snapshots each.
func (r *rehearsal) seedCluster(ctx context.Context) error {
	masters, _, err := r.clusterMasters()
	if err != nil {
		return err
	}
	r.rep.Data = &report.Data{}
	r.shards = make([]clusterShard, len(masters))
	sums := make([]dataset.SeedSummary, len(masters))
	t0 := time.Now()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for i, m := range masters {
		wg.Go(func() {
			err := r.seedShard(ctx, m.Name, &r.shards[i], &sums[i])
			if err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	var lines []string
	for i, s := range r.shards {
		r.rep.Data.SeededKeys += int64(sums[i].Total())
		lines = append(lines, fmt.Sprintf("master %s (slots %s): %s", s.seeded, slotsText(s.slots), sums[i]))
	}
	r.rep.Data.SeedSeconds = time.Since(t0).Seconds()
	r.rep.Data.Seed = strings.Join(lines, "; ")
	fmt.Fprintf(r.log, "seeded %d keys over the %d masters in %.1f s:\n  %s\n", r.rep.Data.SeededKeys, len(masters), r.rep.Data.SeedSeconds, strings.Join(lines, "\n  "))
	return nil
}

// seedShard seeds the master called name with the keys of its slots and
// snapshots them into shard.
func (r *rehearsal) seedShard(ctx context.Context, name string, shard *clusterShard, sum *dataset.SeedSummary) error {
	c, err := r.client(name)
	if err != nil {
		return err
	}
	nodes, err := redis.ReadClusterNodes(ctx, c)
	if err != nil {
		return fmt.Errorf("seed master %q: %w", name, err)
	}
	me, ok := redis.ClusterMyself(nodes)
	if !ok || len(me.Slots) == 0 {
		return fmt.Errorf("seed master %q: it serves no slot", name)
	}
	shard.seeded, shard.slots = name, me.Slots
	o := r.seedOptions()
	o.DBs = []int{0}
	o.Keep = func(key string) bool { return slotsContain(me.Slots, redis.KeySlot(key)) }
	if *sum, err = dataset.Seed(ctx, c, o); err != nil {
		return fmt.Errorf("seed master %q: %w", name, err)
	}
	if shard.snap, err = dataset.TakeSnapshot(ctx, c, seededKeys); err != nil {
		return fmt.Errorf("snapshot master %q: %w", name, err)
	}
	return nil
}

// attachClusterReplicas is the phase after the seed: the replicas join the
// cluster and replicate their masters (a full sync carries the seeded
// keys' expiry times as the master has them), then each gets its master's
// ACL users, which replication does not carry and which it needs once it
// is promoted.
func (r *rehearsal) attachClusterReplicas(ctx context.Context) error {
	if r.layout.Kind != topology.KindCluster {
		return nil
	}
	defer func() {
		// Read once the cluster is whole: checkCluster compares them.
		if ids, err := r.clusterIDs(ctx); err == nil {
			r.ids = ids
		} else {
			fmt.Fprintf(r.log, "warning: cluster node ids: %v\n", err)
		}
	}()
	if r.layout.Cluster.Replicas == 0 {
		return nil
	}
	masters, replicas, err := r.clusterMasters()
	if err != nil {
		return err
	}
	t0 := time.Now()
	if err := container.AddClusterReplicas(ctx, masters, replicas); err != nil {
		return fmt.Errorf("cluster %q: %w", r.layout.Cluster.Name, err)
	}
	for _, m := range masters {
		var names []string
		for _, n := range replicas[m] {
			names = append(names, n.Name)
		}
		fmt.Fprintf(r.log, "cluster %s: master %s has replica(s) %s\n", r.layout.Cluster.Name, m.Name, strings.Join(names, ", "))
		if err := r.shareUsers(ctx, m.Name, names); err != nil {
			return err
		}
	}
	fmt.Fprintf(r.log, "cluster %s: every replica in sync, every node agrees (%s)\n", r.layout.Cluster.Name, time.Since(t0).Round(time.Millisecond))
	return nil
}

// clusterIDs reads every node's cluster node id (CLUSTER MYID, or its
// nodes.conf when it is stopped), by name.
func (r *rehearsal) clusterIDs(ctx context.Context) (map[string]string, error) {
	ids := map[string]string{}
	for _, spec := range r.layout.Nodes {
		n, err := r.dep.container(spec.Name)
		if err != nil {
			return nil, err
		}
		if ids[spec.Name], err = n.MyID(ctx); err != nil {
			return nil, err
		}
	}
	return ids, nil
}

// startClusterTraffic starts the write probe of a Cluster layout:
// go-redis's cluster client with its default settings, seeded with every
// node's address, as the cluster's applications connect; its keys spread
// over every slot.
func (r *rehearsal) startClusterTraffic(ctx context.Context) error {
	var addrs []string
	for _, n := range r.layout.Nodes {
		c, err := r.dep.container(n.Name)
		if err != nil {
			return err
		}
		addrs = append(addrs, c.Addr())
	}
	w, err := traffic.Start(ctx, traffic.Options{
		Cluster:  &traffic.ClusterTarget{Addrs: addrs},
		Password: r.password, Prefix: TrafficPrefix, Rate: r.rate, Origin: r.origin,
	})
	if err != nil {
		return fmt.Errorf("start write probe through the cluster client: %w", err)
	}
	r.writer = w
	fmt.Fprintf(r.log, "write probe: %d writes/s through go-redis's cluster client (nodes %s; prefix %s, keys over every slot)\n", r.rate, strings.Join(addrs, ", "), TrafficPrefix)
	sleepCtx(ctx, settle)
	return nil
}

// clusterOwners reads, from the first node that answers, which node serves
// each shard's first slot now: the shard's final master, by node name.
// An owner that is none of the rehearsal's nodes is a problem.
func (r *rehearsal) clusterOwners(ctx context.Context) ([]string, error) {
	var nodes []redis.ClusterNode
	var errs []error
	for _, spec := range r.layout.Nodes {
		c, err := r.client(spec.Name)
		if err == nil {
			nodes, err = redis.ReadClusterNodes(ctx, c)
		}
		if err == nil {
			break
		}
		errs = append(errs, fmt.Errorf("node %q: %w", spec.Name, err))
	}
	if nodes == nil {
		return nil, fmt.Errorf("read CLUSTER NODES: %w", errors.Join(errs...))
	}
	owners := make([]string, len(r.shards))
	for i, s := range r.shards {
		slot := s.slots[0].From
		j := slices.IndexFunc(nodes, func(n redis.ClusterNode) bool { return n.IsMaster() && slotsContain(n.Slots, slot) })
		if j < 0 {
			return nil, fmt.Errorf("no master serves slot %d (seeded on node %s)", slot, s.seeded)
		}
		name, err := r.nodeAt(nodes[j].Addr)
		if err != nil {
			return nil, fmt.Errorf("slot %d: %w", slot, err)
		}
		owners[i] = name
	}
	return owners, nil
}

// nodeAt is the name of the rehearsal node listening on addr.
func (r *rehearsal) nodeAt(addr string) (string, error) {
	for _, spec := range r.layout.Nodes {
		if c, err := r.dep.container(spec.Name); err == nil && redis.SameAddr(c.Addr(), addr) {
			return spec.Name, nil
		}
	}
	return "", fmt.Errorf("%s is none of the rehearsal's nodes", addr)
}

// checkCluster reads every acknowledged write back through a new cluster
// client, and checks each shard's seeded keys on the master that serves
// its slots now.
func (r *rehearsal) checkCluster(ctx context.Context, fail func(string, ...any)) {
	rep := r.rep
	if r.ids != nil {
		ids, err := r.clusterIDs(ctx)
		switch {
		case err != nil:
			fail("the node ids of cluster %q: %v", r.layout.Cluster.Name, err)
		default:
			kept := true
			for _, spec := range r.layout.Nodes {
				if ids[spec.Name] != r.ids[spec.Name] {
					kept = false
					fail("node %s rejoined cluster %q under a new node id %s (it was %s): its nodes.conf was not kept", spec.Name, r.layout.Cluster.Name, ids[spec.Name], r.ids[spec.Name])
				}
			}
			if kept {
				fmt.Fprintf(r.log, "every node of cluster %s kept its node id\n", r.layout.Cluster.Name)
			}
		}
	}
	owners, ownersErr := r.clusterOwners(ctx)
	if ownersErr != nil {
		fail("the final masters of cluster %q: %v", r.layout.Cluster.Name, ownersErr)
	} else {
		r.final = strings.Join(owners, ", ")
		fmt.Fprintf(r.log, "final masters: %s\n", r.final)
	}
	if r.writer != nil {
		tr := r.writer.Stop()
		r.recordTraffic(tr, r.writer.VerifyCluster(ctx, tr), "the cluster's masters", fail)
	}
	if r.keys <= 0 || rep.Data == nil || ownersErr != nil {
		return
	}
	rep.Data.FinalMaster = r.final
	rep.Data.Method = "snapshot after seeding of each master's seeded keys (" + seededKeys.Match + ": type, value, TTL, hash field TTLs, stream metadata), its function libraries and ACL users, checked on the master serving the shard's slots at the end"
	var total dataset.Result
	total.Equal = true
	for i, s := range r.shards {
		fc, err := r.client(owners[i])
		var res dataset.Result
		if err == nil {
			res, err = dataset.CheckSnapshot(ctx, fc, s.snap, dataset.CompareOptions{})
		}
		if err != nil {
			fail("check the seeded data of slots %s on the final master %q: %v", slotsText(s.slots), owners[i], err)
			return
		}
		r.recordData(res, fmt.Sprintf("%q (slots %s)", owners[i], slotsText(s.slots)), fail)
		total.KeysB += res.KeysB
		total.Equal = total.Equal && res.Equal
		total.TTLToleranceMS = max(total.TTLToleranceMS, res.TTLToleranceMS)
	}
	rep.Data.FinalKeys, rep.Data.Equal, rep.Data.TTLToleranceMS = total.KeysB, total.Equal, total.TTLToleranceMS
}

func slotsContain(ranges []redis.SlotRange, slot int) bool {
	return slices.ContainsFunc(ranges, func(r redis.SlotRange) bool { return r.Contains(slot) })
}

func slotsText(ranges []redis.SlotRange) string {
	parts := make([]string, len(ranges))
	for i, r := range ranges {
		parts[i] = r.String()
	}
	return strings.Join(parts, ",")
}
