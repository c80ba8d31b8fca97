package redistest

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"
)

// ReplicaOf makes s a replica of master (masterauth set to master's
// password) and waits until it is in sync (WaitInSync).
func (s *Server) ReplicaOf(t testing.TB, master *Server) {
	t.Helper()
	c := s.Client()
	defer c.Close()
	ctx := context.Background()
	if err := c.ConfigSet(ctx, "masterauth", master.Password).Err(); err != nil {
		t.Fatalf("redistest: CONFIG SET masterauth on %s: %v", s.Addr, err)
	}
	if err := c.Do(ctx, "REPLICAOF", master.Host, strconv.Itoa(master.Port)).Err(); err != nil {
		t.Fatalf("redistest: REPLICAOF %s on %s: %v", master.Addr, s.Addr, err)
	}
	WaitInSync(t, s, master)
}

// Promote sends REPLICAOF NO ONE to s and checks that it is a master.
func (s *Server) Promote(t testing.TB) {
	t.Helper()
	c := s.Client()
	defer c.Close()
	ctx := context.Background()
	if err := c.Do(ctx, "REPLICAOF", "NO", "ONE").Err(); err != nil {
		t.Fatalf("redistest: REPLICAOF NO ONE on %s: %v", s.Addr, err)
	}
	if role := s.Info(t, "replication")["role"]; role != "master" {
		t.Fatalf("redistest: %s is %s after REPLICAOF NO ONE", s.Addr, role)
	}
}

// Info reads one INFO section of s as fields.
func (s *Server) Info(t testing.TB, section string) map[string]string {
	t.Helper()
	c := s.Client()
	defer c.Close()
	text, err := c.Info(context.Background(), section).Result()
	if err != nil {
		t.Fatalf("redistest: INFO %s on %s: %v", section, s.Addr, err)
	}
	out := map[string]string{}
	for _, line := range strings.Split(text, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok {
			out[k] = v
		}
	}
	return out
}

// WaitInSync waits up to 60 s until replica's link to master is up, no sync
// is in progress, it has master's replication ID and its offset has
// reached the master's offset read first: every write master acknowledged
// before the call is then on replica.
func WaitInSync(t testing.TB, replica, master *Server) {
	t.Helper()
	target, err := strconv.ParseInt(master.Info(t, "replication")["master_repl_offset"], 10, 64)
	if err != nil {
		t.Fatalf("redistest: master_repl_offset of %s: %v", master.Addr, err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		r := replica.Info(t, "replication")
		replid := master.Info(t, "replication")["master_replid"]
		off, _ := strconv.ParseInt(r["slave_repl_offset"], 10, 64)
		if r["master_link_status"] == "up" && r["master_sync_in_progress"] == "0" && r["master_replid"] == replid && off >= target {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("redistest: %s not in sync with %s after 60s: master offset %d, replica %v", replica.Addr, master.Addr, target, r)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
