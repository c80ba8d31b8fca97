package redis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// The methods of ClusterFailover (ClusterFailoverOptions.Method).
const (
	// ClusterFailoverDefault sends CLUSTER FAILOVER to the replica: Redis
	// pauses the master's clients (writes from 6.2, every client on 6.0),
	// waits until the replica has the master's offset, and the replica
	// wins an election among the masters. Lossless; the stall measured
	// here is 10-50 ms (the vote waits for a delayed TCP ACK on the
	// cluster bus). Redis gives up after 5 s.
	ClusterFailoverDefault = "default"
	// ClusterFailoverForce sends CLUSTER FAILOVER FORCE: the replica does
	// not wait for its master's offset (the master may be unreachable) but
	// still needs the masters' votes. LOSSY: the writes the old master
	// acknowledges until it learns of the new configuration are lost
	// (19-21 at 1500 writes/s measured here). For a master that is down.
	ClusterFailoverForce = "force"
	// ClusterFailoverTakeover is the paused takeover (6.2+): CLIENT PAUSE
	// <MaxPause> WRITE on the master, wait until the replica's offset
	// equals the master's read after the pause, CLUSTER FAILOVER TAKEOVER
	// on the replica (a new epoch without the masters' votes), wait until
	// the old master reports itself a replica, CLIENT UNPAUSE. Lossless
	// and the shortest stall (5-8 ms measured here). Refused on a master
	// older than 6.2: 6.0 has neither CLIENT PAUSE WRITE nor CLIENT
	// UNPAUSE, and its pause holds every client, the controller's ROLE
	// included, so the old master's demotion could not be seen before the
	// pause ends; the default method is lossless there.
	ClusterFailoverTakeover = "takeover"
)

// Defaults of ClusterFailoverOptions.
const (
	DefaultClusterMaxPause        = 3 * time.Second
	DefaultClusterFailoverTimeout = 10 * time.Second
)

// ErrClusterFailoverRefused wraps every reason ClusterFailover gives for not
// starting: when it is returned, nothing was changed.
var ErrClusterFailoverRefused = errors.New("cluster failover refused")

// ClusterFailoverOptions describe the manual failover of one shard.
type ClusterFailoverOptions struct {
	// Replica is the replica to promote: CLUSTER FAILOVER is sent to it.
	Replica SwitchoverNode
	// Master is the replica's master. Required for the default and
	// takeover methods (it is checked, paused, watched); for force it may
	// have a nil Client (a master that is down): when it answers, its
	// demotion is waited for.
	Master SwitchoverNode
	// Method is ClusterFailoverDefault (when empty), ClusterFailoverForce
	// or ClusterFailoverTakeover.
	Method string
	// MaxPause is the takeover's CLIENT PAUSE, the longest the master's
	// writes are held if everything else fails (default 3 s). The wait for
	// the offset may use half of it; the role swap must happen before it
	// runs out.
	MaxPause time.Duration
	// Timeout bounds the wait for the roles to swap after the default and
	// force methods (default 10 s; Redis gives a manual failover 5 s).
	Timeout time.Duration
	// Log, when set, receives progress lines (never a secret).
	Log func(format string, args ...any)
}

// ClusterFailoverResult says how a failover ran and what it measured.
type ClusterFailoverResult struct {
	// Method is the method that ran.
	Method string
	// ReplicaID and MasterID are the node IDs of the promoted replica and
	// the old master.
	ReplicaID, MasterID string
	// Offset is the paused master's offset the replica reached (takeover).
	Offset int64
	// FailoverAt is when CLUSTER FAILOVER was sent, to line the result up
	// with a traffic timeline.
	FailoverAt time.Time
	// Pause is how long the master's writes were paused, CLIENT PAUSE to
	// CLIENT UNPAUSE (takeover; Redis's own pause in the default method
	// is not seen from outside).
	Pause time.Duration
	// OffsetWait is the wait for the replica to reach the paused master's
	// offset (takeover).
	OffsetWait time.Duration
	// RoleSwap is from CLUSTER FAILOVER until the replica reported itself
	// master and the old master (when it answers) a replica of it.
	RoleSwap time.Duration
	// Total is the whole call, checks included.
	Total time.Duration
}

