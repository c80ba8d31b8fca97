package e2e

import (
	"encoding/json"
	"strings"
	"testing"
)

// The shipped replica-swap runbook, rehearsed for every supported pair with
// the default data (100 000 keys) and traffic (1 000 writes/s): every step
// passes, no acknowledged write is lost, no error reaches the application,
// the final master holds the seeded data, and the versions changed as the
// runbook says.
func TestReplicaSwap(t *testing.T) {
	for _, pair := range []struct{ from, to, engineTo string }{
		{"6.0", "7.0", "redis"},
		{"7.0", "8.0", "redis"},
		{"7.0", "valkey:8.1", "valkey"},
	} {
		t.Run(pair.from+"->"+pair.to, func(t *testing.T) {
			res := rehearse(t, "runbooks/replica-swap.hcl", "--var", "from="+pair.from, "--var", "to="+pair.to)
			rep := res.report
			if res.code != 0 || rep.Status != "passed" {
				t.Fatalf("exit %d, status %s, errors %v\nstderr:\n%s", res.code, rep.Status, rep.Errors, tail(res.stderr, 60))
			}
			if rep.Mode != "rehearsal" || rep.Runbook != "runbooks/replica-swap.hcl" || rep.DurationMS <= 0 {
				t.Errorf("report header: mode %q runbook %q duration %v", rep.Mode, rep.Runbook, rep.DurationMS)
			}
			wantSteps := []string{"source_is_master", "target_is_empty", "attach", "initial_sync", "acl", "replica_matches", "promote", "old_follows_new", "clients_moved", "same_data"}
			if len(rep.Steps) != len(wantSteps) {
				t.Fatalf("%d steps in the report, want %d", len(rep.Steps), len(wantSteps))
			}
			for i, s := range rep.Steps {
				if s.Name != wantSteps[i] || s.Status != "passed" || s.Attempts < 1 || s.Error != "" {
					t.Errorf("step %d: %+v", i, s)
				}
			}
			if len(rep.Rollback) != 0 {
				t.Errorf("rollback ran: %+v", rep.Rollback)
			}

			// Versions before and after, from the servers themselves.
			fromVer := strings.TrimPrefix(pair.from, "valkey:")
			toVer := strings.TrimPrefix(pair.to, "valkey:")
			old, neu := nodeByName(rep, "old"), nodeByName(rep, "new")
			if old == nil || neu == nil {
				t.Fatalf("nodes: %+v", rep.Nodes)
			}
			if !strings.HasPrefix(old.VersionBefore, fromVer+".") || old.VersionAfter != old.VersionBefore || old.Engine != "redis" || old.RoleAfter != "replica" {
				t.Errorf("old node: %+v", old)
			}
			if !strings.HasPrefix(neu.VersionBefore, toVer+".") || neu.Engine != pair.engineTo || neu.RoleAfter != "master" {
				t.Errorf("new node: %+v", neu)
			}

			// The switchover's own account.
			var sw struct {
				Method string  `json:"method"`
				HeldMS float64 `json:"held_ms"`
			}
			if err := json.Unmarshal(stepByName(rep, "promote").Output, &sw); err != nil {
				t.Fatalf("switchover output: %v", err)
			}
			wantMethod := "pause-write"
			if pair.from == "6.0" {
				wantMethod = "pause-all"
			}
			if sw.Method != wantMethod {
				t.Errorf("switchover method %q, want %q", sw.Method, wantMethod)
			}
			var vf struct {
				Method string `json:"method"`
				KeysA  int64  `json:"keys_a"`
			}
			if err := json.Unmarshal(stepByName(rep, "same_data").Output, &vf); err != nil {
				t.Fatalf("verify output: %v", err)
			}
			// Every database, the big keys included, the probe's keys left out.
			if vf.Method != "scan" || vf.KeysA != 100002 {
				t.Errorf("verify: %+v", vf)
			}

			// Data and traffic.
			if d := rep.Data; d == nil || !d.Equal || d.SeededKeys != 100002 || d.FinalKeys != 100002 || d.FinalMaster != "new" {
				t.Errorf("data: %+v", d)
			}
			tr := rep.Traffic
			if tr == nil {
				t.Fatal("no traffic in the report")
			}
			if tr.Lost != 0 || tr.Failed != 0 || tr.Acked != tr.Attempted || tr.Acked < 5000 {
				t.Errorf("traffic: attempted %d acked %d failed %d lost %d", tr.Attempted, tr.Acked, tr.Failed, tr.Lost)
			}
			if len(tr.Timeline) < 10 {
				t.Errorf("timeline has %d intervals", len(tr.Timeline))
			}
			// One time origin: each step's start in the report is where
			// the probe marked it, and the timeline starts near 0.
			for _, s := range rep.Steps {
				found := false
				for _, m := range tr.Marks {
					if m.Step == s.Name && m.Event == "start" {
						found = true
						if d := m.AtMS - s.StartMS; d < -5 || d > 5 {
							t.Errorf("step %s starts at %.1f ms in the report, its mark at %.1f ms", s.Name, s.StartMS, m.AtMS)
						}
					}
				}
				if !found {
					t.Errorf("no start mark for step %s", s.Name)
				}
			}
			if first := tr.Timeline[0].StartMS; float64(first) > rep.Steps[0].StartMS {
				t.Errorf("the timeline starts at %d ms, after the first step (%.1f ms)", first, rep.Steps[0].StartMS)
			}
			promote := stepByName(rep, "promote")
			if promote.MaxStallMS == nil {
				t.Fatal("the switchover step has no write stall figure")
			}
			t.Logf("%s→%s: switchover %s held the application %.2f ms, longest write stall during it %.1f ms; longest of the run %.1f ms (during %q)",
				pair.from, pair.to, sw.Method, sw.HeldMS, *promote.MaxStallMS, tr.MaxStallMS, tr.MaxStallStep)
			if res.session == "" {
				t.Error("no session in the log")
			} else if got := leftovers(t, res.session); len(got) != 0 {
				t.Errorf("containers left behind: %v", got)
			}
		})
	}
}

// Pairs that cannot replicate are refused with the reason, pointing at the
// runbook line, before any container starts or any node is written.
func TestRefusedPairs(t *testing.T) {
	for _, pair := range []struct{ from, to, reason string }{
		{"8.0", "valkey:8.1", "Valkey reads up to 11"},
		{"8.0", "7.0", "the master writes RDB version 12, the replica reads up to 10"},
		{"valkey:8.1", "7.0", "the master writes RDB version 11, the replica reads up to 10"},
	} {
		t.Run(pair.from+"->"+pair.to, func(t *testing.T) {
			res := rehearse(t, "runbooks/replica-swap.hcl", "--var", "from="+pair.from, "--var", "to="+pair.to)
			if res.code != 2 {
				t.Fatalf("exit %d, want 2\nstdout:\n%s\nstderr:\n%s", res.code, res.stdout, res.stderr)
			}
			for _, want := range []string{"runbooks/replica-swap.hcl:57:18: error: Versions cannot replicate", "on runbooks/replica-swap.hcl line 57", pair.reason} {
				if !strings.Contains(res.stderr, want) {
					t.Errorf("stderr lacks %q:\n%s", want, res.stderr)
				}
			}
			if strings.Contains(res.stderr, "starting") || res.session != "" || res.report != nil {
				t.Errorf("the rehearsal started anyway:\n%s", res.stderr)
			}
		})
	}
}
