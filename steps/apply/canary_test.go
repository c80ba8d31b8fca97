package apply

import (
	"bytes"
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

	"github.com/understudy/understudy/dsl"
	"github.com/understudy/understudy/internal/redistest"
	"github.com/understudy/understudy/steps"
	"github.com/understudy/understudy/steps/kinds"
	"github.com/understudy/understudy/steps/live"
	"github.com/understudy/understudy/steps/report"
)

// startMonitor starts a sentinel that monitors master (host:port, with
// password) as "mymaster", alone: it names master whatever happens, as
// long as nothing fails over. The binary is the one internal/redistest
// starts sentinels with.
func startMonitor(t *testing.T, master, password string) string {
	t.Helper()
	host, port, err := net.SplitHostPort(master)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(redistest.FreePort(t)))
	_, sport, _ := net.SplitHostPort(addr)
	conf := filepath.Join(dir, "sentinel.conf")
	lines := []string{
		"port " + sport, "bind 127.0.0.1", "protected-mode no", "daemonize no", "dir " + dir,
		"logfile " + filepath.Join(dir, "sentinel.log"),
		fmt.Sprintf("sentinel monitor mymaster %s %s 1", host, port),
		"sentinel auth-pass mymaster " + password,
	}
	if err := os.WriteFile(conf, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	bin, args := os.Getenv("REDISTEST_SENTINEL"), []string{conf}
	if bin == "" {
		if p, err := exec.LookPath("redis-sentinel"); err == nil {
			bin = p
		} else if bin, args = os.Getenv("REDISTEST_SERVER"), []string{conf, "--sentinel"}; bin == "" {
			bin = "redis-server"
		}
	}
	cmd := exec.Command(bin, args...)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start sentinel: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_, _ = cmd.Process.Wait()
	})
	// Ready once it names its master.
	c := (&redistest.Sentinel{Addr: addr}).Client()
	defer c.Close()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.Now().Add(10 * time.Second)
	for {
		cmd := c.Do(context.Background(), "SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster")
		if cmd.Err() == nil {
			return addr
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(filepath.Join(dir, "sentinel.log"))
			t.Fatalf("sentinel %s does not answer: %v\n%s", addr, cmd.Err(), b)
		}
		<-tick.C
	}
}

// The canary of a Sentinel deployment reads its writes back from the data
// node every sentinel names. Sentinels that still disagree after the wait,
// or that name a server that is none of the data nodes, leave the writes
// unread and fail the apply; a sentinel that does not answer while the
// others agree fails it too, once the writes are read back.
func TestSentinelCanaryFinalMaster(t *testing.T) {
	pw := redistest.RandomPassword()
	a := redistest.Start(t, redistest.WithPassword(pw))
	b := redistest.Start(t, redistest.WithPassword(pw))
	outside := redistest.Start(t, redistest.WithPassword(pw))
	dead := net.JoinHostPort("127.0.0.1", strconv.Itoa(redistest.FreePort(t)))
	t.Setenv("CANARY_TEST_PASSWORD", pw)
	defer func(d time.Duration) { sentinelAgreeTimeout = d }(sentinelAgreeTimeout)
	sentinelAgreeTimeout = 500 * time.Millisecond

	for _, tc := range []struct {
		name      string
		sentinels []string // what each sentinel monitors; "" a sentinel that is down
		want      string   // the final master; "" none
		errs      []string // in the report's errors
	}{
		{name: "agree", sentinels: []string{a.Addr, a.Addr}, want: "cache-1"},
		{name: "one silent", sentinels: []string{b.Addr, ""}, want: "cache-2", errs: []string{`not every sentinel named the master "mymaster" (the others name node "cache-2"): sentinel "cache-sentinel-2"`}},
		{name: "disagree", sentinels: []string{a.Addr, b.Addr}, errs: []string{"read back acknowledged writes from the final master: the sentinels disagree on the master \"mymaster\" (a failover under way?): cache-sentinel-1 names " + a.Addr + " (node cache-1), cache-sentinel-2 names " + b.Addr + " (node cache-2)"}},
		{name: "outside", sentinels: []string{outside.Addr, outside.Addr}, errs: []string{"which is none of the data nodes"}},
	} {
		t.Run(strings.ReplaceAll(tc.name, " ", "-"), func(t *testing.T) {
			var addrs []string
			for _, m := range tc.sentinels {
				if m == "" {
					addrs = append(addrs, fmt.Sprintf("%q", dead))
					continue
				}
				addrs = append(addrs, fmt.Sprintf("%q", startMonitor(t, m, pw)))
			}
			src := fmt.Sprintf(`sentinel "cache" {
  master_name = "mymaster"
  data_nodes  = [%q, %q]
  sentinels   = [%s]
  password    = env("CANARY_TEST_PASSWORD")
}

step "assert" "nothing" {
  condition = true
}
`, a.Addr, b.Addr, strings.Join(addrs, ", "))
			rb, diags := dsl.LoadSource("canary.hcl", []byte(src), dsl.LoadOptions{Mode: dsl.ModeLive, Kinds: kinds.Registry})
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			topo := live.New(rb)
			defer topo.Close(context.Background())
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			can, err := startCanary(ctx, rb, topo, Options{CanaryRate: 500}, time.Now())
			if err != nil || can == nil {
				t.Fatalf("start canary: %v (%v)", err, can)
			}
			if !strings.HasPrefix(can.target.via, `Sentinel (master "mymaster" from sentinels 127.0.0.1:`) {
				t.Errorf("canary via %s", can.target.via)
			}
			tick := time.NewTicker(10 * time.Millisecond)
			defer tick.Stop()
			for can.w.Acked() < 20 {
				select {
				case <-ctx.Done():
					t.Fatal("the canary acknowledged nothing")
				case <-tick.C:
				}
			}
			rep := &report.Report{Status: steps.StatusPassed}
			var log bytes.Buffer
			can.finish(ctx, rep, &log)
			t.Logf("status %s, errors %q, log %q", rep.Status, rep.Errors, log.String())
			if tc.want != "" && !strings.Contains(log.String(), fmt.Sprintf("keys removed from %q", tc.want)) {
				t.Errorf("the canary was not read back from %s", tc.want)
			}
			if tc.want != "" && (!rep.Traffic.Verified || rep.Traffic.Lost != 0) {
				t.Errorf("traffic: %+v", rep.Traffic)
			}
			if wantStatus := steps.StatusPassed; len(tc.errs) > 0 {
				wantStatus = steps.StatusFailed
				if rep.Status != wantStatus {
					t.Errorf("status %s, want %s", rep.Status, wantStatus)
				}
			} else if rep.Status != wantStatus || len(rep.Errors) > 0 {
				t.Errorf("status %s (%q), want %s", rep.Status, rep.Errors, wantStatus)
			}
			all := strings.Join(rep.Errors, "\n")
			for _, e := range tc.errs {
				if !strings.Contains(all, e) {
					t.Errorf("errors %q lack %q", rep.Errors, e)
				}
			}
			if strings.Contains(all+log.String(), pw) {
				t.Error("the password appears in the errors or the log")
			}
		})
	}
}
