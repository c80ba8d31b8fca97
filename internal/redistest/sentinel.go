package redistest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// The Sentinel settings of a SentinelSet. They are the ones a production
// deployment typically uses rather than test-speed values, so that what a
// test measures (a switchover's stall, the sentinels' reaction) is what a
// real deployment would see: quorum 2 of 3 sentinels; a master is
// subjectively down after 5 s without a valid reply (Redis's default is
// 30 s; 5 s is common in Helm charts and still far above any pause a
// switchover holds); a failover may take 60 s (default 180 s) before it
// is aborted or its replica reconfiguration forced; replicas are re-pointed
// one at a time (parallel-syncs 1, the default).
const (
	SentinelMasterName      = "mymaster"
	SentinelQuorum          = 2
	SentinelDownAfter       = 5 * time.Second
	SentinelFailoverTimeout = 60 * time.Second
	SentinelParallelSyncs   = 1
)

// Sentinel is one running sentinel process.
type Sentinel struct {
	Addr     string
	Host     string
	Port     int
	Dir      string
	ConfFile string
	cmd      *exec.Cmd
}

// Client returns a new go-redis client for the sentinel (no password); the
// caller closes it.
func (s *Sentinel) Client() *redis.Client {
	return redis.NewClient(&redis.Options{Addr: s.Addr})
}

// Stop kills the sentinel; it is safe to call twice.
func (s *Sentinel) Stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Kill()
		_, _ = s.cmd.Process.Wait()
		s.cmd = nil
	}
}

// Log returns the sentinel's log file.
func (s *Sentinel) Log() string {
	b, _ := os.ReadFile(filepath.Join(s.Dir, "sentinel.log"))
	return string(b)
}

// SentinelSet is a master, its replicas and the sentinels monitoring it
// under SentinelMasterName, all on 127.0.0.1. The data nodes share one
// password (requirepass and masterauth), which the sentinels use
// (sentinel auth-pass); the sentinels have none.
type SentinelSet struct {
	Name      string
	Password  string
	Master    *Server
	Replicas  []*Server
	Sentinels []*Sentinel
}

// Servers returns the master and the replicas as they were started (roles
// change with failovers).
func (s *SentinelSet) Servers() []*Server {
	return append([]*Server{s.Master}, s.Replicas...)
}

// SentinelAddrs returns the sentinels' addresses.
func (s *SentinelSet) SentinelAddrs() []string {
	out := make([]string, len(s.Sentinels))
	for i, sn := range s.Sentinels {
		out[i] = sn.Addr
	}
	return out
}

// ServerByAddr returns the data node listening on addr.
func (s *SentinelSet) ServerByAddr(t testing.TB, addr string) *Server {
	t.Helper()
	for _, srv := range s.Servers() {
		if srv.Addr == addr {
			return srv
		}
	}
	t.Fatalf("redistest: no server of the set listens on %s", addr)
	return nil
}

// StartSentinelSet starts a master, two replicas of it (in sync) and three
// sentinels monitoring it with the settings above, each sentinel with its
// own writable configuration file in t.TempDir(), and waits until every
// sentinel sees the master, both replicas (link up) and the two other
// sentinels. Everything is stopped when t ends. opts apply to the data
// nodes (WithPassword is ignored: the set picks one password for all).
//
// The sentinel binary is REDISTEST_SENTINEL when set, else redis-sentinel
// from PATH, else the server binary (REDISTEST_SERVER or redis-server)
// started with --sentinel, which Debian's redis-server supports.
func StartSentinelSet(t testing.TB, opts ...Option) *SentinelSet {
	t.Helper()
	pw := RandomPassword()
	nodeOpts := append(append([]Option{}, opts...), WithPassword(pw))
	set := &SentinelSet{Name: SentinelMasterName, Password: pw}
	set.Master = Start(t, nodeOpts...)
	for i := 0; i < 2; i++ {
		set.Replicas = append(set.Replicas, Start(t, nodeOpts...))
	}
	// Both replicas first, then wait: they share the master's
	// repl-diskless-sync-delay (5 s) instead of waiting for it in turn.
	for _, r := range set.Replicas {
		c := r.Client()
		err := c.Do(context.Background(), "REPLICAOF", set.Master.Host, strconv.Itoa(set.Master.Port)).Err()
		c.Close()
		if err != nil {
			t.Fatalf("redistest: REPLICAOF %s on %s: %v", set.Master.Addr, r.Addr, err)
		}
	}
	for _, r := range set.Replicas {
		WaitInSync(t, r, set.Master)
	}
	for i := 0; i < 3; i++ {
		set.Sentinels = append(set.Sentinels, startSentinel(t, set))
	}
	set.WaitSentinelsReady(t, set.Master.Addr, 30*time.Second)
	return set
}

