package dsl_test

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/understudy/understudy/dsl"
	"github.com/understudy/understudy/steps/kinds"
)

// A node's lifecycle block: what it decodes to, and each mistake at its own
// file:line:col.
func TestNodeLifecycle(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, src string
		live      bool     // loaded as apply loads it; else as validate does
		want      []string // "file:line:col: Summary"; none: it loads
		detail    string   // a substring of the first diagnostic's detail
		check     func(t *testing.T, l *dsl.NodeLifecycle)
	}{
		{
			name: "all settings",
			src: `node "a" {
  address = "127.0.0.1:6380"
  lifecycle {
    upgrade = ["./node.sh", "upgrade", "{node}", "{address}", "{version}"]
    stop    = ["systemctl", "stop", "redis-server"]
    start   = ["systemctl", "start", "redis-server"]
    timeout = "90s"
  }
}
`,
			check: func(t *testing.T, l *dsl.NodeLifecycle) {
				if got := l.Upgrade.Args; !slices.Equal(got, []string{"./node.sh", "upgrade", "{node}", "{address}", "{version}"}) {
					t.Errorf("upgrade %q", got)
				}
				if l.Stop == nil || l.Stop.Action != dsl.LifecycleStop || l.Start == nil || l.Start.Args[1] != "start" {
					t.Errorf("stop %+v, start %+v", l.Stop, l.Start)
				}
				if l.Timeout != 90*time.Second {
					t.Errorf("timeout %s", l.Timeout)
				}
				if l.DeclRange.Start.Line != 3 || l.Upgrade.Expr.Range().Start.Line != 4 {
					t.Errorf("block at line %d, upgrade at line %d", l.DeclRange.Start.Line, l.Upgrade.Expr.Range().Start.Line)
				}
			},
		},
		{
			name: "only upgrade: default timeout, no stop or start",
			src:  "node \"a\" {\n  address = \"127.0.0.1:6380\"\n  lifecycle {\n    upgrade = [\"true\"]\n  }\n}\n",
			check: func(t *testing.T, l *dsl.NodeLifecycle) {
				if l.Timeout != dsl.DefaultLifecycleTimeout || l.Stop != nil || l.Start != nil {
					t.Errorf("lifecycle %+v", l)
				}
				if l.Command(dsl.LifecycleStop) != nil || l.Command(dsl.LifecycleUpgrade) != l.Upgrade {
					t.Error("Command does not return the declared actions")
				}
			},
		},
		{
			name: "variables and env",
			src: `variable "unit" {
  default = "redis-server"
}
node "a" {
  address = "127.0.0.1:6380"
  lifecycle {
    upgrade = ["systemctl", "restart", var.unit, env("UNDERSTUDY_TEST_LIFECYCLE_UNSET", "fallback")]
  }
}
`,
			check: func(t *testing.T, l *dsl.NodeLifecycle) {
				if got := l.Upgrade.Args; !slices.Equal(got, []string{"systemctl", "restart", "redis-server", "fallback"}) {
					t.Errorf("upgrade %q", got)
				}
			},
		},
		{
			name: "unset env while validating: not resolved, no error",
			src:  "node \"a\" {\n  address = \"127.0.0.1:6380\"\n  lifecycle {\n    upgrade = [\"./node.sh\", env(\"UNDERSTUDY_TEST_LIFECYCLE_UNSET\")]\n  }\n}\n",
			check: func(t *testing.T, l *dsl.NodeLifecycle) {
				if l.Upgrade == nil || l.Upgrade.Args != nil {
					t.Errorf("upgrade %+v, want declared and not resolved", l.Upgrade)
				}
			},
		},
		{
			name:   "unset env live: an error",
			live:   true,
			src:    "node \"a\" {\n  address = \"127.0.0.1:6380\"\n  lifecycle {\n    upgrade = [\"./node.sh\", env(\"UNDERSTUDY_TEST_LIFECYCLE_UNSET\")]\n  }\n}\n",
			want:   []string{"lifecycle.hcl:4:29: Error in function call"},
			detail: "UNDERSTUDY_TEST_LIFECYCLE_UNSET",
		},
		{
			name: "a shell's ${name} is not a placeholder",
			src:  "node \"a\" {\n  address = \"127.0.0.1:6380\"\n  lifecycle {\n    upgrade = [\"sh\", \"-c\", \"echo $${HOME} {node}\"]\n  }\n}\n",
			check: func(t *testing.T, l *dsl.NodeLifecycle) {
				if l.Upgrade.Args[2] != "echo ${HOME} {node}" {
					t.Errorf("arg %q", l.Upgrade.Args[2])
				}
			},
		},
		{
			name:   "unknown placeholder, at its element",
			src:    "node \"a\" {\n  address = \"127.0.0.1:6380\"\n  lifecycle {\n    upgrade = [\"./node.sh\", \"{nodes}\"]\n  }\n}\n",
			want:   []string{"lifecycle.hcl:4:29: Unknown placeholder"},
			detail: `uses {nodes}; the placeholders are {node}, {address}, {host}, {port}, {version}. Did you mean "node"?`,
		},
		{
			name:   "version in stop",
			src:    "node \"a\" {\n  address = \"127.0.0.1:6380\"\n  lifecycle {\n    upgrade = [\"true\"]\n    stop    = [\"./node.sh\", \"stop\", \"{version}\"]\n  }\n}\n",
			want:   []string{"lifecycle.hcl:5:37: Placeholder not available"},
			detail: "only the upgrade command has",
		},
		{
			name:   "unknown placeholder in a list built by a function: at the list",
			src:    "node \"a\" {\n  address = \"127.0.0.1:6380\"\n  lifecycle {\n    upgrade = concat([\"./node.sh\"], [\"{adress}\"])\n  }\n}\n",
			want:   []string{"lifecycle.hcl:4:15: Unknown placeholder"},
			detail: `Did you mean "address"?`,
		},
		{
			name:   "no upgrade",
			src:    "node \"a\" {\n  address = \"127.0.0.1:6380\"\n  lifecycle {\n    stop = [\"true\"]\n  }\n}\n",
			want:   []string{"lifecycle.hcl:3:13: Missing required argument"},
			detail: `"upgrade" is required`,
		},
		{
			name:   "empty command",
			src:    "node \"a\" {\n  address = \"127.0.0.1:6380\"\n  lifecycle {\n    upgrade = []\n  }\n}\n",
			want:   []string{"lifecycle.hcl:4:15: Empty command"},
			detail: `The lifecycle upgrade command of node "a" is empty`,
		},
		{
			name: "two blocks",
			src:  "node \"a\" {\n  address = \"127.0.0.1:6380\"\n  lifecycle {\n    upgrade = [\"true\"]\n  }\n  lifecycle {\n    upgrade = [\"true\"]\n  }\n}\n",
			want: []string{`lifecycle.hcl:6:3: Duplicate lifecycle block in node "a"`},
		},
		{
			name:   "zero timeout",
			src:    "node \"a\" {\n  address = \"127.0.0.1:6380\"\n  lifecycle {\n    upgrade = [\"true\"]\n    timeout = \"0s\"\n  }\n}\n",
			want:   []string{"lifecycle.hcl:5:15: Invalid duration"},
			detail: `The lifecycle timeout of node "a" must be a positive duration`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mode := dsl.ModeValidate
			if tc.live {
				mode = dsl.ModeLive
			}
			rb, diags := dsl.LoadSource(filepath.Join(dir, "lifecycle.hcl"), []byte(tc.src+tlsTail), dsl.LoadOptions{Kinds: kinds.Registry, Mode: mode})
			got := diagPositions(diags)
			for i := range got {
				got[i] = strings.TrimPrefix(got[i], dir+string(filepath.Separator))
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Fatalf("diagnostics:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(tc.want, "\n  "))
			}
			if tc.detail != "" && !strings.Contains(diags[0].Detail, tc.detail) {
				t.Errorf("detail %q, want it to contain %q", diags[0].Detail, tc.detail)
			}
			if tc.check != nil {
				tc.check(t, rb.Nodes["a"].Lifecycle)
			}
		})
	}
}

