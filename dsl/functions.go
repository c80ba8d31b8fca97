package dsl

import (
	"errors"
	"fmt"
	"github.com/understudy/understudy/steps/redis"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// Live answers the functions that read servers. The interpreter implements it
// for the moment a step evaluates an expression; at validate and plan time it
// is nil and those functions return unknown values.
type Live interface {
	// InSync reports whether replica is in sync with master, checked the way
	// redis-facts.md says: the master's offset read first, then the replica's
	// link up, no sync in progress, same replication id, offset reached.
	InSync(replica, master string) (bool, error)
}

// FunctionNames lists the functions a runbook can call, for docs and tests.
func FunctionNames() []string {
	var r Runbook
	return mapKeys(r.functions(nil))
}

func (r *Runbook) functions(live Live) map[string]function.Function {
	fns := map[string]function.Function{
		// cty's standard library
		"abs": stdlib.AbsoluteFunc, "ceil": stdlib.CeilFunc, "floor": stdlib.FloorFunc,
		"max": stdlib.MaxFunc, "min": stdlib.MinFunc, "parseint": stdlib.ParseIntFunc,
		"concat": stdlib.ConcatFunc, "contains": stdlib.ContainsFunc, "distinct": stdlib.DistinctFunc,
		"element": stdlib.ElementFunc, "flatten": stdlib.FlattenFunc, "keys": stdlib.KeysFunc,
		"length": stdlib.LengthFunc, "lookup": stdlib.LookupFunc, "merge": stdlib.MergeFunc,
		"values": stdlib.ValuesFunc, "range": stdlib.RangeFunc, "sort": stdlib.SortFunc,
		"coalesce": stdlib.CoalesceFunc, "format": stdlib.FormatFunc, "formatlist": stdlib.FormatListFunc,
		"join": stdlib.JoinFunc, "split": stdlib.SplitFunc, "lower": stdlib.LowerFunc, "upper": stdlib.UpperFunc,
		"replace": stdlib.ReplaceFunc, "regex": stdlib.RegexFunc, "regexall": stdlib.RegexAllFunc,
		"substr": stdlib.SubstrFunc, "strlen": stdlib.StrlenFunc, "trimspace": stdlib.TrimSpaceFunc,
		"trimprefix": stdlib.TrimPrefixFunc, "trimsuffix": stdlib.TrimSuffixFunc, "chomp": stdlib.ChompFunc,
		"jsonencode": stdlib.JSONEncodeFunc, "jsondecode": stdlib.JSONDecodeFunc,
		"tostring": stdlib.MakeToFunc(cty.String), "tonumber": stdlib.MakeToFunc(cty.Number),
		"tobool":     stdlib.MakeToFunc(cty.Bool),
		"startswith": startsWithFunc, "endswith": endsWithFunc,

		// runbook inputs
		"env":  r.envFunc(),
		"file": r.fileFunc(),

		// Redis helpers
		"version_compare":  versionCompareFunc,
		"version_at_least": versionAtLeastFunc,
		"in_sync":          inSyncFunc(live),
	}
	return fns
}

var startsWithFunc = function.New(&function.Spec{
	Description: "Reports whether a string starts with a prefix.",
	Params:      []function.Parameter{{Name: "str", Type: cty.String}, {Name: "prefix", Type: cty.String}},
	Type:        function.StaticReturnType(cty.Bool),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		return cty.BoolVal(strings.HasPrefix(args[0].AsString(), args[1].AsString())), nil
	},
})

var endsWithFunc = function.New(&function.Spec{
	Description: "Reports whether a string ends with a suffix.",
	Params:      []function.Parameter{{Name: "str", Type: cty.String}, {Name: "suffix", Type: cty.String}},
	Type:        function.StaticReturnType(cty.Bool),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		return cty.BoolVal(strings.HasSuffix(args[0].AsString(), args[1].AsString())), nil
	},
})

// envFunc is env(NAME) or env(NAME, DEFAULT). An unset variable without a
// default is an error in live mode; while validating or rehearsing the value
// is unknown and the name is remembered for a warning.
func (r *Runbook) envFunc() function.Function {
	return function.New(&function.Spec{
		Description: "Reads an environment variable of the understudy process.",
		Params:      []function.Parameter{{Name: "name", Type: cty.String}},
		VarParam:    &function.Parameter{Name: "default", Type: cty.String},
		Type:        function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			name := args[0].AsString()
			if v, ok := os.LookupEnv(name); ok {
				return cty.StringVal(v), nil
			}
			if len(args) > 2 {
				return cty.NilVal, function.NewArgErrorf(2, "env takes a name and at most one default")
			}
			if len(args) == 2 {
				return args[1], nil
			}
			if r.mode == ModeLive {
				return cty.NilVal, fmt.Errorf("environment variable %s is not set", name)
			}
			if r.envMissing != nil {
				r.envMissing[name] = true
			}
			return cty.UnknownVal(cty.String), nil
		},
	})
}

