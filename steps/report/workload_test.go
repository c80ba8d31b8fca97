package report

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/understudy/understudy/dsl"
	"github.com/understudy/understudy/steps/kinds"
	"github.com/understudy/understudy/steps/redact"
)

func sampleWorkload(status string, passed bool, code int) *Workload {
	return &Workload{
		Command: `["/usr/bin/python3", "checks/workload.py"]`, Source: "runbooks/examples/python-checks.hcl:58",
		Status: status, Passed: passed, ExitCode: &code, StartMS: 966.9, DurationMS: 6658.3,
		OutputTail: "workload: writing every 10 ms\nworkload: url redis://:pw-workload-secret@127.0.0.1:1\nworkload: stopped by SIGTERM after 6.5 s: 543 writes acknowledged",
	}
}

// Every format shows how the workload went: status, exit, duration, the
// end of its output; the JSON report holds it whole, and a report file
// never holds a secret the workload printed.
func TestWorkloadInReports(t *testing.T) {
	r := sample()
	r.Workload = sampleWorkload(WorkloadStopped, true, 0)
	for format, wants := range map[string][]string{
		"text": {
			`workload: passed: ran until after the last step, stopped with SIGTERM, ran 6.7 s from 1.0 s, exit status 0 (["/usr/bin/python3", "checks/workload.py"])`,
			"    | workload: stopped by SIGTERM after 6.5 s: 543 writes acknowledged\n",
		},
		"markdown": {
			"Workload `[\"/usr/bin/python3\", \"checks/workload.py\"]`: passed: ran until after the last step",
			"<details><summary>workload output (last lines)</summary>",
		},
		"json": {`"workload": {`, `"status": "stopped"`, `"passed": true`, `"exit_code": 0`, `"duration_ms": 6658.3`, `"output_tail": "workload: writing`},
	} {
		var b bytes.Buffer
		if err := r.Write(&b, format); err != nil {
			t.Fatal(err)
		}
		for _, want := range wants {
			if !strings.Contains(b.String(), want) {
				t.Errorf("%s lacks %q:\n%s", format, want, b.String())
			}
		}
	}

	path := filepath.Join(t.TempDir(), "r.json")
	if err := r.WriteFile(path, redact.New("pw-workload-secret")); err != nil {
		t.Fatal(err)
	}
	back, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if back.Workload == nil || back.Workload.Status != WorkloadStopped || strings.Contains(back.Workload.OutputTail, "pw-workload-secret") ||
		!strings.Contains(back.Workload.OutputTail, "redis://:(sensitive)@") {
		t.Errorf("read back: %+v", back.Workload)
	}
}

func TestWorkloadSummary(t *testing.T) {
	failed := sampleWorkload(WorkloadExited, false, 3)
	failed.Error = "the workload exited with status 3 by itself, after 6.7 s"
	killed := sampleWorkload(WorkloadKilled, true, 0)
	killed.ExitCode, killed.Signal = nil, "SIGKILL"
	for _, tc := range []struct {
		w    *Workload
		want string
	}{
		{failed, "FAILED: exited by itself, ran 6.7 s from 1.0 s, exit status 3"},
		{killed, "passed: ran until after the last step, killed: it did not exit within its grace period after SIGTERM, ran 6.7 s from 1.0 s, ended by SIGKILL"},
		{&Workload{Status: WorkloadNotStarted, Error: "x"}, "FAILED: did not start"},
	} {
		if got := tc.w.Summary(); got != tc.want {
			t.Errorf("got  %q\nwant %q", got, tc.want)
		}
	}
}

// The plan shows the workload: its command, its env with secrets as
// (sensitive), its grace period.
func TestPlanWorkload(t *testing.T) {
	t.Setenv("PLAN_TEST_PASSWORD", "plan-test-secret")
	src := `node "old" {
  address  = "a:6379"
  password = env("PLAN_TEST_PASSWORD")
}
endpoint "app" {
  target = node.old
}
rehearsal {
  workload {
    description = "The app."
    command     = ["./app"]
    env = {
      URL  = endpoint.app.url
      MODE = "orders"
    }
  }
}
step "assert" "ok" {
  condition = node.old.role == "master"
}
`
	rb, diags := dsl.LoadSource("w.hcl", []byte(src), dsl.LoadOptions{Mode: dsl.ModeValidate, Kinds: kinds.Registry})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	p := BuildPlan(rb, "w.hcl")
	if w := p.Workload; w == nil || w.Command != `["./app"]` || w.GracePeriod != "5s" || w.Source != "w.hcl:9" || w.Description != "The app." {
		t.Fatalf("workload %+v", p.Workload)
	}
	for _, f := range []func(*bytes.Buffer) error{
		func(b *bytes.Buffer) error { return writePlanText(b, p) },
		func(b *bytes.Buffer) error { return writePlanMarkdown(b, p) },
		func(b *bytes.Buffer) error { return writeJSON(b, p) },
	} {
		var b bytes.Buffer
		if err := f(&b); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(b.String(), "URL = (sensitive)") || !strings.Contains(b.String(), `MODE = \"orders\"`) && !strings.Contains(b.String(), `MODE = "orders"`) || strings.Contains(b.String(), "plan-test-secret") {
			t.Errorf("plan:\n%s", b.String())
		}
	}
	var js map[string]any
	var b bytes.Buffer
	_ = writeJSON(&b, p)
	if err := json.Unmarshal(b.Bytes(), &js); err != nil || js["workload"] == nil {
		t.Errorf("json plan: %v %v", err, js["workload"])
	}
}
