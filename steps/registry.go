package steps

import (
	"context"
	"sort"

	"github.com/zclconf/go-cty/cty"
)

// Action is what a step kind does in one attempt. Its value is the step's
// output (step.NAME.output); cty.NilVal means none.
type Action func(ctx context.Context, x *Exec) (cty.Value, error)

// actions is the registry of step kinds; it names the same kinds as
// dsl.Kinds.
var actions = map[string]Action{
	"assert":     runAssert,
	"wait":       runWait,
	"command":    runCommand,
	"replicate":  runReplicate,
	"promote":    runPromote,
	"switchover": runSwitchover,
	"repoint":    runRepoint,
	"upgrade":    runUpgrade,
	"verify":     runVerify,
	"exec":       runExec,
}

// KindNames lists the kinds the interpreter runs, sorted.
func KindNames() []string {
	out := make([]string, 0, len(actions))
	for k := range actions {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