// clusterFailover is one run of ClusterFailover.
type clusterFailover struct {
	o        ClusterFailoverOptions
	res      ClusterFailoverResult
	paused   bool
	pausedAt time.Time
}

// ClusterFailover moves the master role of one shard of a Redis Cluster to
// o.Replica with a manual failover sent to that replica (see the methods
// ClusterFailoverDefault, ClusterFailoverForce, ClusterFailoverTakeover),
// and returns once the roles have swapped: CLUSTER FAILOVER's OK only
// means the replica accepted to try.
//
// It refuses (ErrClusterFailoverRefused, nothing changed) a node that is a
// master, as Redis does ("ERR You should send CLUSTER FAILOVER to a
// replica"), a master that is not the replica's, a failed master for the
// methods that need it (Redis: "use CLUSTER FAILOVER FORCE"), for default
// and takeover a replica whose link is down, still syncing or on another
// replication ID, and for takeover a master older than 6.2. Every pause it
// set is lifted on every path.
func ClusterFailover(ctx context.Context, o ClusterFailoverOptions) (ClusterFailoverResult, error) {
	start := time.Now()
	f := &clusterFailover{o: withClusterFailoverDefaults(o)}
	f.res.Method = f.o.Method
	err := f.run(ctx)
	f.res.Total = time.Since(start)
	return f.res, err
}

func withClusterFailoverDefaults(o ClusterFailoverOptions) ClusterFailoverOptions {
	if o.Method == "" {
		o.Method = ClusterFailoverDefault
	}
	if o.MaxPause <= 0 {
		o.MaxPause = DefaultClusterMaxPause
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultClusterFailoverTimeout
	}
	if o.Log == nil {
		o.Log = func(string, ...any) {}
	}
	return o
}

func refuseFailover(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrClusterFailoverRefused, fmt.Sprintf(format, args...))
}

func (f *clusterFailover) run(ctx context.Context) error {
	if err := f.preflight(ctx); err != nil {
		return err
	}
	o := f.o
	switch o.Method {
	case ClusterFailoverTakeover:
		return f.takeover(ctx)
	case ClusterFailoverForce:
		if err := f.send(ctx, "FORCE"); err != nil {
			return err
		}
		return f.waitSwapped(ctx, time.Now().Add(o.Timeout), o.Master.Client != nil)
	default:
		if err := f.send(ctx); err != nil {
			return err
		}
		if err := f.waitSwapped(ctx, time.Now().Add(o.Timeout), true); err != nil {
			return fmt.Errorf("%w (Redis gives up a manual failover after 5 s: the replica logs \"Manual failover timed out\")", err)
		}
		return nil
	}
}

