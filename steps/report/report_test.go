package report

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/understudy/understudy/steps/traffic"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func sample() *Report {
	return &Report{
		Runbook: "runbooks/replica-swap.hcl", Mode: "rehearsal", Status: "rolled_back", DurationMS: 19432.5,
		Variables: map[string]string{"from": "7.0", "to": "8.0", "secret": "(sensitive)"},
		Steps: []Step{
			{Name: "attach", Kind: "replicate", Status: "passed", Attempts: 1, DurationMS: 8.8, Source: "runbooks/replica-swap.hcl:56"},
			{Name: "promote", Kind: "switchover", Status: "passed", Attempts: 1, DurationMS: 11.6, StartMS: 5667.1, MaxStallMS: ptr(4.2),
				Output: json.RawMessage(`{"held_ms":1.46,"method":"pause-write"}`), Source: "runbooks/replica-swap.hcl:78"},
			{Name: "clients_moved", Kind: "assert", Status: "failed", Attempts: 1, DurationMS: 0.6,
				Error: "runbooks/replica-swap.hcl:99:19: Assertion failed; old node still has 3 clients", Source: "runbooks/replica-swap.hcl:97"},
			{Name: "same_data", Kind: "verify", Status: "skipped", Source: "runbooks/replica-swap.hcl:103"},
		},
		Rollback: []Step{{Name: "back", Kind: "switchover", Status: "passed", Attempts: 1, DurationMS: 4.3, Source: "runbooks/replica-swap.hcl:114"}},
		Nodes: []Node{
			{Name: "new", Engine: "redis", VersionBefore: "8.0.2", VersionAfter: "8.0.2", RoleAfter: "replica"},
			{Name: "old", Engine: "redis", VersionBefore: "7.0.15", VersionAfter: "7.0.15", RoleAfter: "master"},
		},
		Data: &Data{SeededKeys: 100000, FinalMaster: "old", FinalKeys: 100000, Equal: true, Method: "fingerprint"},
		Traffic: &traffic.Report{
			Attempted: 9782, Acked: 9780, Failed: 2, MaxStallMS: 35, MaxStallStep: "initial_sync",
			ErrorsByKind: map[string]int64{"READONLY": 2},
			Timeline:     []traffic.Interval{{StartMS: 0, Ops: 100, P50MS: 0.2, P99MS: 0.5, MaxMS: 0.7, Marks: []string{"start attach"}}},
		},
		Errors: []string{"runbooks/replica-swap.hcl:99:19: Assertion failed; old node still has 3 clients"},
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./steps/report -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs:\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

func TestSummaryGolden(t *testing.T) {
	var b bytes.Buffer
	if err := sample().Write(&b, "text"); err != nil {
		t.Fatal(err)
	}
	golden(t, "summary.golden", b.Bytes())
}

func TestJSONGolden(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.json")
	if err := sample().WriteFile(path, nil); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	golden(t, "report.golden.json", b)
	back, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if back.Status != "rolled_back" || back.Traffic.Acked != 9780 || len(back.Steps) != 4 {
		t.Errorf("read back: %+v", back)
	}
}

func ptr(f float64) *float64 { return &f }
