package kinds_test

import (
	"strings"
	"testing"
	"time"

	"github.com/understudy/understudy/internal/redistest"
	"github.com/understudy/understudy/internal/runtest"
	"github.com/understudy/understudy/steps"
	"github.com/understudy/understudy/steps/redact"
	"github.com/understudy/understudy/steps/report"
)

// An exec step's env hands the program the node's address and credentials,
// read when the step runs; the plan shows the secret ones as (sensitive),
// and a program that prints the password has it redacted from the step's
// output in the report.
func TestExecEnv(t *testing.T) {
	s := redistest.Start(t)
	rb := runtest.Load(t, runtest.OneNode+`
step "exec" "env" {
  command = ["sh", "-c", "echo \"addr=$ADDR user=[$USER_NAME] plain=$PLAIN\"; echo \"pw=$AUTH\""]
  env = {
    ADDR      = node.a.address
    AUTH      = node.a.password
    USER_NAME = node.a.username
    PLAIN     = "x y"
  }
}
step "assert" "seen" {
  condition = endswith(step.env.output, "pw=${node.a.password}")
}
step "exec" "no_env" {
  command = ["sh", "-c", "echo \"[$ADDR]\""]
}
`, runtest.NodeVars(s)...)

	p := report.BuildPlan(rb, "env.hcl")
	sends := strings.Join(p.Steps[0].Sends, "\n")
	for _, want := range []string{`ADDR = "` + s.Addr + `"`, "AUTH = (sensitive)", "USER_NAME = (sensitive)", `PLAIN = "x y"`} {
		if !strings.Contains(sends, want) {
			t.Errorf("plan lacks %q:\n%s", want, sends)
		}
	}
	if strings.Contains(sends, s.Password) {
		t.Error("the plan shows the password")
	}

	secrets := redact.New(rb.Secrets()...)
	rep := &report.Report{}
	res := runtest.RunLive(t, rb, report.NewRecorder(rep, rb, time.Now(), secrets))
	for _, r := range res.Steps {
		if r.Status != steps.StatusPassed {
			t.Fatalf("step %s: %s %v", r.Step.Name, r.Status, r.Diag)
		}
	}
	out := res.Steps[0].Output.AsString()
	if want := "addr=" + s.Addr + " user=[] plain=x y\npw=" + s.Password; out != want {
		t.Errorf("output %q, want %q", redactFor(out, s.Password), redactFor(want, s.Password))
	}
	if got := res.Steps[2].Output.AsString(); got != "[]" {
		t.Errorf("a step without env got ADDR: %q", got)
	}
	recorded := string(rep.Steps[0].Output)
	if strings.Contains(recorded, s.Password) || !strings.Contains(recorded, "pw=(sensitive)") {
		t.Errorf("recorded output %s", redactFor(recorded, s.Password))
	}
}

// A live endpoint is repointed by a command: no program can dial it, and
// reading its address fails the step at the expression, saying why.
func TestExecEnvLiveEndpointHasNoAddress(t *testing.T) {
	s := redistest.Start(t)
	rb := runtest.Load(t, runtest.OneNode+`
endpoint "app" {
  target = node.a
  switch = ["true"]
}
step "exec" "url" {
  command = ["true"]
  env     = { URL = endpoint.app.url }
}
`, runtest.NodeVars(s)...)
	res := runtest.RunLive(t, rb)
	d := res.Steps[0].Diag
	if d == nil || !strings.Contains(d.Summary, "Endpoint has no address") || d.Subject == nil || d.Subject.Start.Line != runtest.LineOf(rb, "env     = { URL = endpoint.app.url }") {
		t.Fatalf("diagnostic %+v", d)
	}
}

func redactFor(s, secret string) string { return strings.ReplaceAll(s, secret, "(sensitive)") }
