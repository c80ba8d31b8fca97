package apply

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/user"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/understudy/understudy/dsl"
	"github.com/understudy/understudy/steps"
	"github.com/understudy/understudy/steps/redis"
)

// LockKey is the key that holds the apply lock in database 0 of every node
// of a runbook. Every data comparison made during an apply must leave it
// out (it also counts in INFO keyspace, on replicas even after it expired).
// In a Redis Cluster, where a key lives in one slot on one master, each
// master holds the lock under a key of its own shard instead:
// ClusterLockKey of the lowest slot it serves.
const LockKey = "understudy:lock"

// ClusterLockKeyPattern matches every ClusterLockKey: data comparisons on
// a cluster leave it out.
const ClusterLockKeyPattern = LockKey + ":{*}"

// MinLockTTL is the shortest TTL Acquire accepts.
const MinLockTTL = 10 * time.Millisecond

// ErrLockLost is wrapped by the error of a lock that was lost: see Lock.Err.
var ErrLockLost = errors.New("the apply lock was lost")

// ErrNoLock is wrapped by Unlock's error when no node holds the lock.
var ErrNoLock = errors.New("no node holds the lock")

// LockInfo says who holds a lock; it is stored as JSON under LockKey.
type LockInfo struct {
	// ID is random and names the lock: "understudy unlock RUNBOOK ID".
	ID string `json:"id"`
	// Operation is what the holder runs, e.g. "apply".
	Operation string `json:"operation"`
	// Who is user@host.
	Who string `json:"who"`
	// PID is the holder's process ID on that host.
	PID int `json:"pid"`
	// Runbook is the runbook's path as the holder gave it.
	Runbook string `json:"runbook"`
	// Version is the holder's understudy version.
	Version string `json:"version"`
	// Created is when the lock was taken, in UTC.
	Created time.Time `json:"created"`
}

// NewLockInfo describes a lock this process is about to take: a random ID
// of 16 hex digits, user@host, the process ID and the time now (UTC).
func NewLockInfo(operation, runbook, version string) LockInfo {
	b := make([]byte, 8)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return LockInfo{
		ID:        hex.EncodeToString(b),
		Operation: operation,
		Who:       whoAmI(),
		PID:       os.Getpid(),
		Runbook:   runbook,
		Version:   version,
		Created:   time.Now().UTC().Truncate(time.Second),
	}
}

// String describes the holder: "alice@ops-1 (pid 4242) running apply of
// upgrade.hcl since 2026-11-26T10:00:00Z (3m0s ago) with understudy 0.3.0".
func (i LockInfo) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s (pid %d)", i.Who, i.PID)
	if i.Operation != "" || i.Runbook != "" {
		fmt.Fprintf(&b, " running %s of %s", i.Operation, i.Runbook)
	}
	if !i.Created.IsZero() {
		fmt.Fprintf(&b, " since %s (%s ago)", i.Created.UTC().Format(time.RFC3339), time.Since(i.Created).Round(time.Second))
	}
	if i.Version != "" {
		fmt.Fprintf(&b, " with understudy %s", i.Version)
	}
	return b.String()
}

func whoAmI() string {
	name := os.Getenv("USER")
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	}
	if name == "" {
		name = "uid" + strconv.Itoa(os.Getuid())
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown-host"
	}
	return name + "@" + host
}

// Node is a node the lock covers: its name in the runbook and the
// controller's client for it (database 0).
type Node struct {
	Name   string
	Client *goredis.Client
}

func (n Node) addr() string { return n.Client.Options().Addr }

// HeldError is the refusal to take, or to remove, a lock another run holds.
type HeldError struct {
	// Node is where the lock was found.
	Node string
	// Key is the key that holds it: LockKey, or a ClusterLockKey.
	Key string
	// Info is the holder; its ID is empty when Value is not a LockInfo.
	Info LockInfo
	// Value is the key's value as read.
	Value string
	// TTL is the time the lock has left unless renewed; negative when the
	// key has no expiry.
	TTL time.Duration
	// MasterOutside is set when the lock was read from the copy of a
	// replica whose master (this address) is not a node of the runbook.
	MasterOutside string
	// Runbook is the runbook the unlock command should name; the holder's
	// when empty.
	Runbook string
}

