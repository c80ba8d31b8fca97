package dataset

import (
	"slices"
	"testing"
)

func TestCanonicalRules(t *testing.T) {
	tests := []struct {
		x, y string
		same bool
	}{
		// 7.0 lists the rules on single commands in any order.
		{"-@all +@read -keys +set +function|load -xinfo|help", "-@all +@read +function|load -xinfo|help +set -keys", true},
		{"+@all -@dangerous +INFO", "+@all -@dangerous +info", true},
		// Categories keep their order: it matters.
		{"+@read -@dangerous", "-@dangerous +@read", false},
		// A command and its subcommand do not commute.
		{"+config -config|set", "-config|set +config", false},
		{"+get -get", "-get +get", false},
		{"+@all -get", "+@all -set", false},
	}
	for _, tt := range tests {
		if got := canonicalRules(tt.x) == canonicalRules(tt.y); got != tt.same {
			t.Errorf("%q vs %q: same = %v, want %v", tt.x, tt.y, got, tt.same)
		}
	}
}

func TestEvalCommandRules(t *testing.T) {
	table := &cmdTable{
		cats: map[string][]string{
			"read":      {"get", "config|get", "object|encoding"},
			"write":     {"set", "del"},
			"dangerous": {"config", "config|set", "keys", "flushall"},
			"slow":      {"config", "config|get", "config|set", "keys", "flushall", "object", "object|encoding"},
		},
		universe: map[string]bool{},
		subs:     map[string][]string{},
	}
	for _, members := range table.cats {
		for _, m := range members {
			table.universe[m] = true
		}
	}
	table.subs["config"] = []string{"config|get", "config|set"}
	table.subs["object"] = []string{"object|encoding"}
	tests := []struct {
		rules     string
		allowed   []string
		firstArgs []string
	}{
		{"-@all +@read", []string{"config|get", "get", "object|encoding"}, nil},
		{"+@all -@dangerous", []string{"del", "get", "object", "object|encoding", "set"}, nil},
		// A category holding a container sets its subcommands too.
		{"-@all +@slow -config|set", []string{"config", "config|get", "flushall", "keys", "object", "object|encoding"}, nil},
		{"+config -config|set", []string{"config", "config|get"}, nil},
		{"-@all +get +select|0 +select|1 -select|1", []string{"get"}, []string{"select|0"}},
		{"allcommands -@write", []string{"config", "config|get", "config|set", "flushall", "get", "keys", "object", "object|encoding"}, nil},
		{"+select|0 nocommands", nil, nil},
	}
	for _, tt := range tests {
		allowed, firstArgs := table.eval(tt.rules)
		var got []string
		for n := range allowed {
			got = append(got, n)
		}
		slices.Sort(got)
		if !slices.Equal(got, tt.allowed) || !slices.Equal(firstArgs, tt.firstArgs) {
			t.Errorf("%q: allowed %v first-args %v, want %v %v", tt.rules, got, firstArgs, tt.allowed, tt.firstArgs)
		}
	}
}

// TestParseGetUser reads ACL GETUSER as 6.0 (arrays, allkeys flag, no
// channels) and 7.0 (strings, selectors) give it, in RESP2 and RESP3
// shapes.
func TestParseGetUser(t *testing.T) {
	v60 := []interface{}{
		"flags", []interface{}{"on", "allkeys", "allcommands"},
		"passwords", []interface{}{"b", "a"},
		"commands", "+@all",
		"keys", []interface{}{"*"},
	}
	v70 := map[interface{}]interface{}{
		"flags":     []interface{}{"on"},
		"passwords": []interface{}{"a", "b"},
		"commands":  "+@all",
		"keys":      "~* %R~x",
		"channels":  "&*",
		"selectors": []interface{}{map[interface{}]interface{}{"commands": "-@all +get", "keys": "%RW~s:*", "channels": ""}},
	}
	u60, err := parseGetUser("u", v60, nil)
	if err != nil {
		t.Fatal(err)
	}
	u70, err := parseGetUser("u", v70, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !u60.enabled || u60.nopass || u60.npasswords != 2 || u60.passwords != u70.passwords {
		t.Errorf("6.0 user %+v", u60)
	}
	if !slices.Equal(u60.rules.keys, []string{"~*"}) || !slices.Equal(u70.rules.keys, []string{"~*"}) {
		t.Errorf("keys %v and %v, want ~*", u60.rules.keys, u70.rules.keys)
	}
	if u60.rules.hasChannels || !u70.rules.hasChannels || !slices.Equal(u70.rules.channels, []string{"&*"}) {
		t.Errorf("channels %v/%v and %v/%v", u60.rules.hasChannels, u60.rules.channels, u70.rules.hasChannels, u70.rules.channels)
	}
	if u60.hasSelectors || !u70.hasSelectors || len(u70.selectors) != 1 || !slices.Equal(u70.selectors[0].keys, []string{"~s:*"}) {
		t.Errorf("selectors %v/%+v", u70.hasSelectors, u70.selectors)
	}
	if r, _ := userDiff(&u60, &u70, aclUsers{label: "a", version: "Redis 6.0.16"}, aclUsers{label: "b", version: "Redis 7.0.15"}); r != "selectors on b only (Redis 6.0.16 has none)" {
		t.Errorf("diff %q", r)
	}
}
