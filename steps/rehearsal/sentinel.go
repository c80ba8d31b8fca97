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
	"github.com/understudy/understudy/steps/redis"
	"github.com/understudy/understudy/steps/rehearsal/container"
	"github.com/understudy/understudy/steps/topology"
	"github.com/understudy/understudy/steps/traffic"
)

// The phases of a Sentinel layout (topology.KindSentinel): the data nodes
// start as in any layout and the first one is seeded; then the others
// follow it (attachReplicas) and, once every replica is in sync, the
// sentinels start and the rehearsal waits until they know
// the whole deployment (startSentinels); the write probe finds the master
// through them (startSentinelTraffic); at the end the final master is the
// data node they name (sentinelFinalMaster).
//
// Every sentinel has the rehearsal's password, which is also the data
// nodes' (auth-pass): sentinels authenticate to each other with their own
// requirepass, so they share one, and the runbook's sentinel_switchover
// reaches them with it.

// Bounds of the Sentinel phases. Each wait polls its condition.
const (
	// replicaSyncTimeout bounds the wait for the replicas' first full
	// sync of the seeded master.
	replicaSyncTimeout = 2 * time.Minute
	// sentinelReadyTimeout bounds the wait until every sentinel knows the
	// master, its replicas (from the master's INFO, at once) and the other
	// sentinels (from their hello messages, every 2 s).
	sentinelReadyTimeout = time.Minute
	// sentinelAgreeTimeout bounds the wait, at the end, until every
	// sentinel names the same master: the sentinel that led a failover
	// knows the new master up to about a second before the others.
	sentinelAgreeTimeout = 10 * time.Second
	// sentinelPoll is how often those conditions are polled.
	sentinelPoll = 100 * time.Millisecond
	// sentinelQueryTimeout bounds one round of questions to one server.
	sentinelQueryTimeout = 2 * time.Second
)

// checkSentinelLayout reports a Sentinel layout a rehearsal cannot start:
// no data node, no sentinel, or a quorum the sentinels can never reach
// (CKQUORUM would never pass, no failover would ever be authorized).
func checkSentinelLayout(l *topology.Layout) hcl.Diagnostics {
	if l.Kind != topology.KindSentinel {
		return nil
	}
	bad := func(subject *hcl.Range, detail string, args ...any) hcl.Diagnostics {
		return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Sentinel deployment cannot be rehearsed", Detail: fmt.Sprintf(detail, args...), Subject: subject}}
	}
	s := l.Sentinel
	switch {
	case s == nil || len(s.Sentinels) == 0:
		return bad(nil, "The Sentinel deployment declares no sentinel: a rehearsal starts one container per sentinel.")
	case len(l.Nodes) == 0:
		return bad(nil, "Sentinel deployment %q declares no data node: a rehearsal starts the first one as the master.", s.Name)
	case s.Quorum < 1 || s.Quorum > len(s.Sentinels):
		return bad(s.Sentinels[0].DeclRange.Ptr(), "Sentinel deployment %q has quorum %d with %d sentinel(s): the quorum must be between 1 and the number of sentinels, or the sentinels can never agree that the master is down.", s.Name, s.Quorum, len(s.Sentinels))
	}
	return nil
}

// checkSentinelCredentials refuses, before anything starts, a password a
// rehearsal's sentinels could not keep in their configuration files.
func checkSentinelCredentials(l *topology.Layout, c credentials) error {
	if l.Kind != topology.KindSentinel {
		return nil
	}
	if err := container.CheckSentinelValue("the rehearsal's password ("+c.source+")", c.password); err != nil {
		return fmt.Errorf("rehearse Sentinel deployment: %w; set another one with $%s", err, PasswordEnv)
	}
	return nil
}

