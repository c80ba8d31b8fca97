package redis

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// The sequences SentinelSwitchover runs, as SentinelSwitchoverResult.Method
// reports them.
const (
	// SentinelMethodPauseWrite (6.2+): CLIENT PAUSE WRITE on the old
	// master, SENTINEL FAILOVER once the replica has its offset, demote the
	// old master while still paused, CLIENT UNPAUSE.
	SentinelMethodPauseWrite = "pause-write"
	// SentinelMethodPauseAll (6.0): as pause-write, but CLIENT PAUSE holds
	// every client and cannot be lifted early: the old master is demoted
	// when its pause ends, and the min-replicas fence refuses the writes
	// that would otherwise reach it after the promotion.
	SentinelMethodPauseAll = "pause-all"
	// SentinelMethodCoordinated (Valkey 9.0+ sentinels): SENTINEL FAILOVER
	// <name> COORDINATED, where Sentinel itself sends the old master
	// MULTI / CLIENT PAUSE WRITE / FAILOVER TO <replica> / EXEC, waits for
	// the promotion and then unpauses and disconnects the old master's
	// clients.
	SentinelMethodCoordinated = "coordinated"
)

// The Method values of SentinelSwitchoverOptions.
//
// SentinelAuto runs the pause sequence on every version, Valkey 9 included:
// measured here on Valkey 9.1.2 (1 master, 2 replicas, 3 sentinels, a
// go-redis failover client at 1000 writes/s), the pause sequence stalled
// writes 323-382 ms in 6 runs with no error; SENTINEL FAILOVER ..
// COORDINATED 694-1 949 ms in 9 runs, 3 of which surfaced a READONLY error
// to the application (no acknowledged write lost either way). Coordinated
// waits for the sentinel's own INFO of the promoted replica, which cannot
// be timed from outside, and unpauses the old master only then.
const (
	SentinelAuto        = "auto"        // the pause sequence (see above)
	SentinelPause       = "pause"       // the pause sequence
	SentinelCoordinated = "coordinated" // SENTINEL FAILOVER .. COORDINATED (Valkey 9.0+ sentinels), refused when unavailable
)

// Defaults of SentinelSwitchoverOptions.
const (
	DefaultSentinelMaxPause = 2 * time.Second
	// DefaultSentinelMaxPause60 is the pause on 6.0, which cannot be
	// lifted early and pauses every client: every sentinel names the new
	// master 300–400 ms after SENTINEL FAILOVER (sent as the pause
	// begins), and the whole pause is the clients' stall.
	DefaultSentinelMaxPause60 = 700 * time.Millisecond
	DefaultSentinelWaitLimit  = 30 * time.Second
	// The chosen replica's info-refresh on the sentinel that leads the
	// failover when SENTINEL FAILOVER is sent. During a failover a sentinel
	// sends INFO to a replica at its first timer tick (every 50-100 ms)
	// after the last reply is 1000 ms old, and learns the promotion only
	// from that INFO; it sends SLAVEOF NO ONE on its third tick after the
	// command (measured 150-250 ms), and the INFO of that same tick follows
	// it. So the later the window, the shorter the stall, until the INFO
	// leaves before the promotion and the stall grows by a second. Measured
	// here (Redis 7.0.15, 4 runs each, SENTINEL FAILOVER to every sentinel
	// reporting the new master): 700-760 ms → 415-432 ms; 770-800 → 316-370;
	// 800-830 → 298-353; 830-860 → 263-334; 860-890 → 1 250-1 307 in 3 of
	// 4 runs. 770-800 keeps a tick's margin from that cliff.
	DefaultInfoRefreshMin = 770 * time.Millisecond
	DefaultInfoRefreshMax = 800 * time.Millisecond
)

// ErrSwitchoverRefused wraps every reason SentinelSwitchover gives for not
// starting: when it is returned, nothing was changed.
var ErrSwitchoverRefused = errors.New("sentinel switchover refused")

