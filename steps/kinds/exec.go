package kinds

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/understudy/understudy/dsl"
	"github.com/understudy/understudy/steps"
	"github.com/understudy/understudy/steps/redis"
	"github.com/zclconf/go-cty/cty"
)

// Exec runs a local program (no shell) from the runbook's directory; its
// standard output is the step's output. The program gets understudy's
// environment plus the step's env map, whose values are evaluated when the
// step runs: env = { REDISCLI_AUTH = node.old.password, REDIS_URL =
// endpoint.app.url } hands it the nodes' and endpoints' addresses and
// credentials (in a rehearsal, the containers' and the proxy's). Secrets it
// prints are redacted from the step's output wherever the run shows it.
type Exec struct{}

var execSpec = &dsl.KindSpec{
	Name:           "exec",
	Doc:            "Runs a local command (no shell); its standard output is the step's output. Fails on a non-zero exit.",
	DefaultTimeout: 5 * time.Minute,
	Args: []dsl.ArgSpec{
		{Name: "command", Type: dsl.ArgLive, LiveType: cty.List(cty.String), Required: true, Doc: `The program and its arguments: ["./switch-dns.sh", "app"].`},
		{Name: "env", Type: dsl.ArgLive, LiveType: dsl.EnvType, Doc: `Environment variables added to understudy's: { REDISCLI_AUTH = node.old.password, REDIS_URL = endpoint.app.url, OLD = node.old.address }.`},
	},
}

func (Exec) Spec() *dsl.KindSpec { return execSpec }

func (Exec) Check(s *dsl.Step, _ *redis.Sim) hcl.Diagnostics {
	return checkNotEmpty(s.Args["command"]) // env names are checked as the runbook loads
}

func (Exec) Describe(s *dsl.Step, _ *redis.Sim) []string {
	out := []string{"runs locally: " + s.Runbook().ArgText(s.Args["command"])}
	if a, ok := s.Args["env"]; ok {
		out = append(out, "with env "+strings.Join(s.Runbook().EnvText(a.Expr), ", "))
	}
	return out
}

func (Exec) Run(ctx context.Context, x *steps.Exec) (cty.Value, error) {
	args, err := x.EvalStrings(ctx, x.Step.Args["command"].Expr)
	if err != nil {
		return cty.NilVal, err
	}
	if len(args) == 0 {
		return cty.NilVal, steps.Permanent(steps.ErrorAt(x.Step.Args["command"].Range, "Empty command", "The command list is empty."))
	}
	var env []string
	if a, ok := x.Step.Args["env"]; ok {
		if env, err = x.EvalEnv(ctx, a.Expr); err != nil {
			return cty.NilVal, err
		}
	}
	if x.DryRun() {
		// What the program does is unknown: a dry run runs none.
		return cty.NilVal, &steps.NotSent{Target: "this machine", What: "the program " + steps.CommandText(toAny(args))}
	}
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Dir = x.Runbook().Dir
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		tail := strings.TrimSpace(stderr.String())
		if len(tail) > 500 {
			tail = "…" + tail[len(tail)-500:]
		}
		return cty.NilVal, fmt.Errorf("%s: %w; stderr: %s", args[0], err, tail)
	}
	return cty.StringVal(strings.TrimRight(stdout.String(), "\n")), nil
}

// Resume refuses: understudy cannot tell what a program it had started did
// before the run stopped, and running it again may not be safe. The
// operator checks by hand.
func (Exec) Resume(_ context.Context, x *steps.Exec) (steps.ResumeDecision, cty.Value, error) {
	return steps.ResumeRefuse, cty.NilVal, fmt.Errorf("step %s runs a local program, and understudy cannot tell what it did before the run stopped", x.Step.Ref())
}

func toAny(args []string) []any {
	out := make([]any, len(args))
	for i, a := range args {
		out[i] = a
	}
	return out
}
