package kinds

import (
	"context"
	"fmt"
	goredis "github.com/redis/go-redis/v9"
	"math/big"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/understudy/understudy/dsl"
	"github.com/understudy/understudy/steps"
	"github.com/understudy/understudy/steps/dataset"
	"github.com/understudy/understudy/steps/redis"
	"github.com/zclconf/go-cty/cty"
)

// Verify compares two nodes' datasets: DEBUG DIGEST where both servers
// allow it, otherwise SCAN by type and value. It fails with the first
// differing keys; its output names the method used.
type Verify struct{}

var verifySpec = &dsl.KindSpec{
	Name:           "verify",
	Doc:            "Compares two nodes' datasets: DEBUG DIGEST where the servers allow it, otherwise SCAN by type and value; reports the method and the first differing keys.",
	DefaultTimeout: 5 * time.Minute,
	Args: []dsl.ArgSpec{
		{Name: "a", Type: dsl.ArgNode, Required: true, Doc: "One node."},
		{Name: "b", Type: dsl.ArgNode, Required: true, Doc: "The other node."},
		{Name: "method", Type: dsl.ArgString, Enum: []string{dsl.VerifyAuto, dsl.VerifyDigest, dsl.VerifyScan}, Doc: `"auto" (default), "digest" or "scan".`},
		{Name: "exclude", Type: dsl.ArgStringList, Doc: `Key patterns to leave out, e.g. ["session:*"]. The rehearsal's write probe is always left out.`},
		{Name: "db", Type: dsl.ArgNumber, Doc: "The database to compare (default: every database that holds keys on either node)."},
	},
}

func (Verify) Spec() *dsl.KindSpec { return verifySpec }

// Check refuses a db that is not a database number and exclude patterns
// that cannot mean what was written.
func (Verify) Check(s *dsl.Step, _ *redis.Sim) hcl.Diagnostics {
	diags := dsl.CheckTwoNodes(s, "a", "b")
	if a, ok := s.Args["db"]; ok && a.Value.IsKnown() && !a.Value.IsNull() {
		if _, err := dbNumber(a.Value); err != nil {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid db", Detail: err.Error(), Subject: a.Range.Ptr()})
		}
	}
	if a, ok := s.Args["exclude"]; ok {
		for _, p := range s.StringListArg("exclude") {
			if err := dataset.CheckPattern(p); err != nil {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Invalid key pattern",
					Detail:   fmt.Sprintf("The exclude pattern %q is not a usable Redis glob pattern: %s.", p, err),
					Subject:  a.Range.Ptr(),
				})
			}
		}
	}
	return diags
}

// dbNumber reads a database number: a whole number from 0.
func dbNumber(v cty.Value) (int, error) {
	bf := v.AsBigFloat()
	n, acc := bf.Int64()
	if acc != big.Exact || n < 0 || n > 1<<20 {
		return 0, fmt.Errorf("db must be a database number, a whole number from 0 (default: every database), not %s", bf.Text('f', -1))
	}
	return int(n), nil
}

func (Verify) Describe(s *dsl.Step, sim *redis.Sim) []string {
	out := []string{fmt.Sprintf("compares the datasets of %s and %s (method %s: DEBUG DIGEST where allowed, else SCAN by type and value)",
		nodeText(s, "a", sim), nodeText(s, "b", sim), s.StringArg("method", dsl.VerifyAuto))}
	if ex := s.StringListArg("exclude"); len(ex) > 0 {
		out = append(out, "leaves out keys matching "+strings.Join(ex, ", "))
	}
	return out
}

