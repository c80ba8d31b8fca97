package redis

import (
	"context"
	"fmt"
	"slices"
	"strings"

	goredis "github.com/redis/go-redis/v9"
)

// ACLUser is one ACL user as ACL LIST describes it: its name and its rules
// ("on", "#<sha256>", "~key:*", "+@read", "(~x +get)" …). The rules carry
// password hashes: never log them.
type ACLUser struct {
	Name  string
	Rules []string
}

// defaultUser is the user every server has; each node's own configuration
// (requirepass) sets it, so it is never copied.
const defaultUser = "default"

// ACLUsers reads the users of c other than default with ACL LIST, sorted by
// name.
func ACLUsers(ctx context.Context, c *goredis.Client) ([]ACLUser, error) {
	lines, err := c.Do(ctx, "ACL", "LIST").StringSlice()
	if err != nil {
		return nil, fmt.Errorf("ACL LIST: %w", err)
	}
	var users []ACLUser
	for _, line := range lines {
		u, err := ParseACLLine(line)
		if err != nil {
			return nil, err
		}
		if u.Name != defaultUser {
			users = append(users, u)
		}
	}
	slices.SortFunc(users, func(a, b ACLUser) int { return strings.Compare(a.Name, b.Name) })
	return users, nil
}

// ParseACLLine splits an ACL LIST line ("user <name> <rule> …") into the
// user's name and rules. A selector ("(~x +get)", 7.0+) stays one rule.
func ParseACLLine(line string) (ACLUser, error) {
	rest, ok := strings.CutPrefix(line, "user ")
	if !ok {
		return ACLUser{}, fmt.Errorf("ACL LIST line does not start with \"user \"")
	}
	var fields []string
	for rest = strings.TrimSpace(rest); rest != ""; rest = strings.TrimSpace(rest) {
		end := strings.IndexByte(rest, ' ')
		if rest[0] == '(' {
			end = strings.IndexByte(rest, ')') + 1
			if end == 0 {
				return ACLUser{}, fmt.Errorf("ACL LIST line: unclosed selector")
			}
		}
		if end < 0 {
			end = len(rest)
		}
		fields = append(fields, rest[:end])
		rest = rest[end:]
	}
	if len(fields) == 0 {
		return ACLUser{}, fmt.Errorf("ACL LIST line without a user name")
	}
	return ACLUser{Name: fields[0], Rules: fields[1:]}, nil
}

// HasChannelRules reports whether rules say anything about pub/sub
// channels. Redis 6.0 has no channel permissions (every user may use every
// channel); 6.2 added them and 7.0 gives new users none by default.
func HasChannelRules(rules []string) bool {
	for _, r := range rules {
		if strings.HasPrefix(r, "&") || r == "allchannels" || r == "resetchannels" {
			return true
		}
	}
	return false
}

// SetACLUser creates or replaces user u on c: ACL DELUSER and ACL SETUSER
// <name> <rules> in one transaction, so the user starts from a new user's
// defaults as on the server it was read from (ACL SETUSER reset would add
// sanitize-payload on 7.0+). node names the server in errors, which never
// carry the rules.
func SetACLUser(ctx context.Context, c *goredis.Client, node string, u ACLUser) error {
	args := make([]interface{}, 0, len(u.Rules)+3)
	args = append(args, "ACL", "SETUSER", u.Name)
	for _, r := range u.Rules {
		args = append(args, r)
	}
	var set *goredis.Cmd
	_, err := c.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		p.Do(ctx, "ACL", "DELUSER", u.Name)
		set = p.Do(ctx, args...)
		return nil
	})
	if err != nil {
		if set != nil && set.Err() != nil {
			err = set.Err()
		}
		return fmt.Errorf("ACL SETUSER %q on %q: %s", u.Name, node, hideModifier(err.Error()))
	}
	return nil
}

// hideModifier drops the rule a server quotes in an ACL SETUSER error
// ("Error in ACL SETUSER modifier '#…': …"): it may be a password hash.
func hideModifier(msg string) string {
	before, after, ok := strings.Cut(msg, "modifier '")
	if !ok {
		return msg
	}
	if _, rest, ok := strings.Cut(after, "'"); ok {
		return before + "modifier (hidden)" + rest
	}
	return before + "modifier (hidden)"
}

// commandRule returns the command a "+cmd", "-cmd" or "+cmd|sub" rule
// names, lower case, or "" for other rules (categories, keys, flags,
// selectors).
func commandRule(r string) string {
	if len(r) < 2 || (r[0] != '+' && r[0] != '-') || r[1] == '@' {
		return ""
	}
	name, _, _ := strings.Cut(r[1:], "|")
	return strings.ToLower(name)
}

// UnknownCommands returns the commands that users' rules name and c does
// not have (COMMAND INFO answers nil for them), e.g. 6.0's pseudo-commands
// "post" and "host:", which 7.0 does not know.
func UnknownCommands(ctx context.Context, c *goredis.Client, users []ACLUser) (map[string]bool, error) {
	var names []string
	seen := map[string]bool{}
	for _, u := range users {
		for _, r := range u.Rules {
			if n := commandRule(r); n != "" && !seen[n] {
				seen[n] = true
				names = append(names, n)
			}
		}
	}
	unknown := map[string]bool{}
	if len(names) == 0 {
		return unknown, nil
	}
	args := []interface{}{"COMMAND", "INFO"}
	for _, n := range names {
		args = append(args, n)
	}
	infos, err := c.Do(ctx, args...).Slice()
	if err != nil {
		return nil, fmt.Errorf("COMMAND INFO: %w", err)
	}
	for i, info := range infos {
		if info == nil && i < len(names) {
			unknown[names[i]] = true
		}
	}
	return unknown, nil
}

// DropCommandRules returns rules without those naming a command in
// unknown, and the rules it left out.
func DropCommandRules(rules []string, unknown map[string]bool) (kept, dropped []string) {
	for _, r := range rules {
		if unknown[commandRule(r)] {
			dropped = append(dropped, r)
			continue
		}
		kept = append(kept, r)
	}
	return kept, dropped
}