// startSentinel writes a sentinel configuration monitoring set.Master and
// starts a sentinel with it.
func startSentinel(t testing.TB, set *SentinelSet) *Sentinel {
	t.Helper()
	port := FreePort(t)
	dir := t.TempDir()
	conf := filepath.Join(dir, "sentinel.conf")
	name := set.Name
	lines := []string{
		"port " + strconv.Itoa(port),
		"bind 127.0.0.1",
		"protected-mode no",
		"daemonize no",
		"dir " + dir,
		"logfile " + filepath.Join(dir, "sentinel.log"),
		fmt.Sprintf("sentinel monitor %s %s %d %d", name, set.Master.Host, set.Master.Port, SentinelQuorum),
		fmt.Sprintf("sentinel auth-pass %s %s", name, set.Password),
		fmt.Sprintf("sentinel down-after-milliseconds %s %d", name, SentinelDownAfter.Milliseconds()),
		fmt.Sprintf("sentinel failover-timeout %s %d", name, SentinelFailoverTimeout.Milliseconds()),
		fmt.Sprintf("sentinel parallel-syncs %s %d", name, SentinelParallelSyncs),
	}
	if err := os.WriteFile(conf, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatalf("redistest: write %s: %v", conf, err)
	}
	path, args := sentinelCommand(t, conf)
	cmd := exec.Command(path, args...)
	if err := cmd.Start(); err != nil {
		t.Fatalf("redistest: start sentinel %s: %v", path, err)
	}
	s := &Sentinel{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), Host: "127.0.0.1", Port: port, Dir: dir, ConfFile: conf, cmd: cmd}
	t.Cleanup(s.Stop)
	c := s.Client()
	defer c.Close()
	waitPing(t, "sentinel", s.Addr, c, s.Log)
	return s
}

// sentinelCommand is the binary and arguments that start a sentinel with
// the configuration file conf.
func sentinelCommand(t testing.TB, conf string) (string, []string) {
	t.Helper()
	if bin := os.Getenv("REDISTEST_SENTINEL"); bin != "" {
		path, err := exec.LookPath(bin)
		if err != nil {
			t.Fatalf("redistest: REDISTEST_SENTINEL=%s: %v", bin, err)
		}
		return path, []string{conf}
	}
	if path, err := exec.LookPath("redis-sentinel"); err == nil {
		return path, []string{conf}
	}
	return serverPath(t), []string{conf, "--sentinel"}
}

// WaitSentinelsReady waits until every sentinel of the set reports
// masterAddr as the master, knows every other data node of the set as a
// replica with its link up and not down, and knows the other sentinels.
func (s *SentinelSet) WaitSentinelsReady(t testing.TB, masterAddr string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var why string
	for {
		why = s.notReady(masterAddr)
		if why == "" {
			return
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("redistest: sentinels not ready after %s: %s", timeout, why)
}

// notReady says what is missing for WaitSentinelsReady, "" when nothing.
func (s *SentinelSet) notReady(masterAddr string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, sn := range s.Sentinels {
		c := redis.NewSentinelClient(&redis.Options{Addr: sn.Addr})
		why := func() string {
			defer c.Close()
			addr, err := c.GetMasterAddrByName(ctx, s.Name).Result()
			if err != nil {
				return fmt.Sprintf("sentinel %s: GET-MASTER-ADDR-BY-NAME: %v", sn.Addr, err)
			}
			if got := net.JoinHostPort(addr[0], addr[1]); got != masterAddr {
				return fmt.Sprintf("sentinel %s: master is %s, want %s", sn.Addr, got, masterAddr)
			}
			reps, err := c.Replicas(ctx, s.Name).Result()
			if err != nil {
				return fmt.Sprintf("sentinel %s: SENTINEL REPLICAS: %v", sn.Addr, err)
			}
			for _, srv := range s.Servers() {
				if srv.Addr == masterAddr {
					continue
				}
				found := false
				for _, r := range reps {
					if net.JoinHostPort(r["ip"], r["port"]) != srv.Addr {
						continue
					}
					found = true
					if strings.Contains(r["flags"], "down") || strings.Contains(r["flags"], "disconnected") || r["master-link-status"] != "ok" || net.JoinHostPort(r["master-host"], r["master-port"]) != masterAddr {
						return fmt.Sprintf("sentinel %s: replica %s flags %s link %s master %s:%s", sn.Addr, srv.Addr, r["flags"], r["master-link-status"], r["master-host"], r["master-port"])
					}
				}
				if !found {
					return fmt.Sprintf("sentinel %s does not know replica %s yet", sn.Addr, srv.Addr)
				}
			}
			peers, err := c.Sentinels(ctx, s.Name).Result()
			if err != nil {
				return fmt.Sprintf("sentinel %s: SENTINEL SENTINELS: %v", sn.Addr, err)
			}
			ok := 0
			for _, p := range peers {
				if !strings.Contains(p["flags"], "down") && !strings.Contains(p["flags"], "disconnected") {
					ok++
				}
			}
			if ok != len(s.Sentinels)-1 {
				return fmt.Sprintf("sentinel %s knows %d of the %d other sentinels", sn.Addr, ok, len(s.Sentinels)-1)
			}
			return ""
		}()
		if why != "" {
			return why
		}
	}
	return ""
}

// Deployment is a runbook's sentinel block for the set: Sentinel
// deployment "cache" with the data nodes in the order of Servers() (so
// cache-1 is the master the set starts with) and the sentinels, the data
// nodes' password read with env(passwordEnv). The sentinels have no
// password.
func (s *SentinelSet) Deployment(passwordEnv string) string {
	quoted := func(addrs []string) string {
		var q []string
		for _, a := range addrs {
			q = append(q, strconv.Quote(a))
		}
		return strings.Join(q, ", ")
	}
	var data []string
	for _, srv := range s.Servers() {
		data = append(data, srv.Addr)
	}
	return fmt.Sprintf("sentinel \"cache\" {\n  master_name = %q\n  data_nodes  = [%s]\n  sentinels   = [%s]\n  password    = env(%q)\n}\n",
		s.Name, quoted(data), quoted(s.SentinelAddrs()), passwordEnv)
}