// preflight checks everything before the first change.
func (f *clusterFailover) preflight(ctx context.Context) error {
	o := f.o
	switch o.Method {
	case ClusterFailoverDefault, ClusterFailoverForce, ClusterFailoverTakeover:
	default:
		return refuseFailover("unknown method %q (want %q, %q or %q)", o.Method, ClusterFailoverDefault, ClusterFailoverForce, ClusterFailoverTakeover)
	}
	if o.Replica.Client == nil {
		return refuseFailover("no client for the replica")
	}
	view, err := ReadClusterNodes(ctx, o.Replica.Client)
	if err != nil {
		return refuseFailover("replica %s: %v", o.Replica.Addr, err)
	}
	self, ok := ClusterMyself(view)
	switch {
	case !ok:
		return refuseFailover("%s's CLUSTER NODES has no myself line", o.Replica.Addr)
	case self.IsMaster():
		return refuseFailover("%s is a master: CLUSTER FAILOVER must be sent to a replica (Redis answers \"ERR You should send CLUSTER FAILOVER to a replica\")", o.Replica.Addr)
	case !self.IsReplica() || self.MasterID == "":
		return refuseFailover("%s is not a replica (flags %v)", o.Replica.Addr, self.Flags)
	}
	f.res.ReplicaID, f.res.MasterID = self.ID, self.MasterID
	master, known := ClusterNodeByID(view, self.MasterID)
	if o.Method != ClusterFailoverForce && known && (master.Failed() || master.PFail()) {
		return refuseFailover("%s sees its master %s as %v: the %s method needs a reachable master (Redis: \"Master is down or failed, please use CLUSTER FAILOVER FORCE\")", o.Replica.Addr, nodeName(view, self.MasterID), master.Flags, o.Method)
	}
	if o.Master.Client == nil {
		if o.Method != ClusterFailoverForce {
			return refuseFailover("the %s method needs a client for the master of %s", o.Method, o.Replica.Addr)
		}
		return nil
	}
	mview, err := ReadClusterNodes(ctx, o.Master.Client)
	if err != nil {
		if o.Method == ClusterFailoverForce {
			o.Log("the master %s does not answer (%v): forcing without it", o.Master.Addr, err)
			f.o.Master.Client = nil
			return nil
		}
		return refuseFailover("master %s: %v", o.Master.Addr, err)
	}
	mself, _ := ClusterMyself(mview)
	switch {
	case mself.ID != self.MasterID:
		return refuseFailover("%s is not the master of %s, which follows %s", o.Master.Addr, o.Replica.Addr, nodeName(view, self.MasterID))
	case !mself.IsMaster():
		return refuseFailover("%s is not a master (flags %v)", o.Master.Addr, mself.Flags)
	}
	if o.Method == ClusterFailoverForce {
		return nil
	}
	if o.Method == ClusterFailoverTakeover {
		// The takeover pauses the master's writes and lifts the pause.
		v, err := ServerVersion(ctx, o.Master.Client)
		if err != nil {
			return refuseFailover("master %s: %v", o.Master.Addr, err)
		}
		if !v.HasFailover() {
			return refuseFailover("the takeover needs CLIENT PAUSE WRITE and CLIENT UNPAUSE (6.2+); the master %s runs %s: use the default method, which pauses the master itself", o.Master.Addr, v)
		}
	}
	// The replica must be able to reach the master's offset: following it
	// with its link up (the default method would otherwise time out after
	// 5 s, the takeover lose writes).
	mi, err := ReadInfo(ctx, o.Master.Client, "replication")
	if err != nil {
		return refuseFailover("INFO replication on the master %s: %v", o.Master.Addr, err)
	}
	ri, err := ReadInfo(ctx, o.Replica.Client, "replication")
	if err != nil {
		return refuseFailover("INFO replication on the replica %s: %v", o.Replica.Addr, err)
	}
	switch {
	case ri["master_link_status"] != "up":
		return refuseFailover("the replica %s's link to its master is %s", o.Replica.Addr, ri["master_link_status"])
	case ri["master_sync_in_progress"] != "0":
		return refuseFailover("the replica %s is still syncing", o.Replica.Addr)
	case ri["master_replid"] != mi["master_replid"]:
		return refuseFailover("the replica %s has replication ID %s, its master %s has %s", o.Replica.Addr, ri["master_replid"], o.Master.Addr, mi["master_replid"])
	}
	return nil
}

// send sends CLUSTER FAILOVER [mode] to the replica.
func (f *clusterFailover) send(ctx context.Context, mode ...string) error {
	args := []any{"CLUSTER", "FAILOVER"}
	name := "CLUSTER FAILOVER"
	for _, m := range mode {
		args = append(args, m)
		name += " " + m
	}
	f.res.FailoverAt = time.Now()
	if err := f.o.Replica.Client.Do(ctx, args...).Err(); err != nil {
		return fmt.Errorf("%s on %s: %w", name, f.o.Replica.Addr, err)
	}
	f.o.Log("%s sent to %s", name, f.o.Replica.Addr)
	return nil
}

