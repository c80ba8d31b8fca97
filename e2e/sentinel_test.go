package e2e

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/understudy/understudy/steps/report"
)

// The shipped Sentinel runbook, rehearsed on a master, two replicas and
// three sentinels of the old version, with the write probe connected
// through Sentinel (go-redis's failover client, default retries): every
// step passes, no acknowledged write is lost, none fails, the longest
// stall stays under a second, the final master holds the seeded data, and
// every data node and sentinel runs the new version at the end.
//
// Valkey 9's SENTINEL FAILOVER ... COORDINATED is rehearsed too: it loses
// nothing, but its clients wait for the sentinels' next INFO of the
// promoted replica (up to 2 s measured) and may see READONLY after their
// retries, so only "lost 0" is asserted there and its figures are logged;
// the runbook's default (the pause sequence) meets every target on Valkey
// 9 as on Redis.
func TestSentinelRolling(t *testing.T) {
	for _, pair := range []struct {
		from, to, failover string
		// strict asserts failed 0 and a stall under 1 s, besides lost 0.
		strict bool
	}{
		{"6.0", "7.0", "auto", true},
		{"7.0", "8.0", "auto", true},
		{"valkey:8.1", "valkey:9.1", "auto", true},
		{"valkey:8.1", "valkey:9.1", "coordinated", false},
	} {
		t.Run(pair.from+"->"+pair.to+"/"+pair.failover, func(t *testing.T) {
			res := rehearse(t, "runbooks/sentinel-rolling.hcl", "--var", "from="+pair.from, "--var", "to="+pair.to, "--var", "failover="+pair.failover)
			rep := res.report
			if res.code != 0 || rep.Status != "passed" {
				t.Fatalf("exit %d, status %s, errors %v\nstderr:\n%s", res.code, rep.Status, rep.Errors, tail(res.stderr, 80))
			}
			tr := rep.Traffic
			if tr == nil || tr.Acked == 0 || tr.Lost != 0 || !tr.Verified || (pair.strict && tr.Failed != 0) {
				t.Fatalf("write probe through Sentinel: %+v", tr)
			}
			if pair.strict && tr.MaxStallMS > 1000 {
				t.Errorf("longest write stall %.1f ms (at %s), the target is at most 1 s", tr.MaxStallMS, tr.MaxStallStep)
			}
			sw := stepByName(rep, "failover")
			var out struct {
				From, To, Method string
				PauseMS          float64 `json:"pause_ms"`
			}
			if err := json.Unmarshal(sw.Output, &out); err != nil {
				t.Fatalf("switchover output %s: %v", sw.Output, err)
			}
			stall := -1.0
			if sw.MaxStallMS != nil {
				stall = *sw.MaxStallMS
			}
			t.Logf("%s → %s: %d acked, 0 lost, %d failed %v; longest stall %.1f ms (%s); switchover %s → %s by %s, old master paused %.0f ms, writers' stall in it %.1f ms",
				pair.from, pair.to, tr.Acked, tr.Failed, tr.ErrorsByKind, tr.MaxStallMS, tr.MaxStallStep, out.From, out.To, out.Method, out.PauseMS, stall)
			wantMethod := map[string]string{"6.0": "pause-all", "7.0": "pause-write", "valkey:8.1": "pause-write"}[pair.from]
			if pair.failover == "coordinated" {
				wantMethod = "coordinated"
			}
			if out.Method != wantMethod {
				t.Errorf("switchover method %q, want %q", out.Method, wantMethod)
			}
			if rep.Data == nil || !rep.Data.Equal {
				t.Errorf("data check: %+v", rep.Data)
			}

			// Every step of every group ran: 3 sentinels, 2 replicas, the
			// old master, 3 data nodes checked at the end.
			want := map[string]int{"sentinel": 3, "sentinel_rejoined": 3, "replica": 2, "replica_synced": 2, "replica_seen": 2, "old_master": 2, "on_new_version": 3}
			got := map[string]int{}
			for _, s := range rep.Steps {
				if s.Status != "passed" && s.Status != "skipped" {
					t.Errorf("step %s: %s %s", s.Name, s.Status, s.Error)
				}
				if base, _, ok := strings.Cut(s.Name, "["); ok {
					got[base]++
				}
			}
			for name, n := range want {
				if got[name] != n {
					t.Errorf("%d iteration(s) of %s, want %d (steps: %v)", got[name], name, n, got)
				}
			}

			// Versions from the servers themselves, sentinels included.
			toVer := strings.TrimPrefix(pair.to, "valkey:") + "."
			sentinels := 0
			for _, n := range rep.Nodes {
				after := n.EngineAfter
				if after == "" {
					after = n.Engine
				}
				if !strings.HasPrefix(n.VersionAfter, toVer) || after != engineOf(pair.to) {
					t.Errorf("node %s after the upgrade: %+v", n.Name, n)
				}
				if strings.Contains(n.Name, "sentinel") {
					sentinels++
				}
			}
			if len(rep.Nodes) != 6 || sentinels != 3 {
				t.Errorf("report nodes: %+v", rep.Nodes)
			}
			if l := leftovers(t, res.session); len(l) > 0 {
				t.Errorf("containers left: %v", l)
			}
		})
	}
}

// The upgrade guide's order, a plain SENTINEL FAILOVER, rehearsed the same
// way, loses acknowledged writes (the old master acknowledges them until
// Sentinel reconfigures it), and its rehearsal fails saying so. The chart's
// pause-failover-unpause order is in the bench only: its loss depends on a
// race the rehearsal does not hit every time (see README, "Sentinel").
func TestSentinelPlainFailoverLosesWrites(t *testing.T) {
	runbook := "runbooks/examples/unsafe-sentinel-failover.hcl"
	res := rehearse(t, runbook, "--var", "from=7.0", "--var", "to=8.0")
	rep := res.report
	if res.code == 0 || rep.Status != "failed" || rep.Traffic == nil || rep.Traffic.Lost == 0 {
		t.Fatalf("exit %d, status %s, traffic %+v: the plain failover should lose writes and fail", res.code, rep.Status, rep.Traffic)
	}
	if !lostSaid(rep) {
		t.Errorf("the report does not say writes were lost: %v", rep.Errors)
	}
	t.Logf("%s: %d of %d acknowledged writes lost; errors: %v", runbook, rep.Traffic.Lost, rep.Traffic.Acked, rep.Errors)
}

func lostSaid(rep *report.Report) bool {
	for _, e := range rep.Errors {
		if strings.Contains(e, "acknowledged write(s) lost") {
			return true
		}
	}
	return false
}

func engineOf(v string) string {
	if strings.HasPrefix(v, "valkey:") {
		return "valkey"
	}
	return "redis"
}
