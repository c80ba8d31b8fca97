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

// aclUsers are the ACL users of one server, normalized so that users set
// with the same rules compare equal across versions as far as the versions
// allow (see the package documentation).
type aclUsers struct {
	label, version string
	// refused is why the users could not be read (e.g. NOPERM); "" when
	// they were.
	refused string
	users   []aclUser // by name
	// table is the server's command table by ACL category, to evaluate
	// command rules; nil when ACL CAT could not be read.
	table *cmdTable
}

// aclUser is one user. Password hashes are kept only as a hash of the set.
type aclUser struct {
	name       string
	enabled    bool
	nopass     bool
	passwords  digest // of the sorted password hashes
	npasswords int
	rules      aclRules
	// selectors (7.0+), sorted by their text; hasSelectors is false when
	// the server has none (before 7.0).
	selectors    []aclRules
	hasSelectors bool
}

// aclRules are the permissions of a user or of one of its selectors.
type aclRules struct {
	// keys are key patterns with their permission: "~p" (read and
	// write), "%R~p", "%W~p"; sorted; just "~*" when every key is allowed.
	keys []string
	// channels are "&p" patterns, sorted, just "&*" for every channel;
	// hasChannels is false when the server has no channel permissions
	// (6.0).
	channels    []string
	hasChannels bool
	// commands are the command rules as the server shows them.
	commands string
	// allowed is the set of commands and subcommands ("config|get") the
	// rules allow, evaluated on the server's own command table; nil
	// without a table. firstArgs are "+cmd|arg" rules that name no
	// subcommand (first-argument rules), sorted.
	allowed   map[string]bool
	firstArgs []string
}

// cmdTable is a server's commands by ACL category (ACL CAT).
type cmdTable struct {
	cats     map[string][]string
	memberOf map[string]string // command -> its categories, sorted, space-separated
	universe map[string]bool
	subs     map[string][]string // container command -> its "cmd|sub" names
	// hasSubcommands: the server knows subcommands (7.0+); 6.x reads
	// "+cmd|arg" as a first-argument rule.
	hasSubcommands bool
}

// readACL reads the ACL users of s (ACL USERS, ACL GETUSER per user) and
// its command table (ACL CAT, ACL CAT per category): small O(users) and
// O(commands) replies.
func readACL(ctx context.Context, s *side) (aclUsers, error) {
	out := aclUsers{label: s.label, version: s.version}
	names, err := s.c.Do(ctx, "ACL", "USERS").StringSlice()
	if err != nil {
		var rerr redis.Error
		if errors.As(err, &rerr) {
			out.refused = rerr.Error()
			return out, nil
		}
		return out, fmt.Errorf("acl users: %w", err)
	}
	pipe := s.c.Pipeline()
	gets := make([]*redis.Cmd, len(names))
	for i, n := range names {
		gets[i] = pipe.Do(ctx, "ACL", "GETUSER", n)
	}
	cats := pipe.Do(ctx, "ACL", "CAT")
	_, _ = pipe.Exec(ctx)
	out.table = readCmdTable(ctx, s.c, cats)
	for i, n := range names {
		v, err := gets[i].Result()
		if errors.Is(err, redis.Nil) {
			continue // deleted since
		}
		var rerr redis.Error
		if errors.As(err, &rerr) {
			out.refused = rerr.Error()
			return out, nil
		} else if err != nil {
			return out, fmt.Errorf("acl getuser %q: %w", n, err)
		}
		u, err := parseGetUser(n, v, out.table)
		if err != nil {
			return out, fmt.Errorf("acl getuser %q: %w", n, err)
		}
		out.users = append(out.users, u)
	}
	slices.SortFunc(out.users, func(a, b aclUser) int { return cmp.Compare(a.name, b.name) })
	return out, nil
}

