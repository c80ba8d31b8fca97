package steps

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"

	"github.com/zclconf/go-cty/cty"
)

// runExec runs a local program (no shell) from the runbook's directory; its
// standard output is the step's output.
func runExec(ctx context.Context, x *Exec) (cty.Value, error) {
	args, err := x.EvalStrings(ctx, x.Step.Args["command"].Expr)
	if err != nil {
		return cty.NilVal, err
	}
	if len(args) == 0 {
		return cty.NilVal, Permanent(errorAt(x.Step.Args["command"].Range, "Empty command", "The command list is empty."))
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