// Expand replaces the placeholders for a node and a version; Text shows
// the command for a plan, (sensitive) when it reads a sensitive variable,
// as written when it is not resolved.
func TestLifecycleExpandAndText(t *testing.T) {
	src := `variable "token" {
  default   = "lifecycle-token-1234"
  sensitive = true
}
node "a" {
  address = "10.0.0.11:6380"
  lifecycle {
    upgrade = ["./node.sh", "{node}", "{address}", "{host}", "{port}", "{version}", "img:{version}-x", "{node}{node}", "$${node}"]
    stop    = ["./node.sh", "stop", var.token]
    start   = ["./node.sh", "start", "{host}"]
  }
}
node "b" {
  address = env("UNDERSTUDY_TEST_LIFECYCLE_UNSET")
  lifecycle {
    upgrade = ["./node.sh", "{address}", "{port}", "{version}"]
    start   = ["./node.sh", env("UNDERSTUDY_TEST_LIFECYCLE_UNSET")]
  }
}
` + tlsTail
	rb, diags := dsl.LoadSource("expand.hcl", []byte(src), dsl.LoadOptions{Kinds: kinds.Registry, Mode: dsl.ModeValidate})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	a, b := rb.Nodes["a"], rb.Nodes["b"]
	for _, tc := range []struct {
		name    string
		got     []string
		want    []string
		text    string
		wantTxt string
	}{
		{
			name:    "upgrade of a",
			got:     a.Lifecycle.Upgrade.Expand(a, "valkey:8.1"),
			want:    []string{"./node.sh", "a", "10.0.0.11:6380", "10.0.0.11", "6380", "valkey:8.1", "img:valkey:8.1-x", "aa", "${node}"},
			text:    a.Lifecycle.Upgrade.Text(rb, a, "8.0"),
			wantTxt: `["./node.sh", "a", "10.0.0.11:6380", "10.0.0.11", "6380", "8.0", "img:8.0-x", "aa", "${node}"]`,
		},
		{
			name:    "stop of a reads a sensitive variable",
			got:     a.Lifecycle.Stop.Expand(a, "8.0"),
			want:    []string{"./node.sh", "stop", "lifecycle-token-1234"},
			text:    a.Lifecycle.Stop.Text(rb, a, ""),
			wantTxt: "(sensitive)",
		},
		{
			name:    "start of a: no version there",
			got:     a.Lifecycle.Start.Expand(a, "8.0"),
			want:    []string{"./node.sh", "start", "10.0.0.11"},
			text:    a.Lifecycle.Start.Text(rb, a, ""),
			wantTxt: `["./node.sh", "start", "10.0.0.11"]`,
		},
		{
			name:    "b's address unknown: its placeholders kept",
			got:     b.Lifecycle.Upgrade.Expand(b, "8.0"),
			want:    []string{"./node.sh", "{address}", "{port}", "8.0"},
			text:    b.Lifecycle.Upgrade.Text(rb, b, "8.0"),
			wantTxt: `["./node.sh", "{address}", "{port}", "8.0"]`,
		},
		{
			name:    "b's start not resolved: as written",
			got:     b.Lifecycle.Start.Args,
			want:    nil,
			text:    b.Lifecycle.Start.Text(rb, b, ""),
			wantTxt: `["./node.sh", env("UNDERSTUDY_TEST_LIFECYCLE_UNSET")]`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !slices.Equal(tc.got, tc.want) {
				t.Errorf("expanded %q, want %q", tc.got, tc.want)
			}
			if tc.text != tc.wantTxt {
				t.Errorf("text %s, want %s", tc.text, tc.wantTxt)
			}
		})
	}
}