// fileFunc is file(PATH): the file's content with one trailing newline
// removed, so that password = file("/etc/redis/pass") reads what
// `echo secret > /etc/redis/pass` wrote. A relative path is relative to the
// runbook's directory. A file that cannot be read is an error in every mode;
// the message names the path, never the content.
//
// What a file holds is treated as a secret: while validating (validate,
// plan without --out) the file is read to check it but the value is unknown,
// so no plan or message can show it (a node's password is "(sensitive)"
// either way; an argument reading file() is shown as written).
func (r *Runbook) fileFunc() function.Function {
	return function.New(&function.Spec{
		Description: "Reads a file, relative to the runbook's directory, without its trailing newline.",
		Params:      []function.Parameter{{Name: "path", Type: cty.String}},
		Type:        function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			p := args[0].AsString()
			if !filepath.IsAbs(p) {
				p = filepath.Join(r.Dir, p)
			}
			b, err := os.ReadFile(p)
			if err != nil {
				var pe *fs.PathError
				if errors.As(err, &pe) {
					err = pe.Err // the path is named below, once
				}
				return cty.NilVal, fmt.Errorf("cannot read %s: %w", p, err)
			}
			if r.mode == ModeValidate {
				return cty.UnknownVal(cty.String), nil
			}
			return cty.StringVal(trimNewline(string(b))), nil
		},
	})
}

// trimNewline removes one trailing newline, "\n" or "\r\n".
func trimNewline(s string) string {
	if t, ok := strings.CutSuffix(s, "\n"); ok {
		return strings.TrimSuffix(t, "\r")
	}
	return s
}

var versionCompareFunc = function.New(&function.Spec{
	Description: `Compares two versions ("7.0.15", "8.0", "valkey:8.1"): -1, 0 or 1.`,
	Params:      []function.Parameter{{Name: "a", Type: cty.String}, {Name: "b", Type: cty.String}},
	Type:        function.StaticReturnType(cty.Number),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		a, b, err := versionArgs(args)
		if err != nil {
			return cty.NilVal, err
		}
		return cty.NumberIntVal(int64(a.Compare(b))), nil
	},
})

var versionAtLeastFunc = function.New(&function.Spec{
	Description: `Reports whether a version is at least another ("7.0.15" >= "7.0").`,
	Params:      []function.Parameter{{Name: "version", Type: cty.String}, {Name: "min", Type: cty.String}},
	Type:        function.StaticReturnType(cty.Bool),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		a, b, err := versionArgs(args)
		if err != nil {
			return cty.NilVal, err
		}
		return cty.BoolVal(a.Compare(b) >= 0), nil
	},
})

// versionArgs parses the two version arguments of the version functions.
func versionArgs(args []cty.Value) (a, b redis.Version, err error) {
	if a, err = redis.ParseVersion(args[0].AsString()); err != nil {
		return a, b, function.NewArgError(0, err)
	}
	if b, err = redis.ParseVersion(args[1].AsString()); err != nil {
		return a, b, function.NewArgError(1, err)
	}
	return a, b, nil
}

// inSyncFunc is in_sync(node.replica, node.master).
func inSyncFunc(live Live) function.Function {
	return function.New(&function.Spec{
		Description: "Reports whether a replica is in sync with a master: link up, no sync in progress, same replication id, replica offset at least the master's (read first).",
		Params: []function.Parameter{
			{Name: "replica", Type: nodeType, AllowUnknown: true},
			{Name: "master", Type: nodeType, AllowUnknown: true},
		},
		Type: function.StaticReturnType(cty.Bool),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			replica, master := nodeName(args[0]), nodeName(args[1])
			if live == nil || replica == "" || master == "" {
				return cty.UnknownVal(cty.Bool), nil
			}
			if replica == master {
				return cty.NilVal, function.NewArgErrorf(1, "in_sync needs two different nodes, got %q twice", replica)
			}
			ok, err := live.InSync(replica, master)
			if err != nil {
				return cty.NilVal, err
			}
			return cty.BoolVal(ok), nil
		},
	})
}

func nodeName(v cty.Value) string {
	if v.IsNull() || !v.Type().IsObjectType() || !v.Type().HasAttribute("name") {
		return ""
	}
	n := v.GetAttr("name")
	if !n.IsKnown() || n.IsNull() {
		return ""
	}
	return n.AsString()
}