// sentinelAuthUser is the ACL user the sentinels authenticate to the data
// nodes as (sentinel auth-user, which 6.0.16 knows too): the runbook's,
// when the data nodes have one and a sentinel can keep the name in its
// file. Otherwise the default user, which every rehearsal node also gives
// the password (container.WithUser), and why, for the log.
func sentinelAuthUser(user string) (string, string) {
	if user == "" || user == "default" {
		return "", ""
	}
	if err := container.CheckSentinelValue(fmt.Sprintf("the ACL user %q", user), user); err != nil {
		return "", err.Error()
	}
	return user, ""
}

// master returns the data node a Sentinel rehearsal starts as the master.
func (r *rehearsal) master() string { return r.layout.Nodes[0].Name }

// attachReplicas makes every other data node a replica of the master
// (REPLICAOF, with masteruser and masterauth), without waiting:
// startSentinels waits for the sync.
func (r *rehearsal) attachReplicas(ctx context.Context) error {
	m, err := r.dep.Node(r.master())
	if err != nil {
		return err
	}
	for _, spec := range r.layout.Nodes[1:] {
		c, err := r.client(spec.Name)
		if err != nil {
			return err
		}
		if err := redis.ReplicaOf(ctx, c, spec.Name, m.Address(), m.MasterAuth()); err != nil {
			return fmt.Errorf("attach replica %q to master %q: %w", spec.Name, m.Name(), err)
		}
		fmt.Fprintf(r.log, "node %s: replica of %s\n", spec.Name, m.Name())
	}
	return nil
}