// readCmdTable reads the members of every ACL category; nil when refused.
func readCmdTable(ctx context.Context, c *redis.Client, cats *redis.Cmd) *cmdTable {
	names, err := cats.StringSlice()
	if err != nil {
		return nil
	}
	pipe := c.Pipeline()
	cmds := make([]*redis.StringSliceCmd, len(names))
	for i, n := range names {
		cmds[i] = redis.NewStringSliceCmd(ctx, "ACL", "CAT", n)
		_ = pipe.Process(ctx, cmds[i])
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil
	}
	t := &cmdTable{cats: make(map[string][]string), universe: make(map[string]bool), subs: make(map[string][]string), memberOf: make(map[string]string)}
	for i, n := range names {
		members := cmds[i].Val()
		for j, m := range members {
			members[j] = strings.ToLower(m)
		}
		t.cats[strings.ToLower(n)] = members
		for _, m := range members {
			t.memberOf[m] += " " + strings.ToLower(n)
			if t.universe[m] {
				continue
			}
			t.universe[m] = true
			if parent, _, ok := strings.Cut(m, "|"); ok {
				t.subs[parent] = append(t.subs[parent], m)
				t.hasSubcommands = true
			}
		}
	}
	for m, cats := range t.memberOf {
		l := strings.Fields(cats)
		slices.Sort(l)
		t.memberOf[m] = strings.Join(l, " ")
	}
	return t
}

// catsOf returns the ACL categories of command n.
func (t *cmdTable) catsOf(n string) string { return t.memberOf[n] }

// parseGetUser normalizes an ACL GETUSER reply: 6.0 and 6.2 give key and
// channel patterns as arrays with allkeys/allchannels flags, 7.0+ as
// strings of "~p %R~p &c" rules, and selectors.
func parseGetUser(name string, v interface{}, t *cmdTable) (aclUser, error) {
	m, err := replyMap(v)
	if err != nil {
		return aclUser{}, err
	}
	u := aclUser{name: name}
	flags, err := replyStrings(m["flags"])
	if err != nil {
		return aclUser{}, fmt.Errorf("flags: %w", err)
	}
	u.enabled = slices.Contains(flags, "on")
	u.nopass = slices.Contains(flags, "nopass")
	pw, err := replyStrings(m["passwords"])
	if err != nil {
		return aclUser{}, fmt.Errorf("passwords: %w", err)
	}
	slices.Sort(pw)
	var ph partHasher
	for _, p := range pw {
		ph.add(p)
	}
	u.passwords, u.npasswords = finish("acl passwords", int64(len(pw)), ph.buf), len(pw)
	if u.rules, err = parseRules(m, flags, t); err != nil {
		return aclUser{}, err
	}
	if sel, ok := m["selectors"]; ok {
		u.hasSelectors = true
		l, err := replyList(sel)
		if err != nil {
			return aclUser{}, fmt.Errorf("selectors: %w", err)
		}
		for _, x := range l {
			sm, err := replyMap(x)
			if err != nil {
				return aclUser{}, fmt.Errorf("selectors: %w", err)
			}
			r, err := parseRules(sm, nil, t)
			if err != nil {
				return aclUser{}, fmt.Errorf("selector: %w", err)
			}
			u.selectors = append(u.selectors, r)
		}
		slices.SortFunc(u.selectors, func(a, b aclRules) int { return cmp.Compare(a.text(), b.text()) })
	}
	return u, nil
}

// parseRules reads the keys, channels and commands fields of a user or
// selector; flags are the user's (allkeys, allchannels on 6.x).
func parseRules(m map[string]interface{}, flags []string, t *cmdTable) (aclRules, error) {
	var r aclRules
	keys, err := patterns(m["keys"], "~")
	if err != nil {
		return r, fmt.Errorf("keys: %w", err)
	}
	if slices.Contains(flags, "allkeys") {
		keys = append(keys, "~*")
	}
	r.keys = normalizeKeys(keys)
	if ch, ok := m["channels"]; ok {
		r.hasChannels = true
		chans, err := patterns(ch, "&")
		if err != nil {
			return r, fmt.Errorf("channels: %w", err)
		}
		if slices.Contains(flags, "allchannels") {
			chans = append(chans, "&*")
		}
		r.channels = normalizeAll(chans, "&*")
	}
	r.commands = strings.Join(strings.Fields(replyText(m["commands"])), " ")
	if t != nil {
		r.allowed, r.firstArgs = t.eval(r.commands)
	}
	return r, nil
}