// takeover runs the paused takeover.
func (f *clusterFailover) takeover(ctx context.Context) error {
	o := f.o
	defer f.unpause(ctx)
	f.pausedAt = time.Now()
	// Paused from the moment the command leaves: a reply lost on the way
	// back still gets its CLIENT UNPAUSE.
	f.paused = true
	ms := strconv.FormatInt(o.MaxPause.Milliseconds(), 10)
	if err := o.Master.Client.Do(ctx, "CLIENT", "PAUSE", ms, "WRITE").Err(); err != nil {
		return fmt.Errorf("CLIENT PAUSE %s WRITE on the master %s: %w", ms, o.Master.Addr, err)
	}

	// Offsets equal: the master's offset read after the pause, reached by
	// the replica, and the master's unchanged since.
	offStart := time.Now()
	offDeadline := f.pausedAt.Add(o.MaxPause / 2)
	for {
		mi, err := ReadInfo(ctx, o.Master.Client, "replication")
		if err != nil {
			return fmt.Errorf("INFO replication on the paused master %s: %w; nothing was switched", o.Master.Addr, err)
		}
		off := Int(mi, "master_repl_offset")
		if f.res.Offset == off {
			break
		}
		f.res.Offset = off
		if _, err := WaitOffset(ctx, o.Replica.Client, off, offDeadline); err != nil {
			f.res.OffsetWait = time.Since(offStart)
			return fmt.Errorf("replica %s %w; nothing was switched", o.Replica.Addr, err)
		}
	}
	f.res.OffsetWait = time.Since(offStart)

	if err := f.send(ctx, "TAKEOVER"); err != nil {
		return fmt.Errorf("%w; nothing was switched", err)
	}
	// Keep a margin to unpause before the pause ends by itself.
	deadline := f.pausedAt.Add(o.MaxPause - min(o.MaxPause/10, 100*time.Millisecond))
	if err := f.waitSwapped(ctx, deadline, true); err != nil {
		return fmt.Errorf("%w: the pause is lifted; writes the old master accepts before it learns of the takeover are lost", err)
	}
	return nil
}

// unpause lifts the takeover's pause, if any, whatever ctx says.
func (f *clusterFailover) unpause(ctx context.Context) {
	if !f.paused {
		return
	}
	if err := f.o.Master.Client.Do(context.WithoutCancel(ctx), "CLIENT", "UNPAUSE").Err(); err != nil {
		f.o.Log("warning: CLIENT UNPAUSE on %s: %v (the pause ends by itself %s after it began)", f.o.Master.Addr, err, f.o.MaxPause)
	}
	f.res.Pause = time.Since(f.pausedAt)
	f.paused = false
}

// waitSwapped polls until the replica's ROLE is master and, when withOld,
// the old master's ROLE is slave and it follows the replica (its CLUSTER
// NODES), or deadline passes. It polls back to back at first, then every
// 500 µs. A force failover with an old master that stops answering counts
// once the replica is master.
func (f *clusterFailover) waitSwapped(ctx context.Context, deadline time.Time, withOld bool) error {
	o := f.o
	promoted, demoted := false, !withOld
	var last string
	for polls := 0; ; polls++ {
		if !promoted {
			role, err := nodeRole(ctx, o.Replica.Client)
			promoted = err == nil && role == "master"
			last = fmt.Sprintf("the replica %s's role is %s (%v)", o.Replica.Addr, role, err)
		}
		if promoted && !demoted {
			role, err := nodeRole(ctx, o.Master.Client)
			switch {
			case err != nil && o.Method == ClusterFailoverForce:
				o.Log("the old master %s stopped answering (%v): not waiting for its demotion", o.Master.Addr, err)
				demoted = true
			case err == nil && role == "slave":
				view, err := ReadClusterNodes(ctx, o.Master.Client)
				self, _ := ClusterMyself(view)
				demoted = err == nil && self.MasterID == f.res.ReplicaID
				last = fmt.Sprintf("the old master %s is a replica of %s (%v)", o.Master.Addr, nodeName(view, self.MasterID), err)
			default:
				last = fmt.Sprintf("the old master %s's role is %s (%v)", o.Master.Addr, role, err)
			}
		}
		if promoted && demoted {
			f.res.RoleSwap = time.Since(f.res.FailoverAt)
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("roles not swapped %s after CLUSTER FAILOVER: %s", time.Since(f.res.FailoverAt).Round(time.Millisecond), last)
		}
		if polls > 20 {
			if err := sleep(ctx, 500*time.Microsecond); err != nil {
				return err
			}
		}
	}
}

// nodeRole is the first element of ROLE: master, slave or sentinel.
func nodeRole(ctx context.Context, c *goredis.Client) (string, error) {
	v, err := c.Do(ctx, "ROLE").Slice()
	if err != nil {
		return "", err
	}
	if len(v) == 0 {
		return "", errors.New("empty ROLE reply")
	}
	s, _ := v[0].(string)
	return s, nil
}