// SwitchoverNode is a data node by its address (as Sentinel and its
// replicas know it) and a client connected to it.
type SwitchoverNode struct {
	Addr   string
	Client *goredis.Client
}

// SentinelSwitchoverOptions describe one Sentinel-managed switchover.
type SentinelSwitchoverOptions struct {
	// MasterName is the name the sentinels monitor the master under.
	MasterName string
	// Sentinels are clients of the sentinels, in order of preference.
	Sentinels []*goredis.Client
	// Master is the current master.
	Master SwitchoverNode
	// Replica is the replica to promote.
	Replica SwitchoverNode
	// Others are the master's other replicas: they get replica-priority 0
	// for the failover (restored afterwards) so that Sentinel promotes
	// Replica, and must follow the new master at the end. Every replica a
	// sentinel could choose must be here.
	Others []SwitchoverNode
	// Auth is what the old master needs to replicate from the new one
	// (masteruser/masterauth); empty keeps the old master's settings.
	Auth Auth
	// Method is SentinelAuto (default), SentinelPause or
	// SentinelCoordinated.
	Method string
	// MaxPause bounds how long the old master's writes stay paused
	// (default 2 s; 700 ms on 6.0). On 6.0 the pause cannot be lifted
	// early: clients that learn the new master only from the leading
	// sentinel (which announces +switch-master last) wait all of it.
	MaxPause time.Duration
	// InfoRefreshMin and InfoRefreshMax are the window of the chosen
	// replica's info-refresh, on the leading sentinel, in which SENTINEL
	// FAILOVER is sent (defaults 770 and 800 ms, see DefaultInfoRefreshMin).
	InfoRefreshMin, InfoRefreshMax time.Duration
	// WaitLimit bounds each wait outside the pause: the sentinels seeing
	// the new priorities, the window, the other replicas following the new
	// master (default 30 s).
	WaitLimit time.Duration
	// Log, when set, receives progress lines (never a secret).
	Log func(format string, args ...any)
}

// SentinelSwitchoverResult says how a switchover ran and what it measured.
type SentinelSwitchoverResult struct {
	// Method is the sequence that ran (SentinelMethodPauseWrite, ...).
	Method string
	// Leader is the address of the sentinel SENTINEL FAILOVER was sent to.
	Leader string
	// Offset is the old master's replication offset the replica reached
	// while writes were paused (0 for coordinated).
	Offset int64
	// InfoRefresh is the chosen replica's info-refresh on the leader when
	// SENTINEL FAILOVER was sent (estimated from the last reading), and
	// InWindow whether it was in the window.
	InfoRefresh time.Duration
	InWindow    bool
	// FailoverAt is when SENTINEL FAILOVER was sent, to line the result up
	// with a traffic timeline.
	FailoverAt time.Time

	// Steer is from setting the priorities until a sentinel (every
	// sentinel, for coordinated) had read them.
	Steer time.Duration
	// WindowWait is the wait for the right moment after that (no pause
	// yet).
	WindowWait time.Duration
	// Pause is how long the old master's writes were paused (CLIENT PAUSE
	// to CLIENT UNPAUSE; on 6.0 the whole pause; 0 for coordinated, where
	// Sentinel pauses).
	Pause time.Duration
	// OffsetWait is the wait for the replica to reach the paused master's
	// offset.
	OffsetWait time.Duration
	// Promoted is from SENTINEL FAILOVER until the replica reported itself
	// master, Reported until every sentinel reported it as the master.
	Promoted, Reported time.Duration
	// ReplicasWait is from the unpause until every other replica and the
	// old master followed the new master.
	ReplicasWait time.Duration
	// Total is the whole call, checks included.
	Total time.Duration
}