func (e *HeldError) Error() string {
	key := e.Key
	if key == "" {
		key = LockKey
	}
	where := fmt.Sprintf("node %q", e.Node)
	if e.MasterOutside != "" {
		where += fmt.Sprintf(" (a replica's copy of the lock of its master %s, which is not a node of the runbook)", e.MasterOutside)
	}
	if e.Info.ID == "" {
		v := e.Value
		if len(v) > 120 {
			v = v[:120] + "…"
		}
		return fmt.Sprintf("%s holds key %s with a value understudy did not write (%q): find out what wrote it before deleting it by hand", where, key, v)
	}
	expires := "it has no expiry"
	if e.TTL >= 0 {
		expires = fmt.Sprintf("it expires in %s unless renewed", e.TTL.Round(time.Millisecond))
	}
	runbook := e.Runbook
	if runbook == "" {
		runbook = e.Info.Runbook
	}
	return fmt.Sprintf("%s is locked by %s (lock ID %s; %s). If that run is no longer running, break the lock with: understudy unlock %s %s",
		where, e.Info, e.Info.ID, expires, runbook, e.Info.ID)
}

func newHeldError(node, key, value string, ttl time.Duration, runbook string) *HeldError {
	e := &HeldError{Node: node, Key: key, Value: value, TTL: ttl, Runbook: runbook}
	var info LockInfo
	if json.Unmarshal([]byte(value), &info) == nil && info.ID != "" {
		e.Info = info
	}
	return e
}

// idOf is the ID of a stored lock; "" when it is not a LockInfo.
func idOf(value string) string {
	var info LockInfo
	if json.Unmarshal([]byte(value), &info) != nil {
		return ""
	}
	return info.ID
}

// luaHolds is the compare part of the scripts: whether the value v is a
// lock whose ID is id.
const luaHolds = `
local function holds(v, id)
  local ok, info = pcall(cjson.decode, v)
  return ok and type(info) == 'table' and info.id == id
end
local cur = redis.call('GET', KEYS[1])
`

// takeScript renews the lock when KEYS[1] holds ARGV[1]'s lock, sets it to
// ARGV[3] when the key is absent and ARGV[4] is "1" (both with a TTL of
// ARGV[2] ms), and otherwise changes nothing. Replies: {1} held now, {0}
// absent, {-1, value, pttl} another lock.
var takeScript = goredis.NewScript(luaHolds + `
if not cur then
  if ARGV[4] == '1' then
    redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[2])
    return {1}
  end
  return {0}
end
if holds(cur, ARGV[1]) then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return {1}
end
return {-1, cur, redis.call('PTTL', KEYS[1])}
`)

// releaseScript deletes KEYS[1] when it holds ARGV[1]'s lock. Replies: {1,
// value} deleted, {0} absent, {-1, value, pttl} another lock.
var releaseScript = goredis.NewScript(luaHolds + `
if not cur then
  return {0}
end
if holds(cur, ARGV[1]) then
  redis.call('DEL', KEYS[1])
  return {1, cur}
end
return {-1, cur, redis.call('PTTL', KEYS[1])}
`)

// casReply is a script's reply.
type casReply struct {
	code  int64 // 1 done, 0 absent, -1 another lock
	value string
	ttl   time.Duration
}

// runScript runs a lock script on key through c.
func runScript(ctx context.Context, s *goredis.Script, c *goredis.Client, key string, args ...any) (casReply, error) {
	res, err := s.Run(ctx, c, []string{key}, args...).Slice()
	if err != nil {
		return casReply{}, err
	}
	var r casReply
	if len(res) > 0 {
		r.code, _ = res[0].(int64)
	}
	if len(res) > 1 {
		r.value, _ = res[1].(string)
	}
	if len(res) > 2 {
		r.ttl = pttl(res[2])
	}
	return r, nil
}

// pttl converts a PTTL reply: negative when the key has no expiry.
func pttl(v any) time.Duration {
	ms, _ := v.(int64)
	if ms < 0 {
		return -1
	}
	return time.Duration(ms) * time.Millisecond
}

