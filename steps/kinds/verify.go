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

// Verify compares two nodes' datasets key by key in every database (type,
// value, TTL, hash field TTLs, stream groups and pending entries), their
// function libraries and ACL users, reading big keys in chunks so that no
// server is blocked for more than a few milliseconds. Keys that differ while
// writes are in flight are compared again once the replica has caught up,
// and, if they still differ (a hot key), once more with the master's writes
// paused for at most 50 ms. It fails with the first differences, named.
// method = "digest" uses DEBUG DIGEST instead: it blocks the server for the
// whole digest and sees neither TTL values, stream groups, functions nor
// ACL users.
type Verify struct{}

var verifySpec = &dsl.KindSpec{
	Name: "verify",
	Doc: "Compares two nodes key by key in every database (type, value, TTL, hash field TTLs, stream groups and pending entries), " +
		"their function libraries and ACL users, in chunks that never block a server for long; names the first differences.",
	DefaultTimeout: 5 * time.Minute,
	Args: []dsl.ArgSpec{
		{Name: "a", Type: dsl.ArgNode, Required: true, Doc: "One node."},
		{Name: "b", Type: dsl.ArgNode, Required: true, Doc: "The other node."},
		{Name: "method", Type: dsl.ArgString, Enum: []string{dsl.VerifyAuto, dsl.VerifyDigest, dsl.VerifyScan}, Doc: `"auto" (default) or "scan": the full comparison; "digest": DEBUG DIGEST, which blocks the server and misses TTL values, stream groups, functions and ACL users.`},
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
	what := "key by key in every database: type, value, TTL, hash field TTLs, stream groups and pending entries; function libraries and ACL users; big keys in chunks"
	if s.StringArg("method", dsl.VerifyAuto) == dsl.VerifyDigest {
		what = "with DEBUG DIGEST, which blocks each server while it hashes and sees neither TTL values, stream groups, functions nor ACL users"
	}
	if db := s.Args["db"]; db != nil {
		what = "in db " + s.Runbook().ArgText(db) + ", " + strings.TrimPrefix(what, "key by key in every database: ")
	}
	out := []string{fmt.Sprintf("compares %s and %s %s", nodeText(s, "a", sim), nodeText(s, "b", sim), what)}
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
	res, err := x.Comparer().Compare(ctx, ac, bc, opts)
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
			again, err = x.Comparer().Compare(ctx, ac, bc, opts)
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
	if keys, all := res.Keys(); !res.Equal && all && len(keys) <= settleMaxKeys {
		m, err := settle(ctx, x, ac, bc, master, replica, keys, opts, res)
		return n + m, err
	}
	return n, nil
}

// Bounds of settle: the keys it compares and the write pause it may hold.
const (
	settleMaxKeys = 100
	settlePause   = 50 * time.Millisecond
)

// settle compares keys that kept differing under live writes (a counter
// incremented every few milliseconds never reads the same on a master and
// its replica) once more, with the master's writes paused: CLIENT PAUSE
// WRITE (6.2+), wait until the replica has the master's offset, compare,
// CLIENT UNPAUSE. The pause is set to expire by itself after settlePause,
// so a slow comparison cannot hold the application longer; a comparison
// that outlasts it is not trusted. Masters before 6.2 (no WRITE pause) are
// not paused. It returns how many keys it compared and updates res.
func settle(ctx context.Context, x *steps.Exec, ac, bc, master, replica *goredis.Client, keys []dataset.KeyRef, opts dataset.CompareOptions, res *dataset.Result) (int, error) {
	v, err := serverVersion(ctx, master, "master")
	if err != nil {
		return 0, err
	}
	if !v.AtLeast(6, 2) {
		x.Log("not compared with writes paused: %s has no CLIENT PAUSE WRITE", v)
		return 0, nil
	}
	start := time.Now()
	if err := master.Do(ctx, "CLIENT", "PAUSE", settlePause.Milliseconds(), "WRITE").Err(); err != nil {
		return 0, fmt.Errorf("CLIENT PAUSE WRITE: %w", err)
	}
	again, err := func() (dataset.Result, error) {
		defer master.Do(context.WithoutCancel(ctx), "CLIENT", "UNPAUSE")
		if err := redis.CatchUp(ctx, replica, master, settlePause); err != nil {
			return dataset.Result{}, err
		}
		return dataset.CompareKeys(ctx, ac, bc, keys, opts)
	}()
	held := time.Since(start)
	if err != nil {
		x.Log("not compared with writes paused: %v", err)
		return 0, nil
	}
	if held >= settlePause {
		x.Log("not compared with writes paused: the comparison took %s, longer than the %s pause", held.Round(time.Millisecond), settlePause)
		return len(keys), nil
	}
	x.Log("compared %d key(s) again with the master's writes paused for %.1f ms", len(keys), float64(held.Microseconds())/1000)
	again.Method, again.KeysA, again.KeysB, again.DBs, again.Notes = res.Method, res.KeysA, res.KeysB, res.DBs, res.Notes
	again.DurationMS += res.DurationMS
	*res = again
	return len(keys), nil
}
