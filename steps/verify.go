package steps

import (
	"context"
	"fmt"
	"strings"

	"github.com/understudy/understudy/dsl"
	"github.com/understudy/understudy/steps/dataset"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/gocty"
)

// runVerify compares two nodes' datasets: DEBUG DIGEST where both servers
// allow it, otherwise SCAN by type and value. It fails with the first
// differing keys; its output names the method used.
func runVerify(ctx context.Context, x *Exec) (cty.Value, error) {
	a, ac, err := x.NodeArg("a")
	if err != nil {
		return cty.NilVal, err
	}
	b, bc, err := x.NodeArg("b")
	if err != nil {
		return cty.NilVal, err
	}
	opts := dataset.CompareOptions{
		Method:  dataset.Method(x.Step.StringArg("method", dsl.VerifyAuto)),
		Exclude: append(x.Step.StringListArg("exclude"), x.in.opts.ExcludeKeys...),
	}
	if arg, ok := x.Step.Args["db"]; ok && arg.Value.IsKnown() && !arg.Value.IsNull() {
		if err := gocty.FromCtyValue(arg.Value, &opts.DB); err != nil {
			return cty.NilVal, Permanent(errorAt(arg.Range, "Invalid db", "db must be a whole number: %s.", err))
		}
	}
	res, err := dataset.Compare(ctx, ac, bc, opts)
	if err != nil {
		return cty.NilVal, fmt.Errorf("compare %q and %q: %w", a, b, err)
	}
	x.Log("%s vs %s by %s: %d and %d keys, equal %v (%.0f ms)", a, b, res.Method, res.KeysA, res.KeysB, res.Equal, res.DurationMS)
	if !res.Equal {
		var diffs []string
		for _, d := range res.Diffs {
			diffs = append(diffs, fmt.Sprintf("%q %s", d.Key, d.Reason))
		}
		return cty.NilVal, errorAt(x.Step.DeclRange, "Datasets differ",
			"Nodes %q (%d keys) and %q (%d keys) differ by %s; first differences: %s.", a, res.KeysA, b, res.KeysB, res.Method, strings.Join(diffs, "; "))
	}
	return cty.ObjectVal(map[string]cty.Value{
		"method": cty.StringVal(res.Method),
		"equal":  cty.BoolVal(res.Equal),
		"keys_a": cty.NumberIntVal(res.KeysA),
		"keys_b": cty.NumberIntVal(res.KeysB),
	}), nil
}