func isReadOnly(err error) bool {
	return err != nil && strings.Contains(err.Error(), "READONLY")
}

// isMoved reports a cluster's redirection: the key's slot is not (or no
// longer) served by the node.
func isMoved(err error) bool {
	_, moved := goredis.IsMovedError(err)
	_, ask := goredis.IsAskError(err)
	return moved || ask
}

// nodeState is where a node stands in replication.
type nodeState struct {
	master     bool
	masterAddr string // a replica's master, host:port
	replID     string
	runID      string
	// cluster is set on a node with cluster-enabled yes.
	cluster bool
	// key is where the node's lock lives: LockKey, or in a cluster the
	// ClusterLockKey of its shard (a replica's is its master's); "" on a
	// cluster master that serves no slot, which can hold no key.
	key string
}

func readState(ctx context.Context, n Node) (nodeState, error) {
	info, err := redis.ReadInfo(ctx, n.Client) // the default sections: server and replication
	if err != nil {
		return nodeState{}, fmt.Errorf("INFO on node %q: %w", n.Name, err)
	}
	st := nodeState{replID: info["master_replid"], runID: info["run_id"], key: LockKey}
	switch role := redis.RoleFromInfo(info); role {
	case "master":
		st.master = true
	case "replica":
		st.masterAddr = net.JoinHostPort(info["master_host"], info["master_port"])
	default:
		return nodeState{}, fmt.Errorf("node %q reports role %q", n.Name, role)
	}
	if info["cluster_enabled"] == "1" {
		st.cluster = true
		if st.key, err = clusterKeyOf(ctx, n); err != nil {
			return nodeState{}, err
		}
	}
	return st, nil
}

// peek reads a node's lock key and its TTL ("" when absent). A cluster
// replica is read in READONLY mode (else it redirects to its master), set
// back to READWRITE on the same connection.
func peek(ctx context.Context, n Node, st nodeState) (string, time.Duration, error) {
	if st.key == "" {
		return "", 0, nil
	}
	var get *goredis.StringCmd
	var ttl *goredis.DurationCmd
	_, err := n.Client.Pipelined(ctx, func(p goredis.Pipeliner) error {
		if st.cluster && !st.master {
			p.ReadOnly(ctx)
			defer p.ReadWrite(ctx)
		}
		get = p.Get(ctx, st.key)
		ttl = p.PTTL(ctx, st.key)
		return nil
	})
	if errors.Is(err, goredis.Nil) {
		return "", 0, nil
	}
	if err != nil {
		return "", 0, fmt.Errorf("read %s on node %q: %w", st.key, n.Name, err)
	}
	d := ttl.Val()
	if d < 0 {
		d = -1
	}
	return get.Val(), d, nil
}

// covered reports whether replica i carries the copy of a lock this set of
// nodes holds: it replicates from one of them (by address), or shares the
// replication ID of one of the masters (a chain of replicas, or an address
// spelled differently).
func covered(i int, nodes []Node, states []nodeState) bool {
	st := states[i]
	for j, m := range nodes {
		if j == i {
			continue
		}
		if redis.SameAddr(st.masterAddr, m.addr()) {
			return true
		}
		if states[j].master && st.replID != "" && states[j].replID == st.replID {
			return true
		}
	}
	return false
}

// sortedNodes returns the nodes by name, so that runs competing for the
// same nodes take them in the same order, and checks their clients.
func sortedNodes(nodes []Node) ([]Node, error) {
	if len(nodes) == 0 {
		return nil, errors.New("no nodes")
	}
	out := slices.Clone(nodes)
	slices.SortFunc(out, func(a, b Node) int { return strings.Compare(a.Name, b.Name) })
	for _, n := range out {
		if n.Client == nil {
			return nil, fmt.Errorf("node %q has no client", n.Name)
		}
		if db := n.Client.Options().DB; db != 0 {
			return nil, fmt.Errorf("node %q: the lock lives in database 0, the client uses database %d", n.Name, db)
		}
	}
	return out, nil
}

