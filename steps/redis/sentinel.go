package redis

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// What understudy knows about Redis Sentinel: each function takes a
// go-redis client connected to one sentinel (a plain *goredis.Client, so
// that credentials and TLS are the caller's) and asks it one SENTINEL
// subcommand. The replies are read as RESP2 arrays or RESP3 maps alike.

// ErrUnknownMaster is returned when a sentinel does not monitor a master of
// that name.
var ErrUnknownMaster = errors.New("the sentinel does not monitor a master of that name")

// SentinelMaster is a master as one sentinel holds it (SENTINEL MASTER).
type SentinelMaster struct {
	Name  string
	Addr  string   // host:port the sentinel monitors
	Flags []string // "master", "s_down", "o_down", "failover_in_progress", ...
	// Quorum is the number of sentinels that must agree the master is down.
	Quorum int
	// DownAfter is down-after-milliseconds.
	DownAfter time.Duration
	// FailoverTimeout is failover-timeout.
	FailoverTimeout time.Duration
	// ParallelSyncs is how many replicas are re-pointed at a time.
	ParallelSyncs int
	// NumOtherSentinels is how many other sentinels this one knows.
	NumOtherSentinels int
	// NumReplicas is how many replicas this sentinel knows.
	NumReplicas int
	// FailoverState is the state of a failover in progress ("" when none).
	FailoverState string
	// ConfigEpoch is the configuration epoch of the master's current address.
	ConfigEpoch int64
}

// FailoverInProgress reports whether the sentinel runs a failover of the
// master now.
func (m SentinelMaster) FailoverInProgress() bool {
	return hasFlag(m.Flags, "failover_in_progress")
}

// SentinelReplica is one replica as one sentinel sees it (SENTINEL
// REPLICAS): what the sentinel read from the replica's INFO, and when.
type SentinelReplica struct {
	Addr  string   // host:port
	RunID string   // the replica's run_id
	Flags []string // "slave", "s_down", "disconnected", "promoted", ...
	// LinkStatus is the replica's link to its master: "ok" or "err".
	LinkStatus string
	// MasterAddr is the master the replica says it follows.
	MasterAddr string
	// Offset is the replica's slave_repl_offset at the sentinel's last INFO.
	Offset int64
	// InfoRefresh is how long ago the sentinel received the replica's INFO.
	// A sentinel sends INFO to a replica every 10 s, every 1 s while a
	// failover of its master is in progress, and learns a promotion only
	// from the next INFO.
	InfoRefresh time.Duration
	// Priority is the replica's replica-priority (0: never promoted).
	Priority int
}

// Down reports whether the sentinel considers the replica unusable: down,
// or its link from the sentinel broken.
func (r SentinelReplica) Down() bool {
	return hasFlag(r.Flags, "s_down") || hasFlag(r.Flags, "o_down") || hasFlag(r.Flags, "disconnected")
}

// SentinelPeer is another sentinel as one sentinel knows it (SENTINEL
// SENTINELS).
type SentinelPeer struct {
	Addr  string // host:port
	RunID string
	Flags []string
	// LastHello is how long ago the peer's last hello message arrived.
	LastHello time.Duration
}

// Down reports whether the sentinel considers the peer down or unreachable.
func (p SentinelPeer) Down() bool {
	return hasFlag(p.Flags, "s_down") || hasFlag(p.Flags, "o_down") || hasFlag(p.Flags, "disconnected")
}

// SentinelMasterAddr asks a sentinel for the address of the master it
// knows by name (SENTINEL GET-MASTER-ADDR-BY-NAME). During a failover the
// sentinel leading it answers with the promoted replica as soon as it has
// seen it promoted; the others when the leader's new configuration reaches
// them.
func SentinelMasterAddr(ctx context.Context, c *goredis.Client, name string) (string, error) {
	cmd := goredis.NewStringSliceCmd(ctx, "sentinel", "get-master-addr-by-name", name)
	_ = c.Process(ctx, cmd)
	addr, err := cmd.Result()
	switch {
	case errors.Is(err, goredis.Nil):
		return "", fmt.Errorf("SENTINEL GET-MASTER-ADDR-BY-NAME %s: %w", name, ErrUnknownMaster)
	case err != nil:
		return "", fmt.Errorf("SENTINEL GET-MASTER-ADDR-BY-NAME %s: %w", name, err)
	case len(addr) != 2:
		return "", fmt.Errorf("SENTINEL GET-MASTER-ADDR-BY-NAME %s: unexpected reply %q", name, addr)
	}
	return net.JoinHostPort(addr[0], addr[1]), nil
}

// SentinelMasterInfo reads the master as the sentinel holds it,
// configuration included (SENTINEL MASTER).
func SentinelMasterInfo(ctx context.Context, c *goredis.Client, name string) (SentinelMaster, error) {
	cmd := goredis.NewMapStringStringCmd(ctx, "sentinel", "master", name)
	_ = c.Process(ctx, cmd)
	f, err := cmd.Result()
	if err != nil {
		return SentinelMaster{}, sentinelErr("SENTINEL MASTER", name, err)
	}
	return SentinelMaster{
		Name:              f["name"],
		Addr:              net.JoinHostPort(f["ip"], f["port"]),
		Flags:             splitFlags(f["flags"]),
		Quorum:            atoi(f["quorum"]),
		DownAfter:         millis(f["down-after-milliseconds"]),
		FailoverTimeout:   millis(f["failover-timeout"]),
		ParallelSyncs:     atoi(f["parallel-syncs"]),
		NumOtherSentinels: atoi(f["num-other-sentinels"]),
		NumReplicas:       atoi(f["num-slaves"]),
		FailoverState:     f["failover-state"],
		ConfigEpoch:       int64(atoi(f["config-epoch"])),
	}, nil
}

