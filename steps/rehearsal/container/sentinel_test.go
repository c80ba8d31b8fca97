package container

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"
	goredis "github.com/redis/go-redis/v9"

	"github.com/understudy/understudy/steps/redact"
	"github.com/understudy/understudy/steps/redis"
)

// The monitoring settings of the tests: the brief's quorum 2 of 3, a master
// down after 5 s, a failover that may take 60 s.
const (
	testMasterName      = "mymaster"
	testQuorum          = 2
	testDownAfter       = 5 * time.Second
	testFailoverTimeout = 60 * time.Second
)

func TestSentinelConfig(t *testing.T) {
	v := redis.MustParseVersion("7.0")
	for _, tc := range []struct {
		name      string
		password  string
		m         SentinelMonitor
		want      []string
		wantLacks []string
	}{
		{
			name:     "every setting",
			password: `s p"w`,
			m: SentinelMonitor{MasterName: "mymaster", MasterHost: "127.0.0.1", MasterPort: 6400, Quorum: 2,
				DownAfter: 5 * time.Second, FailoverTimeout: time.Minute, ParallelSyncs: 1, AuthPass: "data pw", AuthUser: "app"},
			want: []string{
				"bind 127.0.0.1", "port 26400", "dir /data", `requirepass "s p\"w"`,
				`sentinel announce-ip "127.0.0.1"`, "sentinel announce-port 26400",
				"sentinel monitor mymaster 127.0.0.1 6400 2", `sentinel auth-pass mymaster "data pw"`, `sentinel auth-user mymaster "app"`,
				"sentinel down-after-milliseconds mymaster 5000", "sentinel failover-timeout mymaster 60000",
				"sentinel parallel-syncs mymaster 1",
			},
		},
		{
			name: "server defaults, no passwords",
			m:    SentinelMonitor{MasterName: "m", MasterHost: "127.0.0.1", MasterPort: 6400, Quorum: 1},
			want: []string{"sentinel monitor m 127.0.0.1 6400 1"},
			wantLacks: []string{"requirepass", "auth-pass", "down-after-milliseconds", "failover-timeout",
				"parallel-syncs", "resolve-hostnames", "auth-user"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lines := strings.Split(sentinelConfig(v, 26400, tc.password, tc.m), "\n")
			for _, w := range tc.want {
				if !slices.Contains(lines, w) {
					t.Errorf("config lacks the line %q:\n%s", w, strings.Join(lines, "\n"))
				}
			}
			for _, w := range tc.wantLacks {
				for _, l := range lines {
					if strings.Contains(l, w) {
						t.Errorf("config has %q: %q", w, l)
					}
				}
			}
			// The monitor line comes before the lines about its master.
			mon := slices.IndexFunc(lines, func(l string) bool { return strings.HasPrefix(l, "sentinel monitor ") })
			for i, l := range lines {
				if strings.HasPrefix(l, "sentinel ") && strings.Contains(l, " "+tc.m.MasterName+" ") && i < mon {
					t.Errorf("line %q comes before the monitor line", l)
				}
			}
		})
	}
}