// Lock is an apply lock held on a runbook's nodes: a lease in the manner of
// Terraform's state locking (internal/states/statemgr/locker.go), kept on
// the nodes themselves. The key LockKey in database 0 holds a JSON LockInfo
// and expires after a TTL unless its holder renews it. Keep renews it, Err
// and Lost tell when it was lost, Release gives it up.
//
// Replication shapes the design. The nodes of a runbook replicate from each
// other and change roles during the run; a replica refuses writes
// (READONLY), and one that starts replicating replaces its dataset with its
// master's, lock key included. So:
//
//   - The lease lives on masters only. Every acquire, renewal and release
//     reads the node's role first (INFO) and writes only where it is a
//     master; a node that turns out to be a replica meanwhile (READONLY) is
//     treated as one.
//   - A replica's copy is its master's lock, not a lock of its own: it is
//     never written, and its content is not trusted. A replica does not
//     expire keys by itself (its master sends DEL): reads on it hide a key
//     whose TTL ran out by the replica's clock, but a lock released on the
//     master stays visible on a replica whose link is down, and its expiry
//     is the master's clock read by the replica's. So a replica's copy
//     decides nothing while its master is one of the runbook's nodes (whose
//     own key is the truth). A replica of a master outside the runbook
//     cannot carry this lock at all: Acquire refuses it (naming the holder
//     when its copy shows another run's lock).
//   - Every change is a Lua compare-and-set or compare-and-delete on the
//     lock's ID, so a lease is never extended or removed by a run that does
//     not hold it.
//   - Role changes carry the lease along: a promoted replica already holds
//     its master's copy and is renewed as a master from then on; a demoted
//     master receives its new master's copy.
//   - A renewal that finds the key gone on a master means the lease was lost
//     (it expired, or "understudy unlock" removed it), except on a node that
//     restarted since the last renewal (a new run_id: a restart without
//     persistence empties it), where the key is set again when nobody else
//     took it meanwhile. A master that cannot be reached for a whole TTL
//     is a loss too; a replica that cannot be reached is not.
//   - In a Redis Cluster a master accepts a key only in a slot it serves
//     (else MOVED), so each master holds the lease under the key of its
//     own shard, ClusterLockKey of the lowest slot it serves, read from
//     its CLUSTER NODES at every acquire, renewal and release. A manual
//     failover moves a shard's slots as a whole to its replica, which
//     holds the replicated key, so the promoted replica is renewed under
//     the same key and the rest above holds unchanged. A master that
//     serves no slot can hold no key and is passed over. Moving slots
//     between masters (resharding) during an apply is not supported: the
//     lease on a master whose lowest slot moved away is lost.
type Lock struct {
	info  LockInfo
	value string
	ttl   time.Duration

	renewMu sync.Mutex // one renewal or release at a time; guards nodes
	nodes   []*heldNode

	mu       sync.Mutex
	err      error
	lost     chan struct{}
	released bool
	stopKeep context.CancelFunc
	kept     chan struct{}
}

// heldNode is a node the lock covers and what the last renewal saw there.
type heldNode struct {
	Node
	master bool
	runID  string
	// key is where the lease was last written on it.
	key string
	// confirmed is when the lease on it was last renewed (read before the
	// renewal was sent), or when it was last seen as a replica.
	confirmed time.Time
}

