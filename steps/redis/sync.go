package redis

import (
	"context"
	"fmt"
	"net"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// InSync checks a replica against its master the way redis-facts.md says:
// read the master's offset FIRST, then the replica's role, the master it
// follows (when masterAddr is not empty), its link, sync state, replication
// id and offset. why says what is missing.
func InSync(ctx context.Context, replica, master *goredis.Client, masterAddr string) (ok bool, why string, err error) {
	m, err := ReadInfo(ctx, master, "replication")
	if err != nil {
		return false, "", fmt.Errorf("INFO replication on master: %w", err)
	}
	r, err := ReadInfo(ctx, replica, "replication")
	if err != nil {
		return false, "", fmt.Errorf("INFO replication on replica: %w", err)
	}
	switch {
	case r["role"] != "slave":
		return false, "replica is a " + r["role"], nil
	case masterAddr != "" && !SameAddr(net.JoinHostPort(r["master_host"], r["master_port"]), masterAddr):
		return false, fmt.Sprintf("replica follows %s:%s, not %s", r["master_host"], r["master_port"], masterAddr), nil
	case r["master_link_status"] != "up":
		return false, "master_link_status is " + r["master_link_status"], nil
	case r["master_sync_in_progress"] != "0":
		return false, "sync in progress", nil
	case r["master_replid"] != m["master_replid"]:
		return false, "replication ids differ", nil
	case Int(r, "slave_repl_offset") < Int(m, "master_repl_offset"):
		return false, fmt.Sprintf("replica offset %s behind master offset %s", r["slave_repl_offset"], m["master_repl_offset"]), nil
	}
	return true, "", nil
}

// SameAddr compares two host:port addresses, taking localhost and ::1 for
// 127.0.0.1.
func SameAddr(a, b string) bool {
	norm := func(s string) string {
		h, p, err := net.SplitHostPort(s)
		if err != nil {
			return s
		}
		if h == "localhost" || h == "::1" {
			h = "127.0.0.1"
		}
		return net.JoinHostPort(h, p)
	}
	return norm(a) == norm(b)
}

// Follows reports whether replica replicates from master right now: a
// replica whose replication id is the master's, with its link up.
func Follows(ctx context.Context, replica, master *goredis.Client) (bool, error) {
	r, err := ReadInfo(ctx, replica, "replication")
	if err != nil {
		return false, fmt.Errorf("INFO replication: %w", err)
	}
	if r["role"] != "slave" || r["master_link_status"] != "up" {
		return false, nil
	}
	m, err := ReadInfo(ctx, master, "replication")
	if err != nil {
		return false, fmt.Errorf("INFO replication: %w", err)
	}
	return m["role"] == "master" && m["master_replid"] == r["master_replid"], nil
}

// CatchUp reads the master's offset now, then waits until the replica has
// reached it or timeout passes: after it returns nil, every write the
// master had acknowledged when CatchUp was called is on the replica.
func CatchUp(ctx context.Context, replica, master *goredis.Client, timeout time.Duration) error {
	m, err := ReadInfo(ctx, master, "replication")
	if err != nil {
		return fmt.Errorf("INFO replication on the master: %w", err)
	}
	want := Int(m, "master_repl_offset")
	if _, err := WaitOffset(ctx, replica, want, time.Now().Add(timeout)); err != nil {
		return fmt.Errorf("the replica %w", err)
	}
	return nil
}

// WaitOffset polls the replica, on the condition and not a timer, until its
// link is up and its slave_repl_offset reaches offset, or deadline passes.
// It polls back to back at first (a caught-up replica answers at once), then
// every 200 µs. The error says where the replica stood.
func WaitOffset(ctx context.Context, replica *goredis.Client, offset int64, deadline time.Time) (polls int, err error) {
	for ; ; polls++ {
		info, err := ReadInfo(ctx, replica, "replication")
		if err != nil {
			return polls, fmt.Errorf("INFO replication: %w", err)
		}
		if info["master_link_status"] == "up" && Int(info, "slave_repl_offset") >= offset {
			return polls, nil
		}
		if time.Now().After(deadline) {
			return polls, fmt.Errorf("did not reach the master's offset %d (at %s, link %s) in time", offset, info["slave_repl_offset"], info["master_link_status"])
		}
		if polls > 20 {
			select {
			case <-ctx.Done():
				return polls, ctx.Err()
			case <-time.After(200 * time.Microsecond):
			}
		}
	}
}