func TestSentinelMonitorCheck(t *testing.T) {
	good := SentinelMonitor{MasterName: "mymaster", MasterPort: 6379, Quorum: 2}
	for _, tc := range []struct {
		name   string
		change func(*SentinelMonitor)
		want   string // "" when valid
	}{
		{"valid", func(*SentinelMonitor) {}, ""},
		{"no name", func(m *SentinelMonitor) { m.MasterName = "" }, `master name ""`},
		{"name with a space", func(m *SentinelMonitor) { m.MasterName = "my master" }, `master name "my master"`},
		{"host with a space", func(m *SentinelMonitor) { m.MasterHost = "a b" }, `master host "a b"`},
		{"no port", func(m *SentinelMonitor) { m.MasterPort = 0 }, "master port 0 is out of range"},
		{"no quorum", func(m *SentinelMonitor) { m.Quorum = 0 }, "quorum 0 must be at least 1"},
		{"negative parallel syncs", func(m *SentinelMonitor) { m.ParallelSyncs = -1 }, "parallel-syncs -1"},
		{"microseconds", func(m *SentinelMonitor) { m.DownAfter = 1500 * time.Microsecond }, "down-after 1.5ms must be a positive whole number of milliseconds"},
		{"negative timeout", func(m *SentinelMonitor) { m.FailoverTimeout = -time.Second }, "failover-timeout -1s"},
		{"auth-pass with a space", func(m *SentinelMonitor) { m.AuthPass = "d p" }, "auth-pass (the data nodes' password): a sentinel rewrites"},
		{"auth-pass with a quote", func(m *SentinelMonitor) { m.AuthPass = `d"p` }, "without spaces, quotes or backslashes"},
		{"auth-pass with a backslash", func(m *SentinelMonitor) { m.AuthPass = `d\p` }, "without spaces, quotes or backslashes"},
		{"auth-user with a space", func(m *SentinelMonitor) { m.AuthUser = "my app" }, `auth-user "my app": a sentinel rewrites`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := good
			tc.change(&m)
			err := m.withDefaults().check()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("check: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("check accepted %+v", m)
			}
			mustContain(t, err.Error(), tc.want)
			// RunSentinel refuses it before starting anything.
			_, err = RunSentinel(testCtx(t), "s", redis.MustParseVersion("7.0"), m)
			if err == nil {
				t.Fatalf("RunSentinel accepted %+v", m)
			}
			mustContain(t, err.Error(), `run sentinel "s" (7.0): `)
			mustContain(t, err.Error(), tc.want)
		})
	}
}

// The sentinel's own password is held to the same rule as auth-pass, and
// the message does not show it.
func TestSentinelPasswordRefused(t *testing.T) {
	m := SentinelMonitor{MasterName: "m", MasterPort: 6379, Quorum: 1}
	for _, pw := range []string{"secret pw", "secret'pw", "secret\tpw", "secreté"} {
		_, err := RunSentinel(testCtx(t), "s", redis.MustParseVersion("7.0"), m, WithPassword(pw))
		if err == nil {
			t.Fatalf("RunSentinel accepted the password %q", pw)
		}
		mustContain(t, err.Error(), "the sentinel's password: a sentinel rewrites its configuration")
		if strings.Contains(err.Error(), pw) {
			t.Fatalf("the error shows the password: %v", err)
		}
	}
	// Printable ASCII without spaces, quotes or backslashes is accepted
	// (the monitor check then refuses the port, before anything starts).
	_, err := RunSentinel(testCtx(t), "s", redis.MustParseVersion("7.0"), SentinelMonitor{MasterName: "m", Quorum: 1}, WithPassword("s3nt!nel@pw#%&"))
	if err == nil || !strings.Contains(err.Error(), "master port 0") {
		t.Fatalf("RunSentinel with a good password and no port: %v", err)
	}
}

// TestSentinelUnquotedRewrite is why passwords are checked: a 7.0 sentinel
// started (bypassing the check) with a data password holding a space
// rewrites it unquoted and does not start again. Its log shows the line,
// which the error and Logs redact.
func TestSentinelUnquotedRewrite(t *testing.T) {
	ctx := testCtx(t)
	session := "test-" + NewSessionID()
	expectSessionEmpty(t, session)
	m := SentinelMonitor{MasterName: "m", MasterHost: "127.0.0.1", MasterPort: 6399, Quorum: 1, AuthPass: "data pw"}
	n, err := newNode("unquoted", []Option{WithSession(session), WithPassword("")})
	if err != nil {
		t.Fatal(err)
	}
	s := &Sentinel{Name: "unquoted", node: n, monitor: m, secrets: redact.New(m.AuthPass)}
	t.Cleanup(func() {
		if err := s.Terminate(context.Background()); err != nil {
			t.Error(err)
		}
	})
	if err := s.launch(ctx, redis.MustParseVersion("7.0")); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(s.ConfigFile())
	if err != nil {
		t.Fatal(err)
	}
	mustContain(t, string(b), "sentinel auth-pass m data pw\n")
	if err := s.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	err = s.Start(ctx)
	if err == nil {
		t.Fatal("the sentinel started again with an unquoted password in its file")
	}
	mustContain(t, err.Error(), "FATAL CONFIG FILE ERROR")
	mustContain(t, err.Error(), "'sentinel auth-pass m (sensitive)'")
	logs, lerr := s.Logs(ctx)
	if lerr != nil {
		t.Fatal(lerr)
	}
	for _, text := range []string{err.Error(), logs} {
		if strings.Contains(text, m.AuthPass) {
			t.Fatalf("the password shows in %q", text)
		}
	}
}

