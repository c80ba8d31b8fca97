package dataset

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/redis/go-redis/v9"
)

// library is one function library (Redis 7.0+, Valkey): what FUNCTION LIST
// WITHCODE says of it, its code as a hash.
type library struct {
	name, engine string
	code         digest
	// functions are "name" or "name[flag flag]", sorted.
	functions []string
}

// libraries are the function libraries of one server.
type libraries struct {
	label, version string
	// unsupported: the server has no FUNCTION command (before 7.0), so it
	// holds no library.
	unsupported bool
	// refused is why FUNCTION LIST could not be read (e.g. NOPERM); "" when
	// it was.
	refused string
	libs    []library // by name
}

// readLibraries reads the function libraries of s with FUNCTION LIST
// WITHCODE (one command, O(libraries)).
func readLibraries(ctx context.Context, s *side) (libraries, error) {
	ls := libraries{label: s.label, version: s.version}
	v, err := s.c.Do(ctx, "FUNCTION", "LIST", "WITHCODE").Result()
	if err != nil {
		var rerr redis.Error
		switch {
		case errors.As(err, &rerr) && strings.HasPrefix(rerr.Error(), "ERR unknown command"):
			ls.unsupported = true
			return ls, nil
		case errors.As(err, &rerr) && strings.HasPrefix(rerr.Error(), "NOPERM"):
			ls.refused = rerr.Error()
			return ls, nil
		}
		return ls, fmt.Errorf("function list: %w", err)
	}
	l, err := replyList(v)
	if err != nil {
		return ls, fmt.Errorf("function list: %w", err)
	}
	for _, x := range l {
		m, err := replyMap(x)
		if err != nil {
			return ls, fmt.Errorf("function list: %w", err)
		}
		lib := library{name: replyText(m["library_name"]), engine: strings.ToUpper(replyText(m["engine"]))}
		code := replyText(m["library_code"])
		lib.code = finish("function library code", int64(len(code)), []byte(code))
		fl, err := replyList(m["functions"])
		if err != nil {
			return ls, fmt.Errorf("function list %q: %w", lib.name, err)
		}
		for _, f := range fl {
			fm, err := replyMap(f)
			if err != nil {
				return ls, fmt.Errorf("function list %q: %w", lib.name, err)
			}
			flags, _ := replyStrings(fm["flags"])
			slices.Sort(flags)
			name := replyText(fm["name"])
			if len(flags) > 0 {
				name += "[" + strings.Join(flags, " ") + "]"
			}
			lib.functions = append(lib.functions, name)
		}
		slices.Sort(lib.functions)
		ls.libs = append(ls.libs, lib)
	}
	slices.SortFunc(ls.libs, func(a, b library) int { return cmp.Compare(a.name, b.name) })
	return ls, nil
}

// libraryDiffs adds the libraries that differ between a and b to d and
// returns notes on what could not be compared. A server without FUNCTION
// holds no library: the other side's libraries are missing on it.
func libraryDiffs(a, b libraries, d *diffs) (notes []string) {
	for _, s := range []libraries{a, b} {
		if s.refused != "" {
			return []string{fmt.Sprintf("function libraries not compared: FUNCTION LIST refused on %s: %s", s.label, s.refused)}
		}
	}
	add := func(name, reason string) { d.add(Diff{Kind: DiffFunction, Key: name, Reason: reason}) }
	switch {
	case a.unsupported && b.unsupported:
		return nil
	case a.unsupported || b.unsupported:
		without, with := a, b
		if b.unsupported {
			without, with = b, a
		}
		n := fmt.Sprint(len(with.libs))
		if len(with.libs) == 0 {
			n = "none"
		}
		notes = append(notes, fmt.Sprintf("function libraries not compared: %s (%s) has no FUNCTION (Redis 7.0+), so no library; %s (%s) has %s",
			without.label, without.version, with.label, with.version, n))
		for _, l := range with.libs {
			add(l.name, fmt.Sprintf("missing on %s (no FUNCTION on %s)", without.label, without.version))
		}
		return notes
	}
	mergeByName(a.libs, b.libs, func(l *library) string { return l.name },
		func(name, side string) { add(name, "missing on "+side) }, a.label, b.label,
		func(x, y *library) {
			switch {
			case x.engine != y.engine:
				add(x.name, fmt.Sprintf("engine %s vs %s", x.engine, y.engine))
			case x.code != y.code:
				add(x.name, "code differs")
			case !slices.Equal(x.functions, y.functions):
				add(x.name, fmt.Sprintf("functions differ: %s vs %s", strings.Join(x.functions, ", "), strings.Join(y.functions, ", ")))
			}
		})
	return notes
}

// mergeByName walks two lists sorted by name: missing(name, side) for a
// name only one of them holds (side: the label of the list that lacks it),
// both(x, y) for a name both hold.
func mergeByName[T any](a, b []T, name func(*T) string, missing func(name, side string), labelA, labelB string, both func(x, y *T)) {
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j == len(b) || (i < len(a) && name(&a[i]) < name(&b[j])):
			missing(name(&a[i]), labelB)
			i++
		case i == len(a) || name(&b[j]) < name(&a[i]):
			missing(name(&b[j]), labelA)
			j++
		default:
			both(&a[i], &b[j])
			i++
			j++
		}
	}
}
