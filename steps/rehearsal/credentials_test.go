package rehearsal

import (
	"fmt"
	"strings"
	"testing"

	"github.com/understudy/understudy/dsl"
	"github.com/understudy/understudy/steps/kinds"
	"github.com/understudy/understudy/steps/redact"
)

// credsRunbook is two nodes whose credentials read the given expressions.
// user is both nodes' username, or "OLD|NEW".
func credsRunbook(t *testing.T, oldPW, newPW, user string) *dsl.Runbook {
	t.Helper()
	oldUser, newUser, ok := strings.Cut(user, "|")
	if !ok {
		newUser = oldUser
	}
	src := fmt.Sprintf(`node "new" {
  address  = "b:6379"
  username = %s
  password = %s
  rehearsal {
    version = "8.0"
  }
}
node "old" {
  address  = "a:6379"
  username = %s
  password = %s
  rehearsal {
    version = "7.0"
  }
}
step "assert" "ok" {
  condition = node.old.role == "master"
}
`, newUser, newPW, oldUser, oldPW)
	rb, diags := dsl.LoadSource("creds.hcl", []byte(src), dsl.LoadOptions{Kinds: kinds.Registry, Mode: dsl.ModeRehearsal})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	return rb
}

// The rehearsal's password: the caller's, else the runbook's own when its
// nodes resolve one (the same on all), else $UNDERSTUDY_REHEARSAL_PASSWORD,
// else a random one; nodes that disagree are refused at the node's line.
func TestChooseCredentials(t *testing.T) {
	t.Setenv("UT_PW", "from-the-runbook-env")
	t.Setenv("UT_OTHER_PW", "another-password")
	t.Setenv("UT_SHORT_PW", "abc")
	t.Setenv("UT_USER", "app")
	t.Setenv(PasswordEnv, "")
	const unset = `env("UT_UNSET_PASSWORD")`
	for _, tc := range []struct {
		name                string
		oldPW, newPW, user  string
		rehearsalEnv        string
		callerPW            string
		wantPW, wantUser    string // wantPW "random": 32 hex characters
		wantSource, wantErr string // wantErr "file:line:col: Summary"
	}{
		{name: "runbook's own", oldPW: `env("UT_PW")`, newPW: `env("UT_PW")`, user: `env("UT_USER")`,
			wantPW: "from-the-runbook-env", wantUser: "app", wantSource: "the runbook's (node.new.password)"},
		{name: "one node resolves", oldPW: `env("UT_PW")`, newPW: unset, user: `""`,
			wantPW: "from-the-runbook-env", wantSource: "the runbook's (node.old.password)"},
		{name: "runbook wins over the variable", oldPW: `env("UT_PW")`, newPW: `env("UT_PW")`, user: `""`, rehearsalEnv: "from-the-variable",
			wantPW: "from-the-runbook-env", wantSource: "the runbook's"},
		{name: "variable", oldPW: unset, newPW: unset, user: `""`, rehearsalEnv: "from-the-variable",
			wantPW: "from-the-variable", wantSource: "$" + PasswordEnv},
		{name: "random", oldPW: unset, newPW: unset, user: `""`, wantPW: "random", wantSource: "random"},
		{name: "caller's", oldPW: `env("UT_PW")`, newPW: `env("UT_PW")`, user: `""`, callerPW: "from-the-caller",
			wantPW: "from-the-caller", wantSource: "the caller's"},
		{name: "different passwords", oldPW: `env("UT_OTHER_PW")`, newPW: `env("UT_PW")`, user: `""`,
			wantErr: "creds.hcl:12:14: Nodes with different passwords"},
		{name: "a literal user", oldPW: unset, newPW: unset, user: `"x"`,
			wantPW: "random", wantUser: "x", wantSource: "random"},
		{name: "different users", oldPW: unset, newPW: unset, user: `"x"|"y"`,
			wantErr: "creds.hcl:11:14: Nodes with different usernames"},
		{name: "too short", oldPW: `env("UT_SHORT_PW")`, newPW: `env("UT_SHORT_PW")`, user: `""`,
			wantErr: "creds.hcl:4:14: Password too short for a rehearsal"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(PasswordEnv, tc.rehearsalEnv)
			rb := credsRunbook(t, tc.oldPW, tc.newPW, tc.user)
			c, diags := chooseCredentials(rb, Options{Password: tc.callerPW})
			if tc.wantErr != "" {
				got := ""
				if len(diags) > 0 && diags[0].Subject != nil {
					d := diags[0]
					got = fmt.Sprintf("%s:%d:%d: %s", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column, d.Summary)
				}
				if len(diags) != 1 || got != tc.wantErr {
					t.Fatalf("diagnostics %v (%q), want %q", diags, got, tc.wantErr)
				}
				if strings.Contains(diags[0].Detail, "from-the-runbook-env") || strings.Contains(diags[0].Detail, "another-password") {
					t.Error("the diagnostic shows a password")
				}
				if d := CheckRehearsable(rb); !d.HasErrors() {
					t.Error("CheckRehearsable accepts it")
				}
				return
			}
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			if tc.wantPW == "random" {
				if len(c.password) != 32 || c.password == tc.rehearsalEnv {
					t.Errorf("password %q, want a random one", c.password)
				}
			} else if c.password != tc.wantPW {
				t.Errorf("password %q, want %q", c.password, tc.wantPW)
			}
			if c.user != tc.wantUser || !strings.HasPrefix(c.source, tc.wantSource) {
				t.Errorf("user %q source %q, want %q %q", c.user, c.source, tc.wantUser, tc.wantSource)
			}
		})
	}
}

// The password is redacted also as it appears escaped in a URL.
func TestCredentialSecrets(t *testing.T) {
	c := credentials{password: "p@ss w/rd+1"}
	s := redact.New()
	c.addSecrets(s)
	for _, text := range []string{
		"redis://:p%40ss%20w%2Frd+1@127.0.0.1:1",
		"redis://:p%40ss+w%2Frd%2B1@127.0.0.1:1",
		"pw=p@ss w/rd+1",
	} {
		if got := s.String(text); !strings.Contains(got, redact.Marker) || strings.Contains(got, "rd") {
			t.Errorf("%q redacted to %q", text, got)
		}
	}
}

// A sentinel's own password (sentinel_password) is not the data nodes':
// it neither conflicts with theirs nor becomes the rehearsal's.
func TestCredentialsLeaveSentinelsOut(t *testing.T) {
	rb := &dsl.Runbook{Nodes: map[string]*dsl.Node{
		"cache-1":          {Password: "the-data-nodes-password", Username: "app"},
		"cache-sentinel-1": {Password: "the-sentinels-own-password", Sentinel: true},
	}}
	c, diags := chooseCredentials(rb, Options{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if c.password != "the-data-nodes-password" || c.user != "app" || c.source != "the runbook's (node.cache-1.password)" {
		t.Fatalf("credentials %q %q from %s", c.password, c.user, c.source)
	}
}