// RunSentinel does not take over the state of a sentinel whose
// configuration is already in the data directory.
func TestSentinelRefusesExistingConfig(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, sentinelConfName), []byte("sentinel myid x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	m := SentinelMonitor{MasterName: "m", MasterPort: 6379, Quorum: 1}
	_, err := RunSentinel(testCtx(t), "s", redis.MustParseVersion("7.0"), m, WithDataDir(dir))
	if err == nil {
		t.Fatal("RunSentinel took over an existing sentinel.conf")
	}
	mustContain(t, err.Error(), "already holds a sentinel configuration")
	if b, err := os.ReadFile(filepath.Join(dir, sentinelConfName)); err != nil || string(b) != "sentinel myid x\n" {
		t.Fatalf("the existing file was changed: %q, %v", b, err)
	}
}

// runSentinel starts a sentinel and terminates it when the test ends.
func runSentinel(t *testing.T, ctx context.Context, name, version string, m SentinelMonitor, opts ...Option) *Sentinel {
	t.Helper()
	s, err := RunSentinel(ctx, name, redis.MustParseVersion(version), m, opts...)
	if err != nil {
		t.Fatalf("RunSentinel %s %s: %v", name, version, err)
	}
	t.Cleanup(func() {
		if err := s.Terminate(context.Background()); err != nil {
			t.Errorf("Terminate %s: %v", name, err)
		}
	})
	return s
}

// expectSessionEmpty checks, after every other cleanup of the test, that
// no container of the session is left.
func expectSessionEmpty(t *testing.T, session string) {
	t.Helper()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		n, err := countSession(ctx, session)
		if err != nil {
			t.Errorf("count the session's containers: %v", err)
		} else if n != 0 {
			t.Errorf("%d containers labelled %s=%s left after the test", n, LabelSession, session)
		} else {
			t.Logf("no container labelled %s=%s left", LabelSession, session)
		}
	})
}

// sentinelSet is a master, two replicas and three sentinels, as issue 16's
// rehearsal deploys them.
type sentinelSet struct {
	data      []*Node // data[0] started as the master
	sentinels []*Sentinel
	monitor   SentinelMonitor
}

// startSentinelSet starts the set at version, data nodes and sentinels
// alike, and waits until every sentinel knows the whole set.
func startSentinelSet(t *testing.T, ctx context.Context, version string) *sentinelSet {
	t.Helper()
	session := "test-" + NewSessionID()
	expectSessionEmpty(t, session)
	dataPW, sentinelPW := randomHex(16), randomHex(16)
	start := time.Now()
	set := &sentinelSet{}
	for _, name := range []string{"master", "replica1", "replica2"} {
		set.data = append(set.data, runNode(t, ctx, name, version, WithSession(session), WithPassword(dataPW)))
	}
	master := set.data[0]
	mc := master.Client()
	defer mc.Close()
	// Not the point here: 7.0's 5 s wait for more replicas before a
	// diskless sync.
	if err := mc.ConfigSet(ctx, "repl-diskless-sync-delay", "0").Err(); err != nil {
		t.Fatal(err)
	}
	for _, r := range set.data[1:] {
		c := r.Client()
		err := c.Do(ctx, "REPLICAOF", master.Host(), master.Port()).Err()
		c.Close()
		if err != nil {
			t.Fatalf("REPLICAOF on %s: %v", r.Name, err)
		}
	}
	for _, r := range set.data[1:] {
		waitReplicaOf(t, ctx, r, master, 30*time.Second)
	}
	t.Logf("%s: master and 2 replicas in sync after %s", version, since(start))

	set.monitor = SentinelMonitor{
		MasterName: testMasterName, MasterPort: master.Port(), Quorum: testQuorum,
		DownAfter: testDownAfter, FailoverTimeout: testFailoverTimeout, ParallelSyncs: 1,
		AuthPass: dataPW,
	}
	for i := 1; i <= 3; i++ {
		s := runSentinel(t, ctx, "sentinel"+strconv.Itoa(i), version, set.monitor, WithSession(session), WithPassword(sentinelPW))
		set.sentinels = append(set.sentinels, s)
	}
	t.Logf("%s: 3 sentinels answer after %s", version, since(start))
	d := set.waitKnown(t, ctx, master, 60*time.Second)
	t.Logf("%s: every sentinel knows the master, 2 replicas and 2 other sentinels, CKQUORUM OK, %s after the sentinels started", version, d)
	return set
}