// SentinelReplicas lists the replicas of the master as the sentinel knows
// them (SENTINEL REPLICAS).
func SentinelReplicas(ctx context.Context, c *goredis.Client, name string) ([]SentinelReplica, error) {
	cmd := goredis.NewMapStringStringSliceCmd(ctx, "sentinel", "replicas", name)
	_ = c.Process(ctx, cmd)
	list, err := cmd.Result()
	if err != nil {
		return nil, sentinelErr("SENTINEL REPLICAS", name, err)
	}
	out := make([]SentinelReplica, 0, len(list))
	for _, f := range list {
		out = append(out, SentinelReplica{
			Addr:        net.JoinHostPort(f["ip"], f["port"]),
			RunID:       f["runid"],
			Flags:       splitFlags(f["flags"]),
			LinkStatus:  f["master-link-status"],
			MasterAddr:  net.JoinHostPort(f["master-host"], f["master-port"]),
			Offset:      int64(atoi(f["slave-repl-offset"])),
			InfoRefresh: millis(f["info-refresh"]),
			Priority:    atoi(f["slave-priority"]),
		})
	}
	return out, nil
}

// FindReplica returns the replica listening on addr.
func FindReplica(replicas []SentinelReplica, addr string) (SentinelReplica, bool) {
	for _, r := range replicas {
		if SameAddr(r.Addr, addr) {
			return r, true
		}
	}
	return SentinelReplica{}, false
}

// SentinelPeers lists the other sentinels monitoring the master, as this
// one knows them (SENTINEL SENTINELS).
func SentinelPeers(ctx context.Context, c *goredis.Client, name string) ([]SentinelPeer, error) {
	cmd := goredis.NewMapStringStringSliceCmd(ctx, "sentinel", "sentinels", name)
	_ = c.Process(ctx, cmd)
	list, err := cmd.Result()
	if err != nil {
		return nil, sentinelErr("SENTINEL SENTINELS", name, err)
	}
	out := make([]SentinelPeer, 0, len(list))
	for _, f := range list {
		out = append(out, SentinelPeer{
			Addr:      net.JoinHostPort(f["ip"], f["port"]),
			RunID:     f["runid"],
			Flags:     splitFlags(f["flags"]),
			LastHello: millis(f["last-hello-message"]),
		})
	}
	return out, nil
}

// SentinelCheckQuorum asks the sentinel whether the sentinels it can reach
// are enough to reach the quorum and to authorize a failover (SENTINEL
// CKQUORUM). ok false comes with the sentinel's reason ("NOQUORUM 1 usable
// Sentinels. ..."); err is for a failed request or an unknown master.
func SentinelCheckQuorum(ctx context.Context, c *goredis.Client, name string) (ok bool, why string, err error) {
	cmd := goredis.NewStringCmd(ctx, "sentinel", "ckquorum", name)
	_ = c.Process(ctx, cmd)
	_, err = cmd.Result()
	var rerr goredis.Error
	switch {
	case err == nil:
		return true, "", nil
	case errors.As(err, &rerr) && strings.HasPrefix(rerr.Error(), "NOQUORUM"):
		return false, rerr.Error(), nil
	}
	return false, "", sentinelErr("SENTINEL CKQUORUM", name, err)
}

// SentinelEngine reads the engine and version of the sentinel process
// itself (INFO server), which may differ from the data nodes'.
func SentinelEngine(ctx context.Context, c *goredis.Client) (Version, error) {
	cmd := goredis.NewStringCmd(ctx, "info", "server")
	_ = c.Process(ctx, cmd)
	s, err := cmd.Result()
	if err != nil {
		return Version{}, fmt.Errorf("INFO server: %w", err)
	}
	info := ParseInfo(s)
	mode := info["redis_mode"]
	if mode == "" {
		mode = info["server_mode"] // Valkey
	}
	if mode != "sentinel" {
		return Version{}, fmt.Errorf("not a sentinel: it runs in %q mode", mode)
	}
	return VersionFromInfo(info)
}

// DiscoverSentinel asks the sentinels in turn for the master called name
// and returns the first that answers and knows it: its index in sentinels
// and the master's address. The error names every sentinel that failed and
// why. A sentinel's address in messages is its client's Options().Addr.
func DiscoverSentinel(ctx context.Context, sentinels []*goredis.Client, name string) (int, string, error) {
	if len(sentinels) == 0 {
		return -1, "", errors.New("discover master " + strconv.Quote(name) + ": no sentinel given")
	}
	var failed []string
	for i, c := range sentinels {
		addr, err := SentinelMasterAddr(ctx, c, name)
		if err == nil {
			return i, addr, nil
		}
		if ctx.Err() != nil {
			return -1, "", fmt.Errorf("discover master %q: %w", name, ctx.Err())
		}
		failed = append(failed, fmt.Sprintf("%s: %v", c.Options().Addr, err))
	}
	return -1, "", fmt.Errorf("discover master %q: no sentinel answered with it: %s", name, strings.Join(failed, "; "))
}

// sentinelErr wraps a failed SENTINEL subcommand, telling an unknown master
// (ERR No such master with that name) apart.
func sentinelErr(cmd, name string, err error) error {
	if err != nil && strings.Contains(err.Error(), "No such master") {
		return fmt.Errorf("%s %s: %w", cmd, name, ErrUnknownMaster)
	}
	return fmt.Errorf("%s %s: %w", cmd, name, err)
}

func splitFlags(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

func hasFlag(flags []string, f string) bool {
	for _, x := range flags {
		if x == f {
			return true
		}
	}
	return false
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

func millis(s string) time.Duration {
	return time.Duration(atoi(s)) * time.Millisecond
}
