package dsl_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/understudy/understudy/dsl"
	"github.com/understudy/understudy/steps/kinds"
)

// settingsBase is a runbook of four lines that the rehearsal blocks below
// follow, so that their diagnostics are at line 5 and after.
const settingsBase = `node "old" {
  address = "a:6379"
  password = env("UNDERSTUDY_TEST_UNSET_PASSWORD")
}
`

const settingsTail = `
endpoint "app" {
  target = node.old
}
step "assert" "ok" {
  condition = node.old.role == "master"
}
`

var testSeedTypes = []string{"string", "hash", "list", "set", "zset", "stream"}

// loadSettings loads settingsBase + src + settingsTail as rehearsal.hcl
// and returns the runbook and each diagnostic as "file:line:col: Summary".
func loadSettings(t *testing.T, src string, seedTypes []string) (*dsl.Runbook, []string) {
	t.Helper()
	rb, diags := dsl.LoadSource("rehearsal.hcl", []byte(settingsBase+src+settingsTail),
		dsl.LoadOptions{Kinds: kinds.Registry, Mode: dsl.ModeValidate, SeedTypes: seedTypes})
	return rb, diagPositions(diags)
}

func diagPositions(diags hcl.Diagnostics) []string {
	var got []string
	for _, d := range diags {
		if d.Subject == nil {
			got = append(got, "(no range): "+d.Summary)
			continue
		}
		got = append(got, fmt.Sprintf("%s:%d:%d: %s", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column, d.Summary))
	}
	return got
}