func since(t time.Time) time.Duration { return time.Since(t).Round(time.Millisecond) }

// waitReplicaOf waits until r is a replica of master with its link up.
func waitReplicaOf(t *testing.T, ctx context.Context, r, master *Node, timeout time.Duration) {
	t.Helper()
	c := r.Client()
	defer c.Close()
	eventually(t, timeout, r.Name+" replicates "+master.Name, func() (bool, string) {
		info, err := redis.ReadInfo(ctx, c, "replication")
		if err != nil {
			return false, err.Error()
		}
		state := fmt.Sprintf("role:%s master_port:%s master_link_status:%s master_sync_in_progress:%s",
			info["role"], info["master_port"], info["master_link_status"], info["master_sync_in_progress"])
		return info["role"] == "slave" && info["master_port"] == strconv.Itoa(master.Port()) &&
			info["master_link_status"] == "up" && info["master_sync_in_progress"] == "0", state
	})
}

// waitKnown waits until every sentinel reports master as the master, the
// other data nodes as its replicas (link ok, not down), the other sentinels
// by address and myid (not down, answering its authenticated PINGs) and
// CKQUORUM OK, and returns how long that took.
func (set *sentinelSet) waitKnown(t *testing.T, ctx context.Context, master *Node, timeout time.Duration) time.Duration {
	t.Helper()
	ids := map[string]string{} // sentinel address → myid
	for _, s := range set.sentinels {
		id, err := s.MyID(ctx)
		if err != nil {
			t.Fatal(err)
		}
		ids[s.Addr()] = id
	}
	start := time.Now()
	eventually(t, timeout, "every sentinel knows the set with master "+master.Name, func() (bool, string) {
		for _, s := range set.sentinels {
			if why := set.notKnown(ctx, s, master, ids); why != "" {
				return false, fmt.Sprintf("%s (%s): %s", s.Name, s.Version(), why)
			}
		}
		return true, ""
	})
	return since(start)
}

// notKnown says what s does not know yet, "" when it knows the whole set.
func (set *sentinelSet) notKnown(ctx context.Context, s *Sentinel, master *Node, ids map[string]string) string {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	c := s.Client()
	defer c.Close()
	name := set.monitor.MasterName
	addr, err := redis.SentinelMasterAddr(ctx, c, name)
	if err != nil {
		return err.Error()
	}
	if addr != master.Addr() {
		return "master is " + addr + ", want " + master.Addr()
	}
	reps, err := redis.SentinelReplicas(ctx, c, name)
	if err != nil {
		return err.Error()
	}
	if len(reps) != len(set.data)-1 {
		return fmt.Sprintf("%d replicas known, want %d", len(reps), len(set.data)-1)
	}
	for _, n := range set.data {
		if n == master {
			continue
		}
		r, ok := redis.FindReplica(reps, n.Addr())
		switch {
		case !ok:
			return "replica " + n.Addr() + " unknown"
		case r.Down() || r.LinkStatus != "ok" || r.MasterAddr != master.Addr():
			return fmt.Sprintf("replica %s: flags %v, link %s, master %s", r.Addr, r.Flags, r.LinkStatus, r.MasterAddr)
		}
	}
	// Read raw for last-ok-ping-reply: a peer that refuses the sentinel's
	// AUTH is discovered (hello messages go through the master) but never
	// answers its PINGs.
	cmd := goredis.NewMapStringStringSliceCmd(ctx, "sentinel", "sentinels", name)
	_ = c.Process(ctx, cmd)
	peers, err := cmd.Result()
	if err != nil {
		return "SENTINEL SENTINELS: " + err.Error()
	}
	if len(peers) != len(set.sentinels)-1 {
		return fmt.Sprintf("%d other sentinels known, want %d", len(peers), len(set.sentinels)-1)
	}
	for _, p := range peers {
		paddr := net.JoinHostPort(p["ip"], p["port"])
		id, ok := ids[paddr]
		switch {
		case !ok || paddr == s.Addr():
			return "unexpected sentinel " + paddr
		case p["runid"] != id:
			return fmt.Sprintf("sentinel %s has runid %s, its myid is %s", paddr, p["runid"], id)
		case strings.Contains(p["flags"], "down") || strings.Contains(p["flags"], "disconnected"):
			return fmt.Sprintf("sentinel %s: flags %s", paddr, p["flags"])
		}
		if ms, _ := strconv.Atoi(p["last-ok-ping-reply"]); ms > 2000 {
			return fmt.Sprintf("sentinel %s: last ok PING reply %d ms ago", paddr, ms)
		}
	}
	if ok, why, err := redis.SentinelCheckQuorum(ctx, c, name); err != nil || !ok {
		return fmt.Sprintf("CKQUORUM: %s %v", why, err)
	}
	return ""
}

