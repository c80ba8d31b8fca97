package redis

import (
	"context"
	"sort"
	"strconv"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/understudy/understudy/internal/redistest"
)

// TestInfoFieldsKnown reads the default INFO of the redis-server on PATH
// (Debian's 7.0) as a master and as a replica, also in states that add
// fields (appendonly yes, min-replicas-to-write, after an error reply),
// and checks that every field is one KnownInfoField knows.
func TestInfoFieldsKnown(t *testing.T) {
	if testing.Short() {
		t.Skip("starts redis-server")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// No diskless-sync delay: the replica syncs at once.
	master := redistest.Start(t, redistest.WithArgs("--repl-diskless-sync-delay", "0"))
	replica := redistest.Start(t,
		redistest.WithPassword(master.Password),
		redistest.WithArgs("--replicaof", master.Host, strconv.Itoa(master.Port)))
	mc, rc := master.Client(), replica.Client()
	defer mc.Close()
	defer rc.Close()

	// Keys in two databases, a replica that has synced them, an error.
	if err := mc.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	mc3 := goredis.NewClient(&goredis.Options{Addr: master.Addr, Password: master.Password, DB: 3})
	defer mc3.Close()
	if err := mc3.RPush(ctx, "l", "a").Err(); err != nil {
		t.Fatal(err)
	}
	waitLinkUp(ctx, t, rc)
	_ = mc.Do(ctx, "NO-SUCH-COMMAND").Err() // errorstat_ERR
	_ = rc.Set(ctx, "k", "v", 0).Err()      // errorstat_READONLY

	check := func(state string, c *goredis.Client) map[string]string {
		t.Helper()
		info, err := ReadInfo(ctx, c)
		if err != nil {
			t.Fatalf("%s: INFO: %v", state, err)
		}
		var unknown []string
		for f := range info {
			if !KnownInfoField(f) {
				unknown = append(unknown, f)
			}
		}
		sort.Strings(unknown)
		for _, f := range unknown {
			t.Errorf("%s: INFO field %q (%s) is not in InfoFields or InfoFieldPatterns", state, f, info[f])
		}
		return info
	}
	mi := check("master", mc)
	ri := check("replica", rc)
	for _, f := range []string{"slave0", "db0", "db3", "errorstat_ERR", "connected_slaves"} {
		if _, ok := mi[f]; !ok {
			t.Errorf("master: INFO has no %s; the test did not reach the state it checks", f)
		}
	}
	for _, f := range []string{"master_link_status", "errorstat_READONLY", "slave_read_repl_offset"} {
		if _, ok := ri[f]; !ok {
			t.Errorf("replica: INFO has no %s; the test did not reach the state it checks", f)
		}
	}

	// States that add fields.
	for _, kv := range [][2]string{{"appendonly", "yes"}, {"min-replicas-to-write", "1"}} {
		if err := mc.ConfigSet(ctx, kv[0], kv[1]).Err(); err != nil {
			t.Fatalf("CONFIG SET %s %s: %v", kv[0], kv[1], err)
		}
	}
	mi = check("master with appendonly and min-replicas-to-write", mc)
	for _, f := range []string{"aof_current_size", "min_slaves_good_slaves"} {
		if _, ok := mi[f]; !ok {
			t.Errorf("master: INFO has no %s after CONFIG SET", f)
		}
	}

	// A replica whose master is gone.
	master.Stop()
	deadline := time.Now().Add(10 * time.Second)
	for {
		info, err := ReadInfo(ctx, rc, "replication")
		if err != nil {
			t.Fatalf("replica: INFO replication: %v", err)
		}
		if info["master_link_status"] == "down" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("replica: the link did not go down after the master stopped")
		}
		time.Sleep(50 * time.Millisecond)
	}
	ri = check("replica without its master", rc)
	if _, ok := ri["master_link_down_since_seconds"]; !ok {
		t.Errorf("replica: INFO has no master_link_down_since_seconds with the link down")
	}
}

func waitLinkUp(ctx context.Context, t *testing.T, c *goredis.Client) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		info, err := ReadInfo(ctx, c, "replication")
		if err == nil && info["master_link_status"] == "up" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("replica: link not up after 10s (last error %v, INFO %v)", err, info)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestKnownInfoField(t *testing.T) {
	for name, want := range map[string]bool{
		"master_link_status":           true,
		"valkey_version":               true,
		"slave0":                       true,
		"slave12":                      true,
		"db0":                          true,
		"db15":                         true,
		"listener1":                    true,
		"io_thread_3":                  true,
		"errorstat_ERR":                true,
		"errorstat_WRONGTYPE":          true,
		"db2_distrib_strings_sizes":    true,
		"db0_distrib_zsets_items":      true,
		"module":                       true,
		"min_slaves_good_slaves":       true,
		"master_sync_perc":             true,
		"slave":                        false,
		"slavex":                       false,
		"db":                           false,
		"db0_distrib_streams_items":    false,
		"errorstat_":                   false,
		"replica_priority":             false, // a config parameter; INFO says slave_priority
		"replica_read_only":            false, // INFO says slave_read_only
		"master_link_stat":             false,
		"Master_link_status":           false,
		"cluster_state":                false, // CLUSTER INFO, not INFO
		"eventloop_duration_max":       false, // INFO debug only
		"cmdstat_get":                  false, // INFO commandstats only
		"latency_percentiles_usec_get": false,
	} {
		if got := KnownInfoField(name); got != want {
			t.Errorf("KnownInfoField(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestInfoFieldsUnique(t *testing.T) {
	seen := map[string]bool{}
	for _, f := range InfoFields {
		if seen[f] {
			t.Errorf("InfoFields lists %q twice", f)
		}
		seen[f] = true
	}
	for _, p := range InfoFieldPatterns {
		if seen[p] {
			t.Errorf("InfoFieldPatterns lists %q twice", p)
		}
		seen[p] = true
	}
}

func TestSuggestInfoField(t *testing.T) {
	for _, tc := range []struct{ name, want string }{
		{"master_link_stat", "master_link_status"},
		{"master_link_status", "master_link_status"},
		{"Master_Link_Status", "master_link_status"},
		{"conected_slaves", "connected_slaves"},
		{"connected_replicas", ""},
		{"rol", "role"},
		{"used_memroy", "used_memory"},
		{"slave_0", "slave0"},
		{"db3_distrib_string_sizes", "db3_distrib_strings_sizes"},
		{"valkey_versoin", "valkey_version"},
		{"foo", ""},
		{"xyz_unrelated_field_name", ""},
		{"", ""},
	} {
		if got := SuggestInfoField(tc.name); got != tc.want {
			t.Errorf("SuggestInfoField(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}
}