// The rehearsal block's seed settings and workload: what they decode to,
// and each mistake reported at its own file:line:col.
func TestRehearsalSettings(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		want      []string // "file:line:col: Summary"; none: it loads
		detail    string   // a substring of the first diagnostic's detail
		check     func(t *testing.T, s *dsl.RehearsalSettings)
	}{
		{
			name: "seed settings",
			src: `rehearsal {
  databases = [0, 1, 3]
  types     = ["string", "hash"]
  big_keys  = false
}
`,
			check: func(t *testing.T, s *dsl.RehearsalSettings) {
				if !slices.Equal(s.DBs, []int{0, 1, 3}) || !slices.Equal(s.Types, []string{"string", "hash"}) || s.BigKeys == nil || *s.BigKeys {
					t.Errorf("settings %+v", s)
				}
			},
		},
		{
			name: "defaults",
			src:  "rehearsal {\n  keys = 10\n}\n",
			check: func(t *testing.T, s *dsl.RehearsalSettings) {
				if s.DBs != nil || s.Types != nil || s.BigKeys != nil || s.Workload != nil {
					t.Errorf("settings %+v, want defaults (nil)", s)
				}
			},
		},
		{
			name:   "database out of range",
			src:    "rehearsal {\n  databases = [0, 16, -1]\n}\n",
			want:   []string{"rehearsal.hcl:6:19: Invalid database number", "rehearsal.hcl:6:23: Invalid database number"},
			detail: "from 0 to 15, not 16",
		},
		{
			name:   "database not a whole number",
			src:    "rehearsal {\n  databases = [1.5]\n}\n",
			want:   []string{"rehearsal.hcl:6:16: Invalid database number"},
			detail: "not 1.5",
		},
		{
			name: "database twice",
			src:  "rehearsal {\n  databases = [3, 3]\n}\n",
			want: []string{"rehearsal.hcl:6:19: Duplicate database"},
		},
		{
			name: "databases empty",
			src:  "rehearsal {\n  databases = []\n}\n",
			want: []string{"rehearsal.hcl:6:15: Empty databases"},
		},
		{
			name: "databases not a list",
			src:  "rehearsal {\n  databases = \"0,1\"\n}\n",
			want: []string{"rehearsal.hcl:6:15: Incorrect value type"},
		},
		{
			name:   "unknown type",
			src:    "rehearsal {\n  types = [\"string\", \"hsah\"]\n}\n",
			want:   []string{"rehearsal.hcl:6:22: Unknown seed type"},
			detail: `Did you mean "hash"?`,
		},
		{
			name: "type twice",
			src:  "rehearsal {\n  types = [\"set\", \"set\"]\n}\n",
			want: []string{"rehearsal.hcl:6:19: Duplicate type"},
		},
		{
			name: "big_keys not a bool",
			src:  "rehearsal {\n  big_keys = \"maybe\"\n}\n",
			want: []string{"rehearsal.hcl:6:14: Incorrect value type"},
		},
		{
			name: "workload",
			src: `rehearsal {
  workload {
    description  = "the app"
    command      = ["python3", "app.py", node.old.address]
    grace_period = "10s"
    env = {
      REDIS_URL = endpoint.app.url
      AUTH      = node.old.password
      PLAIN     = "x"
    }
  }
}
`,
			check: func(t *testing.T, s *dsl.RehearsalSettings) {
				w := s.Workload
				if w == nil || w.GracePeriod != 10*time.Second || w.Description != "the app" || w.Env == nil {
					t.Fatalf("workload %+v", w)
				}
			},
		},
		{
			name: "workload defaults",
			src:  "rehearsal {\n  workload {\n    command = [\"true\"]\n  }\n}\n",
			check: func(t *testing.T, s *dsl.RehearsalSettings) {
				if w := s.Workload; w == nil || w.GracePeriod != dsl.DefaultGracePeriod || w.Env != nil {
					t.Errorf("workload %+v", w)
				}
			},
		},
		{
			name: "workload without command",
			src:  "rehearsal {\n  workload {\n    env = {}\n  }\n}\n",
			want: []string{"rehearsal.hcl:6:12: Missing required argument"},
		},
		{
			name: "workload command empty",
			src:  "rehearsal {\n  workload {\n    command = []\n  }\n}\n",
			want: []string{"rehearsal.hcl:7:15: Empty command"},
		},
		{
			name: "workload command not strings",
			src:  "rehearsal {\n  workload {\n    command = \"app.py\"\n  }\n}\n",
			want: []string{"rehearsal.hcl:7:15: Incorrect value type"},
		},
		{
			name:   "workload reads a step",
			src:    "rehearsal {\n  workload {\n    command = [\"echo\", step.ok.output]\n  }\n}\n",
			want:   []string{"rehearsal.hcl:7:24: Reference to a step in the workload"},
			detail: "starts before the first step",
		},
		{
			name:   "workload unknown node",
			src:    "rehearsal {\n  workload {\n    command = [\"echo\", node.olld.address]\n  }\n}\n",
			want:   []string{"rehearsal.hcl:7:24: Reference to undeclared node"},
			detail: `Did you mean "old"?`,
		},
		{
			name:   "workload unknown endpoint",
			src:    "rehearsal {\n  workload {\n    command = [\"echo\"]\n    env = { U = endpoint.ap.url }\n  }\n}\n",
			want:   []string{"rehearsal.hcl:8:17: Reference to undeclared endpoint"},
			detail: `Did you mean "app"?`,
		},
		{
			name: "workload unknown endpoint attribute",
			src:  "rehearsal {\n  workload {\n    command = [\"echo\"]\n    env = { U = endpoint.app.uri }\n  }\n}\n",
			want: []string{"rehearsal.hcl:8:29: Unsupported attribute"},
		},
		{
			name: "workload env name",
			src:  "rehearsal {\n  workload {\n    command = [\"echo\"]\n    env = { \"A=B\" = \"x\", \"\" = \"y\" }\n  }\n}\n",
			want: []string{"rehearsal.hcl:8:13: Invalid environment variable name", "rehearsal.hcl:8:26: Invalid environment variable name"},
		},
		{
			name: "workload env not a map of strings",
			src:  "rehearsal {\n  workload {\n    command = [\"echo\"]\n    env = { A = [1] }\n  }\n}\n",
			want: []string{"rehearsal.hcl:8:11: Incorrect value type"},
		},
		{
			name: "workload grace period",
			src:  "rehearsal {\n  workload {\n    command      = [\"echo\"]\n    grace_period = \"soon\"\n  }\n}\n",
			want: []string{"rehearsal.hcl:8:20: Invalid duration"},
		},
		{
			name: "two workloads",
			src:  "rehearsal {\n  workload {\n    command = [\"a\"]\n  }\n  workload {\n    command = [\"b\"]\n  }\n}\n",
			want: []string{"rehearsal.hcl:9:3: Duplicate workload block"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rb, got := loadSettings(t, tc.src, testSeedTypes)
			if !slices.Equal(got, tc.want) {
				t.Fatalf("diagnostics\n got: %q\nwant: %q", got, tc.want)
			}
			if tc.detail != "" {
				_, diags := dsl.LoadSource("rehearsal.hcl", []byte(settingsBase+tc.src+settingsTail),
					dsl.LoadOptions{Kinds: kinds.Registry, Mode: dsl.ModeValidate, SeedTypes: testSeedTypes})
				if !strings.Contains(diags[0].Detail, tc.detail) {
					t.Errorf("detail %q lacks %q", diags[0].Detail, tc.detail)
				}
			}
			if tc.check != nil {
				tc.check(t, rb.Rehearsal)
			}
		})
	}
}