// sentinelSwitch is one run of SentinelSwitchover with what it changed, so
// that it can be undone.
type sentinelSwitch struct {
	o       SentinelSwitchoverOptions
	res     SentinelSwitchoverResult
	start   time.Time
	version Version // the old master's
	leader  int     // index in o.Sentinels
	// answering are the sentinels that answered the preflight: each must
	// report the new master before the application is let go.
	answering []*goredis.Client
	others    []SwitchoverNode
	slowM     *goredis.Client // the old master's client for 6.0, with a read timeout past the pause
	priority  map[string]prio // by address: what to restore
	fence     *fence          // the min-replicas fence to restore, nil when not set
	paused    bool
	pausedAt  time.Time
	failAt    time.Time // when SENTINEL FAILOVER was sent
}

type prio struct {
	c   *goredis.Client
	old string
}

type fence struct {
	toWrite, maxLag string // old values
}

// SentinelSwitchover moves the master role of a Sentinel-managed
// deployment to o.Replica without losing an acknowledged write, and with
// the shortest write stall measured (redis-facts.md, "Sentinel failover,
// measured here"):
//
//  1. Steer Sentinel's choice: replica-priority 0 on o.Others (and a
//     non-zero priority on o.Replica); sentinels read it from INFO, every
//     10 s.
//  2. Wait for the moment: until, on a sentinel that has read the
//     priorities, o.Replica's info-refresh is in the window, so that its
//     next INFO of the replica follows the promotion at once. That
//     sentinel leads: a forced SENTINEL FAILOVER needs no election.
//  3. Fence the old master (min-replicas-to-write = its online replicas):
//     from the moment a replica leaves it, it refuses writes (NOREPLICAS)
//     instead of accepting writes that would be lost, whatever the timing.
//  4. CLIENT PAUSE WRITE on the old master (6.0: MULTI / CLIENT PAUSE /
//     INFO / EXEC), read its offset after pausing, wait until o.Replica
//     reaches it.
//  5. SENTINEL FAILOVER <name> on the leader; wait until o.Replica is
//     master and every sentinel's GET-MASTER-ADDR-BY-NAME reports it.
//  6. Demote the old master (REPLICAOF <new>) while it is still paused:
//     Sentinel cannot (its hello PUBLISH is paused) and would do it only
//     about 8 s after the pause; then CLIENT UNPAUSE: the paused writes
//     get READONLY and the application's Sentinel-aware client retries
//     them on the new master.
//  7. Restore the fence and the priorities; wait until every other
//     replica and the old master follow the new master.
//
// With Method SentinelCoordinated (every sentinel on Valkey 9.0+, a master
// with FAILOVER), SENTINEL FAILOVER <name> COORDINATED replaces 2-6: the
// sentinel that wins the election sends the old master MULTI / CLIENT
// PAUSE WRITE / FAILOVER TO <replica> TIMEOUT / EXEC, and once it sees the
// promotion, kills the old master's clients and unpauses it (Valkey's
// src/sentinel.c). Every sentinel must have read the priorities first.
//
// It refuses (ErrSwitchoverRefused, nothing changed) when the sentinels
// disagree on the master, the quorum is not reachable (CKQUORUM), a
// failover is in progress, o.Replica is not a replica of o.Master or its
// link is down, or a replica Sentinel could choose is not in o.Others.
// On a failure it undoes what it changed (pause, fence, priorities), except
// a fence it must leave because Sentinel may still promote the replica:
// the error says so.
func SentinelSwitchover(ctx context.Context, o SentinelSwitchoverOptions) (SentinelSwitchoverResult, error) {
	s := &sentinelSwitch{o: withSentinelDefaults(o), start: time.Now(), priority: map[string]prio{}}
	err := s.run(ctx)
	s.res.Total = time.Since(s.start)
	return s.res, err
}

func withSentinelDefaults(o SentinelSwitchoverOptions) SentinelSwitchoverOptions {
	if o.Method == "" {
		o.Method = SentinelAuto
	}
	if o.InfoRefreshMin <= 0 && o.InfoRefreshMax <= 0 {
		o.InfoRefreshMin, o.InfoRefreshMax = DefaultInfoRefreshMin, DefaultInfoRefreshMax
	}
	if o.WaitLimit <= 0 {
		o.WaitLimit = DefaultSentinelWaitLimit
	}
	if o.Log == nil {
		o.Log = func(string, ...any) {}
	}
	return o
}

