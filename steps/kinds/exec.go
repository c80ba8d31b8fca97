package kinds

import (
	"bytes"
	"context"
	"fmt"
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
// standard output is the step's output.
type Exec struct{}

var execSpec = &dsl.KindSpec{
	Name:           "exec",
	Doc:            "Runs a local command (no shell); its standard output is the step's output. Fails on a non-zero exit.",
	DefaultTimeout: 5 * time.Minute,
	Args: []dsl.ArgSpec{
		{Name: "command", Type: dsl.ArgLive, LiveType: cty.List(cty.String), Required: true, Doc: `The program and its arguments: ["./switch-dns.sh", "app"].`},
	},
}

func (Exec) Spec() *dsl.KindSpec { return execSpec }

func (Exec) Check(s *dsl.Step, _ *redis.Sim) hcl.Diagnostics {
	return checkNotEmpty(s.Args["command"])
}

func (Exec) Describe(s *dsl.Step, _ *redis.Sim) []string {
	return []string{"runs locally: " + s.Runbook().ArgText(s.Args["command"])}
}

func (Exec) Run(ctx context.Context, x *steps.Exec) (cty.Value, error) {
	args, err := x.EvalStrings(ctx, x.Step.Args["command"].Expr)
	if err != nil {
		return cty.NilVal, err
	}
	if len(args) == 0 {
		return cty.NilVal, steps.Permanent(steps.ErrorAt(x.Step.Args["command"].Range, "Empty command", "The command list is empty."))
	}
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Dir = x.Runbook().Dir
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