// patterns reads key or channel patterns: an array of bare patterns (6.x),
// prefixed with prefix, or a string of rules (7.0+).
func patterns(v interface{}, prefix string) ([]string, error) {
	switch v := v.(type) {
	case nil:
		return nil, nil
	case string:
		return strings.Fields(v), nil
	}
	l, err := replyStrings(v)
	if err != nil {
		return nil, err
	}
	for i, p := range l {
		l[i] = prefix + p
	}
	return l, nil
}

// normalizeKeys writes "%RW~p" as "~p", "allkeys" as "~*", drops
// duplicates and sorts.
func normalizeKeys(keys []string) []string {
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		switch {
		case k == "allkeys":
			k = "~*"
		case strings.HasPrefix(k, "%RW~"), strings.HasPrefix(k, "%WR~"):
			k = k[3:]
		case k == "resetkeys":
			continue
		}
		out = append(out, k)
	}
	return normalizeAll(out, "~*")
}

// normalizeAll sorts and dedupes patterns; when all is among them, it is
// the only one left.
func normalizeAll(ps []string, all string) []string {
	for i, p := range ps {
		if p == "allchannels" {
			ps[i] = "&*"
		}
	}
	if slices.Contains(ps, all) {
		return []string{all}
	}
	slices.Sort(ps)
	return slices.Compact(ps)
}

// text is a selector's rules as one line, to sort and show selectors.
func (r aclRules) text() string {
	parts := append(append([]string{}, r.keys...), r.channels...)
	return "(" + strings.Join(append(parts, r.commands), " ") + ")"
}

// eval applies command rules ("+@all -@dangerous +info -config|set") to
// the table as the server does: a category or a container command sets
// every subcommand too. It returns what is allowed and the
// first-argument rules left.
func (t *cmdTable) eval(rules string) (allowed map[string]bool, firstArgs []string) {
	allowed = make(map[string]bool)
	set := func(name string, allow bool) {
		if allow {
			allowed[name] = true
		} else {
			delete(allowed, name)
		}
	}
	setCmd := func(name string, allow bool) {
		set(name, allow)
		for _, sub := range t.subs[name] {
			set(sub, allow)
		}
	}
	fa := make(map[string]bool)
	for _, tok := range strings.Fields(strings.ToLower(rules)) {
		switch tok {
		case "allcommands":
			tok = "+@all"
		case "nocommands":
			tok = "-@all"
		}
		if len(tok) < 2 || (tok[0] != '+' && tok[0] != '-') {
			continue
		}
		allow, name := tok[0] == '+', tok[1:]
		switch {
		case name == "@all":
			for n := range t.universe {
				set(n, allow)
			}
			if !allow {
				clear(fa)
			}
		case strings.HasPrefix(name, "@"):
			for _, n := range t.cats[name[1:]] {
				setCmd(n, allow)
			}
		case t.universe[name]:
			setCmd(name, allow)
			if allow {
				for a := range fa {
					if strings.HasPrefix(a, name+"|") {
						delete(fa, a)
					}
				}
			}
		default:
			// A first-argument rule ("+select|0", 6.x "+config|get"), or
			// a command this table does not list: kept as text.
			if allow {
				fa[name] = true
			} else {
				delete(fa, name)
			}
		}
	}
	for a := range fa {
		firstArgs = append(firstArgs, a)
	}
	slices.Sort(firstArgs)
	return allowed, firstArgs
}