// Acquire takes the lock on every node, all or nothing: on each node that
// is a master it sets LockKey (in a cluster, the ClusterLockKey of its
// shard) to info with the TTL, unless another lock is there. When any node holds another lock that has not expired, it gives
// back what it took and returns a *HeldError naming the holder. A replica
// is not written: its copy is its master's lock, which must be a node of
// the set (else Acquire refuses). info.ID must be set (NewLockInfo).
func Acquire(ctx context.Context, nodes []Node, info LockInfo, ttl time.Duration) (*Lock, error) {
	if info.ID == "" {
		return nil, errors.New("acquire lock: the lock info has no ID (use NewLockInfo)")
	}
	if ttl < MinLockTTL {
		return nil, fmt.Errorf("acquire lock: TTL %s is shorter than %s", ttl, MinLockTTL)
	}
	sorted, err := sortedNodes(nodes)
	if err != nil {
		return nil, fmt.Errorf("acquire lock: %w", err)
	}
	value, err := json.Marshal(info)
	if err != nil {
		return nil, fmt.Errorf("acquire lock: %w", err)
	}
	l := &Lock{info: info, value: string(value), ttl: ttl, lost: make(chan struct{})}

	states := make([]nodeState, len(sorted))
	for i, n := range sorted {
		if states[i], err = readState(ctx, n); err != nil {
			return nil, fmt.Errorf("acquire lock: %w", err)
		}
	}
	for i, n := range sorted {
		if states[i].master || covered(i, sorted, states) {
			continue
		}
		v, left, err := peek(ctx, n, states[i])
		if err != nil {
			return nil, fmt.Errorf("acquire lock: %w", err)
		}
		if v != "" && idOf(v) != info.ID {
			e := newHeldError(n.Name, states[i].key, v, left, info.Runbook)
			e.MasterOutside = states[i].masterAddr
			return nil, e
		}
		return nil, fmt.Errorf("acquire lock: node %q is a replica of %s, which is not a node of the runbook: the lock is kept on masters, so it cannot cover %q (add its master to the runbook)",
			n.Name, states[i].masterAddr, n.Name)
	}

	var taken []*heldNode
	for i, n := range sorted {
		hn := &heldNode{Node: n, master: states[i].master, runID: states[i].runID, key: states[i].key, confirmed: time.Now()}
		l.nodes = append(l.nodes, hn)
		if !hn.master || hn.key == "" {
			continue
		}
		r, err := runScript(ctx, takeScript, n.Client, hn.key, info.ID, ttl.Milliseconds(), l.value, "1")
		switch {
		case err != nil:
			err = fmt.Errorf("acquire lock on node %q: %w", n.Name, err)
		case r.code < 0:
			err = newHeldError(n.Name, hn.key, r.value, r.ttl, info.Runbook)
		}
		if err != nil {
			if rerr := l.giveBack(ctx, taken); rerr != nil {
				err = errors.Join(err, rerr)
			}
			return nil, err
		}
		taken = append(taken, hn)
	}
	return l, nil
}

// giveBack removes the lock from nodes Acquire took it on.
func (l *Lock) giveBack(ctx context.Context, taken []*heldNode) error {
	var errs []error
	for _, n := range taken {
		if _, err := runScript(ctx, releaseScript, n.Client, n.key, l.info.ID); err != nil {
			errs = append(errs, fmt.Errorf("give back the lock on node %q: %w", n.Name, err))
		}
	}
	return errors.Join(errs...)
}

// Info is the lock's holder information.
func (l *Lock) Info() LockInfo { return l.info }

// TTL is the lease's length.
func (l *Lock) TTL() time.Duration { return l.ttl }

// Err is nil while the lock is held; once it is lost, an error wrapping
// ErrLockLost that says where and why.
func (l *Lock) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// Lost is closed when the lock is lost.
func (l *Lock) Lost() <-chan struct{} { return l.lost }

func (l *Lock) lose(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err == nil {
		l.err = err
		close(l.lost)
	}
}

// Renew extends the lease on every node that is a master now (a
// compare-and-set on the lock's ID) and notes which nodes are replicas
// now. It returns an error wrapping ErrLockLost, and the lock is lost for
// good, when a master holds another lock, when the key is gone from a
// master that did not restart, or when a master could not be renewed for a
// whole TTL; other errors (a node unreachable for less) are returned and
// the lock stays held.
func (l *Lock) Renew(ctx context.Context) error {
	l.renewMu.Lock()
	defer l.renewMu.Unlock()
	if err := l.Err(); err != nil {
		return err
	}
	l.mu.Lock()
	released := l.released
	l.mu.Unlock()
	if released {
		return errors.New("renew lock: it was released")
	}
	// Concurrently, so that a node slow to answer (a dial timing out) does
	// not hold back the renewal of the others.
	results := make([]error, len(l.nodes))
	var wg sync.WaitGroup
	for i, n := range l.nodes {
		wg.Go(func() { results[i] = l.renewNode(ctx, n) })
	}
	wg.Wait()
	var errs []error
	for i, n := range l.nodes {
		err := results[i]
		if err == nil {
			continue
		}
		if !errors.Is(err, ErrLockLost) && n.master {
			if since := time.Since(n.confirmed); since >= l.ttl {
				err = fmt.Errorf("%w: node %q could not be renewed for %s, longer than the lock's TTL of %s: %w",
					ErrLockLost, n.Name, since.Round(time.Millisecond), l.ttl, err)
			}
		}
		if errors.Is(err, ErrLockLost) {
			l.lose(err)
			return err
		}
		errs = append(errs, fmt.Errorf("renew lock on node %q: %w", n.Name, err))
	}
	return errors.Join(errs...)
}