// checkSentinelVersion checks the version the sentinel process reports.
func checkSentinelVersion(t *testing.T, ctx context.Context, s *Sentinel, want string) {
	t.Helper()
	c := s.Client()
	defer c.Close()
	got, err := redis.SentinelEngine(ctx, c)
	if err != nil {
		t.Fatalf("%s: %v", s.Name, err)
	}
	if w := redis.MustParseVersion(want); got.Series() != w.Series() {
		t.Fatalf("%s runs %s, want %s", s.Name, got, w)
	}
}

// runID is INFO's run_id: the process's, new at every start.
func runID(t *testing.T, ctx context.Context, s *Sentinel) string {
	t.Helper()
	c := s.Client()
	defer c.Close()
	info, err := redis.ReadInfo(ctx, c, "server")
	if err != nil {
		t.Fatalf("%s: INFO server: %v", s.Name, err)
	}
	return info["run_id"]
}

// knownLines returns the state lines the sentinel wrote into its file:
// myid, known-replica, known-sentinel.
func knownLines(t *testing.T, s *Sentinel) (myid string, replicas, sentinels []string) {
	t.Helper()
	b, err := os.ReadFile(s.ConfigFile())
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		switch {
		case len(f) == 3 && f[0] == "sentinel" && f[1] == "myid":
			myid = f[2]
		case len(f) == 5 && f[0] == "sentinel" && f[1] == "known-replica":
			replicas = append(replicas, net.JoinHostPort(f[3], f[4]))
		case len(f) == 6 && f[0] == "sentinel" && f[1] == "known-sentinel":
			sentinels = append(sentinels, net.JoinHostPort(f[3], f[4])+" "+f[5])
		}
	}
	slices.Sort(replicas)
	slices.Sort(sentinels)
	return myid, replicas, sentinels
}