func (Verify) Run(ctx context.Context, x *steps.Exec) (cty.Value, error) {
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
		Exclude: append(x.Step.StringListArg("exclude"), x.ExcludeKeys()...),
	}
	if arg, ok := x.Step.Args["db"]; ok && arg.Value.IsKnown() && !arg.Value.IsNull() {
		n, err := dbNumber(arg.Value)
		if err != nil {
			return cty.NilVal, steps.Permanent(steps.ErrorAt(arg.Range, "Invalid db", "%s", err))
		}
		opts.DBs = []int{n}
	}
	shown := 10
	opts.MaxDiffs = recheckMax
	res, err := dataset.Compare(ctx, ac, bc, opts)
	if err != nil {
		return cty.NilVal, fmt.Errorf("compare %q and %q: %w", a.Name(), b.Name(), err)
	}
	rechecked := 0
	if !res.Equal {
		if rechecked, err = recheck(ctx, x, ac, bc, opts, &res); err != nil {
			return cty.NilVal, fmt.Errorf("compare %q and %q again: %w", a.Name(), b.Name(), err)
		}
	}
	x.Log("%s vs %s by %s: %d and %d keys in dbs %v, equal %v (%.0f ms, TTLs equal within %d ms, %d key(s) compared again after the replica caught up)", a.Name(), b.Name(), res.Method, res.KeysA, res.KeysB, res.DBs, res.Equal, res.DurationMS, res.TTLToleranceMS, rechecked)
	for _, n := range res.Notes {
		x.Log("%s", n)
	}
	if !res.Equal {
		var diffs []string
		for _, d := range res.Diffs[:min(shown, len(res.Diffs))] {
			diffs = append(diffs, d.String())
		}
		return cty.NilVal, steps.ErrorAt(x.Step.DeclRange, "Datasets differ",
			"Nodes %q (%d keys) and %q (%d keys) differ by %s: %d difference(s) in keys, function libraries or ACL users; first differences: %s.", a.Name(), res.KeysA, b.Name(), res.KeysB, res.Method, res.DiffCount, strings.Join(diffs, "; "))
	}
	return cty.ObjectVal(map[string]cty.Value{
		"method":    cty.StringVal(res.Method),
		"equal":     cty.BoolVal(res.Equal),
		"keys_a":    cty.NumberIntVal(res.KeysA),
		"keys_b":    cty.NumberIntVal(res.KeysB),
		"rechecked": cty.NumberIntVal(int64(rechecked)),
	}), nil
}

// recheckMax bounds the differing keys a comparison lists for recheck.
const recheckMax = 1000

// recheck looks again at the keys that differed, when one node replicates
// from the other: under live writes, a key written on the master a moment
// before it was read on the replica differs only until the replica applies
// it. It waits until the replica reaches the master's offset (read after
// the comparison), then compares those keys again, up to three times; the
// keys that still differ differ. Nodes that do not replicate from one
// another are not compared again. It returns how many keys it compared
// again and updates res.
func recheck(ctx context.Context, x *steps.Exec, ac, bc *goredis.Client, opts dataset.CompareOptions, res *dataset.Result) (int, error) {
	master, replica := ac, bc
	ok, err := redis.Follows(ctx, bc, ac)
	if err == nil && !ok {
		master, replica = bc, ac
		ok, err = redis.Follows(ctx, ac, bc)
	}
	if err != nil || !ok {
		return 0, err
	}
	n := 0
	for round := 0; round < 3 && !res.Equal; round++ {
		if err := redis.CatchUp(ctx, replica, master, 5*time.Second); err != nil {
			x.Log("not compared again: %v", err)
			return n, nil
		}
		var again dataset.Result
		if keys, all := res.Keys(); !all {
			// More differences than listed, or a function library or an
			// ACL user: compare everything again.
			again, err = dataset.Compare(ctx, ac, bc, opts)
			n += int(res.KeysA)
		} else {
			again, err = dataset.CompareKeys(ctx, ac, bc, keys, opts)
			again.Method, again.KeysA, again.KeysB, again.DBs, again.Notes = res.Method, res.KeysA, res.KeysB, res.DBs, res.Notes
			n += len(keys)
		}
		if err != nil {
			return n, err
		}
		again.DurationMS += res.DurationMS
		*res = again
	}
	return n, nil
}