func (l *Lock) renewNode(ctx context.Context, n *heldNode) error {
	start := time.Now()
	st, err := readState(ctx, n.Node)
	if err != nil {
		return err
	}
	restarted := st.runID != n.runID
	n.runID, n.master = st.runID, st.master
	if !st.master || st.key == "" {
		// A replica, or a cluster master serving no slot: nothing to
		// renew there.
		n.confirmed = start
		return nil
	}
	create := "0"
	if restarted || st.key != n.key && n.key == "" {
		// Restarted empty; or a cluster master that served no slot and
		// now does (slots were given to it).
		create = "1"
	}
	r, err := runScript(ctx, takeScript, n.Client, st.key, l.info.ID, l.ttl.Milliseconds(), l.value, create)
	switch {
	case isReadOnly(err):
		// Demoted since INFO: its copy is now its master's.
		n.master, n.confirmed = false, start
		return nil
	case isMoved(err):
		// A cluster's slots changed since CLUSTER NODES: tried again at
		// the next renewal, lost after a whole TTL.
		return err
	case err != nil:
		return err
	case r.code == 0:
		return fmt.Errorf("%w: the lock on node %q is gone (it expired, or \"understudy unlock\" removed it)", ErrLockLost, n.Name)
	case r.code < 0:
		return fmt.Errorf("%w: %w", ErrLockLost, newHeldError(n.Name, st.key, r.value, r.ttl, l.info.Runbook))
	}
	n.key = st.key
	n.confirmed = start
	return nil
}

// Keep renews the lease every TTL/3 in a goroutine until ctx is done, the
// lock is lost (see Lost and Err) or Release is called. An apply passes a
// context that outlives its rollback (context.WithoutCancel), so that the
// lease holds while the rollback runs after Ctrl-C. Calling Keep again does
// nothing.
func (l *Lock) Keep(ctx context.Context) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.kept != nil || l.released {
		return
	}
	ctx, cancel := context.WithCancel(ctx)
	l.stopKeep, l.kept = cancel, make(chan struct{})
	go l.keep(ctx, l.kept)
}

func (l *Lock) keep(ctx context.Context, done chan<- struct{}) {
	defer close(done)
	every := l.ttl / 3
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-l.lost:
			return
		case <-t.C:
		}
		rctx, cancel := context.WithTimeout(ctx, every)
		_ = l.Renew(rctx) // a loss shows in Err and Lost; other errors are retried at the next tick
		cancel()
	}
}

// Release stops the renewals and deletes the lock from every node that is
// a master now, where it is still this lock (compare-and-delete on the ID);
// the replicas receive the deletion from their masters. A node that holds
// another lock is left alone and reported.
func (l *Lock) Release(ctx context.Context) error {
	l.mu.Lock()
	l.released = true
	stop, kept := l.stopKeep, l.kept
	l.mu.Unlock()
	if stop != nil {
		stop()
		<-kept
	}
	l.renewMu.Lock()
	defer l.renewMu.Unlock()
	var errs []error
	for _, n := range l.nodes {
		st, err := readState(ctx, n.Node)
		if err != nil {
			errs = append(errs, fmt.Errorf("release lock: %w", err))
			continue
		}
		if !st.master || st.key == "" {
			continue
		}
		r, err := runScript(ctx, releaseScript, n.Client, st.key, l.info.ID)
		switch {
		case isReadOnly(err):
		case err != nil:
			errs = append(errs, fmt.Errorf("release lock on node %q: %w", n.Name, err))
		case r.code < 0:
			errs = append(errs, fmt.Errorf("release lock: left alone, not ours: %w", newHeldError(n.Name, st.key, r.value, r.ttl, l.info.Runbook)))
		}
	}
	return errors.Join(errs...)
}