// TestSentinelReplace is issue 16's rehearsal of the sentinels' part: a
// master, two replicas and three sentinels of the old version; one
// sentinel is replaced by the new version and comes back with the same id
// and knowledge; a SENTINEL FAILOVER led by it then completes.
func TestSentinelReplace(t *testing.T) {
	for _, tc := range []struct{ from, to string }{
		{"7.0", "8.0"},
		{"valkey:8.1", "valkey:9.1"},
	} {
		t.Run(strings.ReplaceAll(tc.from+"-to-"+tc.to, ":", ""), func(t *testing.T) {
			ctx := testCtx(t)
			set := startSentinelSet(t, ctx, tc.from)
			s1 := set.sentinels[0]
			checkSentinelVersion(t, ctx, s1, tc.from)

			// What the old sentinel keeps in its file.
			id, err := s1.MyID(ctx)
			if err != nil {
				t.Fatal(err)
			}
			fileID, reps, peers := knownLines(t, s1)
			if fileID != id || len(reps) != 2 || len(peers) != 2 {
				t.Fatalf("%s's file before Replace: myid %s (SENTINEL MYID %s), known replicas %v, known sentinels %v", s1.Name, fileID, id, reps, peers)
			}
			oldRunID := runID(t, ctx, s1)
			fi, err := os.Stat(s1.ConfigFile())
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: %s is %v after the sentinel rewrote it", tc.from, sentinelConfName, fi.Mode().Perm())

			start := time.Now()
			if err := s1.Replace(ctx, redis.MustParseVersion(tc.to)); err != nil {
				t.Fatalf("Replace %s → %s: %v", tc.from, tc.to, err)
			}
			t.Logf("Replace %s → %s took %s", tc.from, tc.to, since(start))
			checkSentinelVersion(t, ctx, s1, tc.to)
			if s1.Version().String() != tc.to {
				t.Fatalf("Version() = %s, want %s", s1.Version(), tc.to)
			}
			if got, err := s1.MyID(ctx); err != nil || got != id {
				t.Fatalf("myid after Replace = %s, %v; was %s", got, err, id)
			}
			if got := runID(t, ctx, s1); got == oldRunID {
				t.Fatalf("INFO run_id %s unchanged by Replace: it should be the new process's", got)
			}
			if gotID, gotReps, gotPeers := knownLines(t, s1); gotID != id || !slices.Equal(gotReps, reps) || !slices.Equal(gotPeers, peers) {
				t.Fatalf("%s's file after Replace: myid %s, replicas %v, sentinels %v; before: %s, %v, %v", s1.Name, gotID, gotReps, gotPeers, id, reps, peers)
			}
			d := set.waitKnown(t, ctx, set.data[0], 60*time.Second)
			t.Logf("%s: after Replace every sentinel knows the set again (the others still know %s by its myid), CKQUORUM OK: %s", tc.to, s1.Name, d)

			// A failover led by the upgraded sentinel.
			c := s1.Client()
			defer c.Close()
			start = time.Now()
			if err := c.Do(ctx, "SENTINEL", "FAILOVER", set.monitor.MasterName).Err(); err != nil {
				t.Fatalf("SENTINEL FAILOVER on %s: %v", s1.Name, err)
			}
			const switchBound = 30 * time.Second
			var newMaster *Node
			eventually(t, switchBound, "every sentinel reports a replica as the new master", func() (bool, string) {
				var addrs []string
				for _, s := range set.sentinels {
					sc := s.Client()
					addr, err := redis.SentinelMasterAddr(ctx, sc, set.monitor.MasterName)
					sc.Close()
					if err != nil {
						return false, err.Error()
					}
					addrs = append(addrs, addr)
				}
				for _, n := range set.data[1:] {
					if slices.Equal(addrs, []string{n.Addr(), n.Addr(), n.Addr()}) {
						newMaster = n
						return true, ""
					}
				}
				return false, strings.Join(addrs, " ")
			})
			t.Logf("SENTINEL FAILOVER on the %s sentinel: all 3 sentinels report %s as master after %s (bound %s)", tc.to, newMaster.Name, since(start), switchBound)
			waitReplicaOf(t, ctx, set.data[0], newMaster, 60*time.Second)
			t.Logf("the old master is a replica of %s with its link up %s after SENTINEL FAILOVER", newMaster.Name, since(start))
			d = set.waitKnown(t, ctx, newMaster, 60*time.Second)
			t.Logf("every sentinel knows the set around %s, CKQUORUM OK: %s later", newMaster.Name, d)
		})
	}
}