func refused(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrSwitchoverRefused, fmt.Sprintf(format, args...))
}

func (s *sentinelSwitch) run(ctx context.Context) error {
	coordinated, err := s.preflight(ctx)
	if err != nil {
		return err
	}
	if s.o.MaxPause <= 0 {
		s.o.MaxPause = DefaultSentinelMaxPause
		if !s.version.HasFailover() {
			s.o.MaxPause = DefaultSentinelMaxPause60
		}
	}
	defer s.restorePriorities(ctx)
	if err := s.steer(ctx); err != nil {
		return err
	}
	if coordinated {
		s.res.Method = SentinelMethodCoordinated
		if err := s.waitSteeredAll(ctx); err != nil {
			return err
		}
		return s.coordinated(ctx)
	}
	s.res.Method = SentinelMethodPauseWrite
	if !s.version.HasFailover() {
		s.res.Method = SentinelMethodPauseAll
	}
	return s.pauseSequence(ctx)
}

// preflight checks everything before the first change and decides whether
// the coordinated failover runs.
func (s *sentinelSwitch) preflight(ctx context.Context) (coordinated bool, err error) {
	o := s.o
	switch {
	case o.MasterName == "":
		return false, refused("no master name")
	case len(o.Sentinels) == 0:
		return false, refused("no sentinel")
	case o.Master.Client == nil || o.Master.Addr == "":
		return false, refused("no master client or address")
	case o.Replica.Client == nil || o.Replica.Addr == "":
		return false, refused("no replica client or address")
	case SameAddr(o.Master.Addr, o.Replica.Addr):
		return false, refused("the replica %s is the master", o.Replica.Addr)
	}
	switch o.Method {
	case SentinelAuto, SentinelPause, SentinelCoordinated:
	default:
		return false, refused("unknown method %q (want %q, %q or %q)", o.Method, SentinelAuto, SentinelPause, SentinelCoordinated)
	}

	// The sentinels: every one that answers must report o.Master; the
	// first that answers checks the quorum.
	s.leader = -1
	var unreachable []string
	allValkey9 := true
	for i, c := range o.Sentinels {
		addr, err := SentinelMasterAddr(ctx, c, o.MasterName)
		if errors.Is(err, ErrUnknownMaster) {
			return false, refused("sentinel %s does not monitor %q", sentinelAddr(c), o.MasterName)
		}
		if err != nil {
			unreachable = append(unreachable, fmt.Sprintf("%s: %v", sentinelAddr(c), err))
			continue
		}
		if !SameAddr(addr, o.Master.Addr) {
			return false, refused("sentinel %s reports %s as the master of %q, not %s", sentinelAddr(c), addr, o.MasterName, o.Master.Addr)
		}
		m, err := SentinelMasterInfo(ctx, c, o.MasterName)
		if err != nil {
			return false, refused("sentinel %s: %v", sentinelAddr(c), err)
		}
		if m.FailoverInProgress() {
			return false, refused("a failover of %q is already in progress on sentinel %s (state %s)", o.MasterName, sentinelAddr(c), m.FailoverState)
		}
		if o.Method == SentinelCoordinated {
			if v, err := SentinelEngine(ctx, c); err != nil || v.Engine != EngineValkey || v.Major < 9 {
				allValkey9 = false
			}
		}
		s.answering = append(s.answering, c)
		if s.leader < 0 {
			s.leader = i
		}
	}
	if s.leader < 0 {
		return false, refused("no sentinel answered: %s", strings.Join(unreachable, "; "))
	}
	if len(unreachable) > 0 {
		o.Log("sentinels not answering (the quorum check decides): %s", strings.Join(unreachable, "; "))
	}
	leader := o.Sentinels[s.leader]
	ok, why, err := SentinelCheckQuorum(ctx, leader, o.MasterName)
	if err != nil {
		return false, refused("sentinel %s: %v", sentinelAddr(leader), err)
	}
	if !ok {
		return false, refused("quorum not reachable for %q: %s", o.MasterName, why)
	}

	// The master.
	mi, err := ReadInfo(ctx, o.Master.Client)
	if err != nil {
		return false, refused("INFO on the master %s: %v", o.Master.Addr, err)
	}
	if mi["role"] != "master" {
		return false, refused("%s is a %s, not the master", o.Master.Addr, RoleFromInfo(mi))
	}
	if st := mi["master_failover_state"]; st != "" && st != "no-failover" {
		return false, refused("a FAILOVER is in progress on the master %s (%s)", o.Master.Addr, st)
	}
	if s.version, err = VersionFromInfo(mi); err != nil {
		return false, refused("master %s: %v", o.Master.Addr, err)
	}

	// The replica, as it says and as the leader sees it.
	ri, err := ReadInfo(ctx, o.Replica.Client, "replication")
	if err != nil {
		return false, refused("INFO replication on the replica %s: %v", o.Replica.Addr, err)
	}
	follows := net.JoinHostPort(ri["master_host"], ri["master_port"])
	switch {
	case ri["role"] != "slave":
		return false, refused("%s is not a replica of the master %s: it is a %s", o.Replica.Addr, o.Master.Addr, RoleFromInfo(ri))
	case !SameAddr(follows, o.Master.Addr):
		return false, refused("%s is not a replica of the master %s: it follows %s", o.Replica.Addr, o.Master.Addr, follows)
	case ri["master_link_status"] != "up":
		return false, refused("the replica %s's link to the master is %s", o.Replica.Addr, ri["master_link_status"])
	case ri["master_sync_in_progress"] == "1":
		return false, refused("the replica %s is still syncing with the master", o.Replica.Addr)
	}
	reps, err := SentinelReplicas(ctx, leader, o.MasterName)
	if err != nil {
		return false, refused("sentinel %s: %v", sentinelAddr(leader), err)
	}
	chosen, ok := FindReplica(reps, o.Replica.Addr)
	switch {
	case !ok:
		return false, refused("sentinel %s does not know %s as a replica of %q", sentinelAddr(leader), o.Replica.Addr, o.MasterName)
	case chosen.Down():
		return false, refused("sentinel %s sees the replica %s as %s", sentinelAddr(leader), o.Replica.Addr, strings.Join(chosen.Flags, ","))
	case chosen.LinkStatus != "ok":
		return false, refused("sentinel %s sees the replica %s's link to the master as %s", sentinelAddr(leader), o.Replica.Addr, chosen.LinkStatus)
	}
	// Every replica Sentinel could choose instead must be steered away.
	for _, r := range reps {
		if SameAddr(r.Addr, o.Replica.Addr) || r.Down() || r.Priority == 0 && !s.isOther(r.Addr) {
			continue
		}
		if !s.isOther(r.Addr) {
			return false, refused("sentinel %s could promote the replica %s, which is not among the other replicas given: it cannot be steered away", sentinelAddr(leader), r.Addr)
		}
	}
	s.others = o.Others

	// The method.
	if o.Method == SentinelCoordinated {
		if !allValkey9 || len(unreachable) > 0 || !s.version.HasFailover() {
			return false, refused("SENTINEL FAILOVER COORDINATED needs every sentinel on Valkey 9.0+ and answering, and a master with FAILOVER (6.2+); the master runs %s", s.version)
		}
		return true, nil
	}
	return false, nil
}

func (s *sentinelSwitch) isOther(addr string) bool {
	for _, n := range s.o.Others {
		if SameAddr(n.Addr, addr) {
			return true
		}
	}
	return false
}