// Removed is a lock Unlock removed from one node.
type Removed struct {
	Node string
	Info LockInfo
}

// Unlock removes the lock whose ID is id from every node of the set that is
// a master and holds it (compare-and-delete), for a holder that died
// without releasing it: "understudy unlock". When a master holds another
// lock it removes nothing and returns an error wrapping a *HeldError that
// names the real holder and its ID. Replicas are not written; their copies
// follow their masters. When no master holds lock id, the error wraps
// ErrNoLock.
func Unlock(ctx context.Context, nodes []Node, id string) ([]Removed, error) {
	if id == "" {
		return nil, errors.New("unlock: no lock ID")
	}
	sorted, err := sortedNodes(nodes)
	if err != nil {
		return nil, fmt.Errorf("unlock: %w", err)
	}
	type keyed struct {
		Node
		key string
	}
	var masters []keyed
	var copies []string
	for _, n := range sorted {
		st, err := readState(ctx, n)
		if err != nil {
			return nil, fmt.Errorf("unlock: %w", err)
		}
		v, left, err := peek(ctx, n, st)
		if err != nil {
			return nil, fmt.Errorf("unlock: %w", err)
		}
		if !st.master {
			if v != "" && idOf(v) == id {
				copies = append(copies, fmt.Sprintf("%q (a replica of %s)", n.Name, st.masterAddr))
			}
			continue
		}
		if st.key == "" {
			continue // a cluster master serving no slot
		}
		masters = append(masters, keyed{n, st.key})
		if v != "" && idOf(v) != id {
			return nil, fmt.Errorf("unlock %s: refused, nothing removed: %w", id, newHeldError(n.Name, st.key, v, left, ""))
		}
	}
	var removed []Removed
	for _, n := range masters {
		r, err := runScript(ctx, releaseScript, n.Client, n.key, id)
		if err != nil {
			return removed, fmt.Errorf("unlock %s on node %q: %w", id, n.Name, err)
		}
		switch r.code {
		case 1:
			rm := Removed{Node: n.Name}
			_ = json.Unmarshal([]byte(r.value), &rm.Info)
			removed = append(removed, rm)
		case -1:
			return removed, fmt.Errorf("unlock %s: refused on node %q: %w", id, n.Name, newHeldError(n.Name, n.key, r.value, r.ttl, ""))
		}
	}
	if len(removed) == 0 {
		if len(copies) > 0 {
			return nil, fmt.Errorf("unlock %s: %w on a master; replica %s carries it from its master, which is not a node of the runbook: unlock it there",
				id, ErrNoLock, strings.Join(copies, ", "))
		}
		return nil, fmt.Errorf("unlock %s: %w (it expired, or was released)", id, ErrNoLock)
	}
	return removed, nil
}

// LockHook halts a run once its lock is lost: the next step, attempt or
// rollback does not start, since another run may now be changing the
// nodes. The rollback is halted too: without the lock, understudy must not
// touch the nodes at all.
type LockHook struct {
	steps.NilHook
	Lock *Lock
}

var _ steps.Hook = (*LockHook)(nil)

// NewLockHook returns the hook that halts the run once l is lost.
func NewLockHook(l *Lock) *LockHook { return &LockHook{Lock: l} }

// PreStep halts when the lock was lost.
func (h *LockHook) PreStep(*dsl.Step) (steps.HookAction, error) { return h.check() }

// PreAttempt halts when the lock was lost.
func (h *LockHook) PreAttempt(*dsl.Step, int) (steps.HookAction, error) { return h.check() }

// PreRollback halts when the lock was lost.
func (h *LockHook) PreRollback(*steps.StepResult) (steps.HookAction, error) { return h.check() }

func (h *LockHook) check() (steps.HookAction, error) {
	if err := h.Lock.Err(); err != nil {
		return steps.HookHalt, fmt.Errorf("%w; understudy stops here, since another run may now be changing these nodes", err)
	}
	return steps.HookContinue, nil
}