// TestSentinelOldest runs a 6.0 sentinel, the oldest the catalog knows: it
// has a password (requirepass exists in Sentinel since 5.0.1) and no
// SENTINEL MYID; it survives Stop and Start, and Replace by 7.0 reads the
// file 6.0 rewrote. Its password appears in no container metadata.
func TestSentinelOldest(t *testing.T) {
	ctx := testCtx(t)
	session := "test-" + NewSessionID()
	expectSessionEmpty(t, session)
	const dataPW, sentinelPW = "data-pw_6.0", "s3nt!nel@pw#%&"
	master := runNode(t, ctx, "master", "6.0", WithSession(session), WithPassword(dataPW))
	m := SentinelMonitor{MasterName: testMasterName, MasterPort: master.Port(), Quorum: 1, AuthPass: dataPW}
	s := runSentinel(t, ctx, "sentinel", "6.0", m, WithSession(session), WithPassword(sentinelPW))

	anon := goredis.NewClient(&goredis.Options{Addr: s.Addr(), MaxRetries: -1})
	defer anon.Close()
	if err := anon.Ping(ctx).Err(); err == nil || !strings.Contains(err.Error(), "NOAUTH") {
		t.Fatalf("PING a 6.0 sentinel without its password: %v, want NOAUTH", err)
	}
	c := s.Client()
	defer c.Close()
	if err := c.Do(ctx, "SENTINEL", "MYID").Err(); err == nil {
		t.Fatal("a 6.0 sentinel knows SENTINEL MYID; MyID need not read the file")
	}
	id, err := s.MyID(ctx)
	if err != nil || len(id) != 40 {
		t.Fatalf("MyID on 6.0 = %q, %v", id, err)
	}
	eventually(t, 10*time.Second, "the 6.0 sentinel reaches the master with auth-pass", func() (bool, string) {
		info, err := redis.SentinelMasterInfo(ctx, c, m.MasterName)
		if err != nil {
			return false, err.Error()
		}
		return info.Addr == master.Addr() && slices.Equal(info.Flags, []string{"master"}), fmt.Sprintf("%s %v", info.Addr, info.Flags)
	})

	cli, err := dockerClient(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	res, err := cli.ContainerInspect(ctx, s.ContainerID(), client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{dataPW, sentinelPW} {
		quoted, _ := json.Marshal(secret) // as docker inspect's JSON would hold it
		if strings.Contains(string(raw), secret) || strings.Contains(string(raw), strings.Trim(string(quoted), `"`)) {
			t.Fatalf("docker inspect shows %q", secret)
		}
	}
	if got := strings.Join(append(res.Container.Config.Entrypoint, res.Container.Config.Cmd...), " "); got != "redis-sentinel "+sentinelConfPath {
		t.Fatalf("command = %q", got)
	}
	for k, want := range map[string]string{LabelSession: session, LabelNode: "sentinel", LabelPID: itoa(os.Getpid())} {
		if got := res.Container.Config.Labels[k]; got != want {
			t.Errorf("label %s = %q, want %q", k, got, want)
		}
	}

	ctrID := s.ContainerID()
	if err := s.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if conn, err := net.DialTimeout("tcp", s.Addr(), time.Second); err == nil {
		conn.Close()
		t.Fatal("a stopped sentinel accepts connections")
	}
	if got, err := s.MyID(ctx); err != nil || got != id {
		t.Fatalf("MyID of the stopped sentinel = %s, %v; want %s", got, err, id)
	}
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if s.ContainerID() != ctrID {
		t.Fatal("Start replaced the container")
	}

	start := time.Now()
	if err := s.Replace(ctx, redis.MustParseVersion("7.0")); err != nil {
		t.Fatalf("Replace 6.0 → 7.0: %v", err)
	}
	t.Logf("Replace 6.0 → 7.0 took %s", since(start))
	checkSentinelVersion(t, ctx, s, "7.0")
	if got, err := c.Do(ctx, "SENTINEL", "MYID").Text(); err != nil || got != id {
		t.Fatalf("SENTINEL MYID on 7.0 = %s, %v; the 6.0 sentinel's was %s", got, err, id)
	}
	if err := anon.Ping(ctx).Err(); err == nil || !strings.Contains(err.Error(), "NOAUTH") {
		t.Fatalf("PING the 7.0 sentinel without its password: %v, want NOAUTH", err)
	}
	eventually(t, 10*time.Second, "the 7.0 sentinel monitors the master, CKQUORUM OK", func() (bool, string) {
		addr, err := redis.SentinelMasterAddr(ctx, c, m.MasterName)
		if err != nil {
			return false, err.Error()
		}
		ok, why, err := redis.SentinelCheckQuorum(ctx, c, m.MasterName)
		return addr == master.Addr() && ok, fmt.Sprintf("master %s, CKQUORUM %v %s %v", addr, ok, why, err)
	})
	// Terminate removes the default data dir, configuration included.
	dir := s.DataDir()
	if err := s.Terminate(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("data dir %s still there after Terminate: %v", dir, err)
	}
	if err := s.Replace(ctx, redis.MustParseVersion("7.0")); err == nil || !strings.Contains(err.Error(), "terminated") {
		t.Fatalf("Replace after Terminate: %v", err)
	}
}