// aclDiffs adds the users that differ between a and b to d and returns
// notes on what could not be compared.
func aclDiffs(a, b aclUsers, d *diffs) (notes []string) {
	for _, s := range []aclUsers{a, b} {
		if s.refused != "" {
			return []string{fmt.Sprintf("acl users not compared: refused on %s: %s", s.label, s.refused)}
		}
	}
	if chA, chB := a.hasChannels(), b.hasChannels(); chA != chB {
		without := a
		if chA {
			without = b
		}
		notes = append(notes, fmt.Sprintf("acl channel patterns not compared: %s (%s) has no channel permissions (Redis 6.2+)", without.label, without.version))
	}
	if (a.table == nil) != (b.table == nil) || (a.table != nil && a.table.hasSubcommands != b.table.hasSubcommands) {
		notes = append(notes, fmt.Sprintf("acl command rules compared for the commands both servers know (%s: %s, %s: %s); neither commands with subcommands nor first-argument rules",
			a.label, a.version, b.label, b.version))
	}
	add := func(name, reason string) { d.add(Diff{Kind: DiffACLUser, Key: name, Reason: reason}) }
	mergeByName(a.users, b.users, func(u *aclUser) string { return u.name },
		func(name, side string) { add(name, "missing on "+side) }, a.label, b.label,
		func(x, y *aclUser) {
			r, note := userDiff(x, y, a, b)
			if r != "" {
				add(x.name, r)
			} else if note != "" {
				notes = append(notes, fmt.Sprintf("acl user %q: %s", x.name, note))
			}
		})
	return notes
}

// hasChannels reports whether the server has channel permissions (6.2+),
// as its users (default at least) show.
func (s aclUsers) hasChannels() bool { return len(s.users) > 0 && s.users[0].rules.hasChannels }

// userDiff returns the first difference between one user on two servers,
// or a note on what the same rules mean differently on them.
func userDiff(x, y *aclUser, a, b aclUsers) (reason, note string) {
	state := func(on bool) string {
		if on {
			return "enabled"
		}
		return "disabled"
	}
	switch {
	case x.enabled != y.enabled:
		return fmt.Sprintf("%s vs %s", state(x.enabled), state(y.enabled)), ""
	case x.nopass != y.nopass || x.passwords != y.passwords:
		return "passwords differ", ""
	}
	r, note := rulesDiff(&x.rules, &y.rules, a, b)
	if r != "" {
		return r, ""
	}
	if !x.hasSelectors || !y.hasSelectors {
		if len(x.selectors) > 0 {
			return fmt.Sprintf("selectors on %s only (%s has none)", a.label, b.version), ""
		}
		if len(y.selectors) > 0 {
			return fmt.Sprintf("selectors on %s only (%s has none)", b.label, a.version), ""
		}
		return "", note
	}
	if len(x.selectors) != len(y.selectors) {
		return fmt.Sprintf("selectors differ: %d vs %d", len(x.selectors), len(y.selectors)), ""
	}
	for k := range x.selectors {
		r, n := rulesDiff(&x.selectors[k], &y.selectors[k], a, b)
		if r != "" {
			return fmt.Sprintf("selector %s: %s", x.selectors[k].text(), r), ""
		}
		if note == "" && n != "" {
			note = fmt.Sprintf("selector %s: %s", x.selectors[k].text(), n)
		}
	}
	return "", note
}

// rulesDiff returns the first difference between two rule sets: key
// patterns, channel patterns (when both servers have them), commands; and
// a note when the rules allow different commands only where the two
// servers put those commands in different ACL categories (the same rules
// may mean that on two versions).
func rulesDiff(x, y *aclRules, a, b aclUsers) (reason, note string) {
	if !slices.Equal(x.keys, y.keys) {
		return fmt.Sprintf("key patterns differ: %s vs %s", patternText(x.keys), patternText(y.keys)), ""
	}
	if x.hasChannels && y.hasChannels && !slices.Equal(x.channels, y.channels) {
		return fmt.Sprintf("channel patterns differ: %s vs %s", patternText(x.channels), patternText(y.channels)), ""
	}
	sameText := canonicalRules(x.commands) == canonicalRules(y.commands)
	if x.allowed == nil || y.allowed == nil || a.table == nil || b.table == nil {
		if sameText {
			return "", ""
		}
		return fmt.Sprintf("command rules differ: %q vs %q", x.commands, y.commands), ""
	}
	real, recategorized := allowedDiff(x, y, a, b)
	if real != "" {
		return "command rules differ: " + real, ""
	}
	if !sameText && a.table.hasSubcommands == b.table.hasSubcommands && !slices.Equal(x.firstArgs, y.firstArgs) {
		return fmt.Sprintf("command rules differ: first-argument rules %s vs %s", patternText(x.firstArgs), patternText(y.firstArgs)), ""
	}
	if recategorized != "" {
		return "", fmt.Sprintf("command rules differ in effect (%s) only for commands in other ACL categories on %s than on %s: not counted as a difference", recategorized, a.version, b.version)
	}
	return "", ""
}