// startSentinels is the phase of a Sentinel layout after the seed: it waits
// until every replica is in sync with the master, gives the replicas the
// master's ACL users (shareUsers), starts the sentinels in parallel, and
// waits until each knows the whole deployment.
func (r *rehearsal) startSentinels(ctx context.Context) error {
	if r.layout.Kind != topology.KindSentinel {
		return nil
	}
	spec := r.layout.Sentinel
	// The replicas attach after the seed: a full sync carries the seeded
	// keys' expiry times as they are on the master, where a 6.0 master
	// would propagate each SET ... EX as a relative TTL that every replica
	// starts when it receives it, later than the master.
	if err := r.attachReplicas(ctx); err != nil {
		return err
	}
	if err := r.waitReplicasInSync(ctx, replicaSyncTimeout); err != nil {
		return err
	}
	var replicas []string
	for _, spec := range r.layout.Nodes[1:] {
		replicas = append(replicas, spec.Name)
	}
	if err := r.shareUsers(ctx, r.master(), replicas); err != nil {
		return err
	}
	m, err := r.dep.container(r.master())
	if err != nil {
		return err
	}
	user, why := sentinelAuthUser(r.dep.user)
	mon := container.SentinelMonitor{
		MasterName: spec.MasterName, MasterHost: m.Host(), MasterPort: m.Port(),
		Quorum: spec.Quorum, DownAfter: spec.DownAfter, FailoverTimeout: spec.FailoverTimeout, ParallelSyncs: spec.ParallelSyncs,
		AuthPass: r.password, AuthUser: user,
	}
	fmt.Fprintf(r.log, "starting %d sentinel(s) monitoring node %s as master %q: quorum %d, down-after %s, failover-timeout %s, parallel-syncs %s\n",
		len(spec.Sentinels), m.Name, spec.MasterName, spec.Quorum,
		orServerDefault(spec.DownAfter, spec.DownAfter.String()), orServerDefault(spec.FailoverTimeout, spec.FailoverTimeout.String()),
		orServerDefault(spec.ParallelSyncs, fmt.Sprint(spec.ParallelSyncs)))
	switch {
	case user != "":
		fmt.Fprintf(r.log, "sentinels authenticate to the data nodes as user %s\n", user)
	case why != "":
		fmt.Fprintf(r.log, "sentinels authenticate to the data nodes as the default user (same password): %s\n", why)
	}
	var (
		wg   sync.WaitGroup
		errs []error
	)
	for _, s := range spec.Sentinels {
		wg.Go(func() {
			sn, err := container.RunSentinel(ctx, s.Name, s.Version, mon,
				container.WithSession(r.session), container.WithPassword(r.password), container.WithCatalog(r.opts.Catalog))
			r.dep.mu.Lock()
			defer r.dep.mu.Unlock()
			if err != nil {
				errs = append(errs, fmt.Errorf("start sentinel %q (%s): %w", s.Name, s.Version, err))
				return
			}
			r.dep.sentinels[s.Name] = sn
			fmt.Fprintf(r.log, "sentinel %s: %s on %s\n", s.Name, sn.Image(), sn.Addr())
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	for _, s := range spec.Sentinels {
		ni, err := r.readNodeInfo(ctx, s.Name)
		if err != nil {
			return err
		}
		r.before[s.Name] = ni
	}
	t0 := time.Now()
	if err := r.waitSentinels(ctx, r.master(), sentinelReadyTimeout); err != nil {
		return err
	}
	fmt.Fprintf(r.log, "sentinels ready after %s: each names node %s as master %q, knows %d replica(s) and the %d other sentinel(s); CKQUORUM OK\n",
		time.Since(t0).Round(time.Millisecond), m.Name, spec.MasterName, len(r.layout.Nodes)-1, len(spec.Sentinels)-1)
	return nil
}

// orServerDefault is text, or "the server's default" for a zero setting,
// which the sentinels are not configured with.
func orServerDefault[T comparable](v T, text string) string {
	var zero T
	if v == zero {
		return "the server's default"
	}
	return text
}

// shareUsers gives the replicas the master's ACL users (the seeded ones
// and the runbook's): replication does not carry them, and a Sentinel
// deployment or a cluster has them on every data node, since a failover
// may promote any replica. Rules for commands a replica does not have are
// left out, and users of a 6.0 master keep every channel on a 6.2+
// replica, as the copy_users step does.
func (r *rehearsal) shareUsers(ctx context.Context, master string, replicas []string) error {
	mc, err := r.client(master)
	if err != nil {
		return err
	}
	users, err := redis.ACLUsers(ctx, mc)
	if err != nil {
		return fmt.Errorf("ACL users of master %q: %w", master, err)
	}
	if len(users) == 0 {
		return nil
	}
	names := make([]string, len(users))
	for i, u := range users {
		names[i] = u.Name
	}
	for _, name := range replicas {
		c, err := r.client(name)
		if err != nil {
			return err
		}
		n, err := r.dep.container(name)
		if err != nil {
			return err
		}
		unknown, err := redis.UnknownCommands(ctx, c, users)
		if err != nil {
			return fmt.Errorf("commands of replica %q: %w", name, err)
		}
		var dropped []string
		for _, u := range users {
			var d []string
			u.Rules, d = redis.DropCommandRules(u.Rules, unknown)
			for _, rule := range d {
				dropped = append(dropped, u.Name+" "+rule)
			}
			if n.Version().AtLeast(6, 2) && !redis.HasChannelRules(u.Rules) {
				u.Rules = append(u.Rules, "allchannels")
			}
			if err := redis.SetACLUser(ctx, c, name, u); err != nil {
				return fmt.Errorf("give replica %q the ACL users of master %q: %w", name, master, err)
			}
		}
		fmt.Fprintf(r.log, "node %s: has the ACL users of %s (%s), which replication does not carry\n", name, master, strings.Join(names, ", "))
		if len(dropped) > 0 {
			fmt.Fprintf(r.log, "node %s: left out rules for commands it does not have: %s\n", name, strings.Join(dropped, ", "))
		}
	}
	return nil
}

// waitReplicasInSync waits until every replica of a Sentinel layout is in
// sync with the master (redis.InSync: link up, same replication id, the
// master's offset reached), so that the sentinels find them attached.
func (r *rehearsal) waitReplicasInSync(ctx context.Context, timeout time.Duration) error {
	m, err := r.dep.Node(r.master())
	if err != nil {
		return err
	}
	mc, err := m.Client()
	if err != nil {
		return err
	}
	t0 := time.Now()
	for _, spec := range r.layout.Nodes[1:] {
		rc, err := r.client(spec.Name)
		if err != nil {
			return err
		}
		err = waitFor(ctx, t0.Add(timeout), func(ctx context.Context) (string, error) {
			ok, why, err := redis.InSync(ctx, rc, mc, m.Address())
			if ok || err != nil {
				return "", err
			}
			return why, nil
		})
		if err != nil {
			return fmt.Errorf("replica %q of master %q: not in sync after %s: %w", spec.Name, m.Name(), timeout, err)
		}
	}
	if len(r.layout.Nodes) > 1 {
		fmt.Fprintf(r.log, "replicas in sync with node %s after %s\n", m.Name(), time.Since(t0).Round(time.Millisecond))
	}
	return nil
}

// waitSentinels waits until every sentinel names master as the master,
// knows every other data node as its replica (link ok, not down, following
// master), knows every other sentinel by address and myid (not down), and
// passes CKQUORUM. The error names the first thing missing.
func (r *rehearsal) waitSentinels(ctx context.Context, master string, timeout time.Duration) error {
	ids, err := r.sentinelIDs(ctx)
	if err != nil {
		return err
	}
	err = waitFor(ctx, time.Now().Add(timeout), func(ctx context.Context) (string, error) {
		for _, s := range r.layout.Sentinel.Sentinels {
			if why := r.sentinelMissing(ctx, s.Name, master, ids); why != "" {
				return "sentinel " + s.Name + ": " + why, nil
			}
		}
		return "", nil
	})
	if err != nil {
		return fmt.Errorf("sentinels of master %q: not ready after %s: %w", r.layout.Sentinel.MasterName, timeout, err)
	}
	return nil
}

// sentinelIDs returns every sentinel's myid by name.
func (r *rehearsal) sentinelIDs(ctx context.Context) (map[string]string, error) {
	ids := map[string]string{}
	for _, s := range r.layout.Sentinel.Sentinels {
		sn, err := r.dep.sentinel(s.Name)
		if err != nil {
			return nil, err
		}
		if ids[s.Name], err = sn.MyID(ctx); err != nil {
			return nil, err
		}
	}
	return ids, nil
}

// sentinelMissing says what the sentinel called name does not know yet of
// the deployment with master as its master; "" when it knows everything.
// ids are the sentinels' myids by name.
func (r *rehearsal) sentinelMissing(ctx context.Context, name, master string, ids map[string]string) string {
	c, err := r.client(name)
	if err != nil {
		return err.Error()
	}
	m, err := r.dep.Node(master)
	if err != nil {
		return err.Error()
	}
	mname := r.layout.Sentinel.MasterName
	addr, err := redis.SentinelMasterAddr(ctx, c, mname)
	if err != nil {
		return err.Error()
	}
	if !redis.SameAddr(addr, m.Address()) {
		return fmt.Sprintf("names %s as master, not node %s (%s)", addr, master, m.Address())
	}
	reps, err := redis.SentinelReplicas(ctx, c, mname)
	if err != nil {
		return err.Error()
	}
	for _, spec := range r.layout.Nodes {
		if spec.Name == master {
			continue
		}
		n, err := r.dep.Node(spec.Name)
		if err != nil {
			return err.Error()
		}
		rep, ok := redis.FindReplica(reps, n.Address())
		switch {
		case !ok:
			return fmt.Sprintf("does not know replica %s (%s) yet", spec.Name, n.Address())
		case rep.Down() || rep.LinkStatus != "ok" || !redis.SameAddr(rep.MasterAddr, m.Address()):
			return fmt.Sprintf("sees replica %s with flags %s, link %q, following %s", spec.Name, strings.Join(rep.Flags, ","), rep.LinkStatus, rep.MasterAddr)
		}
	}
	peers, err := redis.SentinelPeers(ctx, c, mname)
	if err != nil {
		return err.Error()
	}
	for _, s := range r.layout.Sentinel.Sentinels {
		if s.Name == name {
			continue
		}
		sn, err := r.dep.sentinel(s.Name)
		if err != nil {
			return err.Error()
		}
		i := slices.IndexFunc(peers, func(p redis.SentinelPeer) bool { return redis.SameAddr(p.Addr, sn.Addr()) })
		switch {
		case i < 0:
			return fmt.Sprintf("does not know sentinel %s (%s) yet", s.Name, sn.Addr())
		case peers[i].RunID != ids[s.Name]:
			return fmt.Sprintf("knows sentinel %s by id %s, its myid is %s", s.Name, peers[i].RunID, ids[s.Name])
		case peers[i].Down():
			return fmt.Sprintf("sees sentinel %s with flags %s", s.Name, strings.Join(peers[i].Flags, ","))
		}
	}
	ok, why, err := redis.SentinelCheckQuorum(ctx, c, mname)
	switch {
	case err != nil:
		return err.Error()
	case !ok:
		return "CKQUORUM: " + why
	}
	return ""
}

// startSentinelTraffic starts the write probe of a Sentinel layout: go-redis's
// failover client, which asks the sentinels for the master and follows
// +switch-master, as the deployment's applications do.
func (r *rehearsal) startSentinelTraffic(ctx context.Context) error {
	spec := r.layout.Sentinel
	var addrs []string
	for _, s := range spec.Sentinels {
		sn, err := r.dep.sentinel(s.Name)
		if err != nil {
			return err
		}
		addrs = append(addrs, sn.Addr())
	}
	w, err := traffic.Start(ctx, traffic.Options{
		Sentinel: &traffic.SentinelTarget{MasterName: spec.MasterName, Addrs: addrs, Password: r.password},
		Password: r.password, DB: r.probeDB, Prefix: TrafficPrefix, Rate: r.rate, Origin: r.origin,
	})
	if err != nil {
		return fmt.Errorf("start write probe through Sentinel: %w", err)
	}
	r.writer = w
	fmt.Fprintf(r.log, "write probe: %d writes/s through Sentinel (master name %q, sentinels %s; db %d, prefix %s)\n",
		r.rate, spec.MasterName, strings.Join(addrs, ", "), r.probeDB, TrafficPrefix)
	sleepCtx(ctx, settle)
	return nil
}

// sentinelFinalMaster is the data node the sentinels name as the master at
// the end of a rehearsal. Every sentinel is asked until all name the same
// address or agree passes (right after a failover the
// others learn the new master from the leader within about a second).
// final is "" when no sentinel answered, when they still disagree, or when
// the address they name is none of the data nodes; problems say so, and
// name the sentinels that did not answer while the others agreed.
func (r *rehearsal) sentinelFinalMaster(ctx context.Context, agree time.Duration) (final string, problems []string) {
	spec := r.layout.Sentinel
	var names []string
	for _, s := range spec.Sentinels {
		names = append(names, s.Name)
	}
	a := topology.WaitSentinelsAgree(ctx, r.dep, names, spec.MasterName, agree, sentinelPoll)
	n, err := a.Master(r.dep, r.layout.NodeNames())
	if err != nil {
		return "", []string{fmt.Sprintf("the final master: %v", err)}
	}
	if len(a.Failed) > 0 {
		problems = append(problems, fmt.Sprintf("sentinel(s) did not name the final master %q (the others name node %s): %s", spec.MasterName, n.Name(), strings.Join(a.Failed, "; ")))
	}
	return n.Name(), problems
}

// waitFor polls cond every sentinelPoll until it reports nothing missing
// or deadline passes; each poll gets at most sentinelQueryTimeout. cond
// returns what is still missing ("" when nothing) or why it could not
// tell, which counts as missing: a server may drop a connection while it
// syncs. The error on timeout is the last thing missing.
func waitFor(ctx context.Context, deadline time.Time, cond func(context.Context) (string, error)) error {
	for {
		qctx, cancel := context.WithTimeout(ctx, sentinelQueryTimeout)
		missing, err := cond(qctx)
		cancel()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			missing = err.Error()
		}
		if missing == "" {
			return nil
		}
		if time.Now().After(deadline) {
			return errors.New(missing)
		}
		sleepCtx(ctx, sentinelPoll)
	}
}