// Without a list of seed types (a caller that passes none), any name
// loads; the command line passes steps/dataset.SeedTypes.
func TestRehearsalTypesWithoutList(t *testing.T) {
	rb, got := loadSettings(t, "rehearsal {\n  types = [\"anything\"]\n}\n", nil)
	if len(got) > 0 || !slices.Equal(rb.Rehearsal.Types, []string{"anything"}) {
		t.Errorf("diagnostics %q, types %q", got, rb.Rehearsal.Types)
	}
}

// validate and plan show the workload, and a value that reads a secret
// (a node's password or username, an endpoint's url when the nodes have a
// password, a sensitive variable) only as (sensitive).
func TestWorkloadText(t *testing.T) {
	rb, got := loadSettings(t, `variable "token" {
  default   = "tok-secret"
  sensitive = true
}
rehearsal {
  workload {
    command = ["app", node.old.address]
    env = {
      REDIS_URL = endpoint.app.url
      AUTH      = node.old.password
      USER      = node.old.username
      TOKEN     = var.token
      ADDR      = endpoint.app.address
      NAME      = node.old.name
      PLAIN     = "x"
    }
  }
}
`, nil)
	if len(got) > 0 {
		t.Fatal(got)
	}
	cmd, env := rb.WorkloadText()
	if cmd != `["app", "a:6379"]` {
		t.Errorf("command %s", cmd)
	}
	want := []string{
		"REDIS_URL = (sensitive)", "AUTH = (sensitive)", "USER = (sensitive)", "TOKEN = (sensitive)",
		"ADDR = endpoint.app.address", `NAME = "old"`, `PLAIN = "x"`,
	}
	if !slices.Equal(env, want) {
		t.Errorf("env\n got: %q\nwant: %q", env, want)
	}
}

// An endpoint's url carries no secret when no node has a password.
func TestEndpointURLWithoutPassword(t *testing.T) {
	src := `node "old" {
  address = "a:6379"
}
endpoint "app" {
  target = node.old
}
step "exec" "x" {
  command = ["x"]
  env     = { U = endpoint.app.url, P = node.old.password }
}
`
	rb, diags := dsl.LoadSource("nopw.hcl", []byte(src), dsl.LoadOptions{Kinds: kinds.Registry, Mode: dsl.ModeValidate})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	got := rb.EnvText(rb.Steps[0].Args["env"].Expr)
	if want := []string{"U = endpoint.app.url", "P = (sensitive)"}; !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestRedisURL(t *testing.T) {
	for _, tc := range []struct{ addr, user, pw, want string }{
		{"127.0.0.1:6379", "", "", "redis://127.0.0.1:6379"},
		{"127.0.0.1:6379", "", "s3cret", "redis://:s3cret@127.0.0.1:6379"},
		{"127.0.0.1:6379", "app", "s3cret", "redis://app:s3cret@127.0.0.1:6379"},
		{"127.0.0.1:6379", "app", "", "redis://app@127.0.0.1:6379"},
		{"[::1]:6379", "", "p@ss:w/rd", "redis://:p%40ss%3Aw%2Frd@[::1]:6379"},
	} {
		if got := dsl.RedisURL(tc.addr, tc.user, tc.pw); got != tc.want {
			t.Errorf("RedisURL(%q, %q, %q) = %q, want %q", tc.addr, tc.user, tc.pw, got, tc.want)
		}
	}
}
