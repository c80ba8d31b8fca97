package redis

import (
	"reflect"
	"testing"
)

func TestParseACLLine(t *testing.T) {
	for _, tc := range []struct {
		line string
		want ACLUser
		err  bool
	}{
		{"user app on #ab ~app:* +@read", ACLUser{"app", []string{"on", "#ab", "~app:*", "+@read"}}, false},
		{"user ops off nopass ~* resetchannels -@all +info (~x:* resetchannels -@all +get)",
			ACLUser{"ops", []string{"off", "nopass", "~*", "resetchannels", "-@all", "+info", "(~x:* resetchannels -@all +get)"}}, false},
		{"user solo", ACLUser{"solo", []string{}}, false},
		{"app on", ACLUser{}, true},
		{"user x (~a +get", ACLUser{}, true},
	} {
		got, err := ParseACLLine(tc.line)
		if (err != nil) != tc.err {
			t.Errorf("%q: error %v, want error %v", tc.line, err, tc.err)
			continue
		}
		if err == nil && (got.Name != tc.want.Name || len(got.Rules) != len(tc.want.Rules) || len(got.Rules) > 0 && !reflect.DeepEqual(got.Rules, tc.want.Rules)) {
			t.Errorf("%q: %+v, want %+v", tc.line, got, tc.want)
		}
	}
}

func TestHideModifier(t *testing.T) {
	for in, want := range map[string]string{
		"ERR Error in ACL SETUSER modifier '#0123abcd': Syntax error": "ERR Error in ACL SETUSER modifier (hidden): Syntax error",
		"ERR Error in ACL SETUSER modifier '>secret":                  "ERR Error in ACL SETUSER modifier (hidden)",
		"ERR unknown command":                                         "ERR unknown command",
	} {
		if got := hideModifier(in); got != want {
			t.Errorf("hideModifier(%q) = %q, want %q", in, got, want)
		}
	}
}