// allowedDiff names the commands both servers know that one rule set
// allows and the other does not: real for those in the same ACL categories
// on both servers, recategorized for the others. When one server has no
// subcommands (6.x), commands with subcommands on the other are left out.
func allowedDiff(x, y *aclRules, a, b aclUsers) (real, recategorized string) {
	subs := a.table.hasSubcommands && b.table.hasSubcommands
	type side struct{ same, moved []string }
	var onlyA, onlyB side
	for n := range a.table.universe {
		if !b.table.universe[n] || (!subs && (len(a.table.subs[n]) > 0 || len(b.table.subs[n]) > 0)) {
			continue
		}
		var o *side
		switch {
		case x.allowed[n] && !y.allowed[n]:
			o = &onlyA
		case !x.allowed[n] && y.allowed[n]:
			o = &onlyB
		default:
			continue
		}
		if a.table.catsOf(n) == b.table.catsOf(n) {
			o.same = append(o.same, n)
		} else {
			o.moved = append(o.moved, n)
		}
	}
	describe := func(namesA, namesB []string) string {
		var parts []string
		for _, o := range []struct {
			names []string
			label string
		}{{namesA, a.label}, {namesB, b.label}} {
			if len(o.names) > 0 {
				slices.Sort(o.names)
				parts = append(parts, fmt.Sprintf("%d allowed on %s only (%s)", len(o.names), o.label, sample(o.names)))
			}
		}
		return strings.Join(parts, ", ")
	}
	return describe(onlyA.same, onlyB.same), describe(onlyA.moved, onlyB.moved)
}

// canonicalRules writes command rules so that the forms one server shows
// for the same rules compare equal: lower case, and runs of rules on single
// commands sorted when no two of them name the same command (Redis 7.0
// lists those in an order that changes from one call to the next).
func canonicalRules(rules string) string {
	toks := strings.Fields(strings.ToLower(rules))
	for i := 0; i < len(toks); {
		if isCategoryRule(toks[i]) {
			i++
			continue
		}
		// The rules of a run commute unless two name the same command, or
		// a command and one of its subcommands.
		j := i
		names := make(map[string]bool)
		disjoint := true
		for ; j < len(toks) && !isCategoryRule(toks[j]); j++ {
			name := strings.TrimLeft(toks[j], "+-")
			base, _, sub := strings.Cut(name, "|")
			if names[name] || (sub && names[base]) || (!sub && names[base+"|"]) {
				disjoint = false
			}
			names[name] = true
			if sub {
				names[base+"|"] = true
			}
		}
		if disjoint {
			slices.Sort(toks[i:j])
		}
		i = j
	}
	return strings.Join(toks, " ")
}

// isCategoryRule reports a rule on a category or on every command.
func isCategoryRule(tok string) bool {
	return strings.HasPrefix(tok, "+@") || strings.HasPrefix(tok, "-@") || tok == "allcommands" || tok == "nocommands"
}

func patternText(ps []string) string {
	if len(ps) == 0 {
		return "(none)"
	}
	return strings.Join(ps, " ")
}

// sample names the first few of names.
func sample(names []string) string {
	const n = 5
	if len(names) <= n {
		return strings.Join(names, " ")
	}
	return strings.Join(names[:n], " ") + " …"
}
