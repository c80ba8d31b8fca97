package dsl_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/understudy/understudy/dsl"
	"github.com/understudy/understudy/steps/kinds"
)

// tlsTail follows every node below, so that a runbook has a step.
const tlsTail = `
step "assert" "ok" {
  condition = node.a.role == "master"
}
`

// A node's tls block: what it decodes to (paths joined with the runbook's
// directory) and each mistake at its own file:line:col.
func TestNodeTLS(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, src string
		want      []string // "file:line:col: Summary"; none: it loads
		detail    string   // a substring of the first diagnostic's detail
		check     func(t *testing.T, n *dsl.Node)
	}{
		{
			name: "all settings",
			src: `node "a" {
  address = "127.0.0.1:6380"
  tls {
    ca_file     = "certs/ca.pem"
    cert_file   = "/etc/understudy/client.pem"
    key_file    = "certs/client.key"
    server_name = "redis-1.internal"
  }
}
`,
			check: func(t *testing.T, n *dsl.Node) {
				want := dsl.NodeTLS{
					CAFile:     filepath.Join(dir, "certs/ca.pem"),
					CertFile:   "/etc/understudy/client.pem",
					KeyFile:    filepath.Join(dir, "certs/client.key"),
					ServerName: "redis-1.internal",
				}
				got := *n.TLS
				got.DeclRange = want.DeclRange
				if got != want {
					t.Errorf("tls %+v, want %+v", got, want)
				}
				if n.TLS.DeclRange.Start.Line != 3 {
					t.Errorf("tls block at line %d, want 3", n.TLS.DeclRange.Start.Line)
				}
			},
		},
		{
			name: "empty block: TLS with the system's authorities",
			src:  "node \"a\" {\n  address = \"127.0.0.1:6380\"\n  tls {}\n}\n",
			check: func(t *testing.T, n *dsl.Node) {
				if n.TLS == nil || *n.TLS != (dsl.NodeTLS{DeclRange: n.TLS.DeclRange}) {
					t.Errorf("tls %+v, want an empty block", n.TLS)
				}
			},
		},
		{
			name: "no block: plain TCP",
			src:  "node \"a\" {\n  address = \"127.0.0.1:6380\"\n}\n",
			check: func(t *testing.T, n *dsl.Node) {
				if n.TLS != nil {
					t.Errorf("tls %+v, want nil", n.TLS)
				}
			},
		},
		{
			name: "paths from variables",
			src: `variable "certs" {
  default = "/srv/certs"
}
node "a" {
  address = "127.0.0.1:6380"
  tls {
    ca_file = "${var.certs}/ca.pem"
  }
}
`,
			check: func(t *testing.T, n *dsl.Node) {
				if n.TLS.CAFile != "/srv/certs/ca.pem" {
					t.Errorf("ca_file %q", n.TLS.CAFile)
				}
			},
		},
		{
			name:   "insecure_skip_verify warns",
			src:    "node \"a\" {\n  address = \"127.0.0.1:6380\"\n  tls {\n    insecure_skip_verify = true\n  }\n}\n",
			want:   []string{"tls.hcl:4:28: Server certificate not verified"},
			detail: `any certificate node "a" presents`,
			check: func(t *testing.T, n *dsl.Node) {
				if !n.TLS.InsecureSkipVerify {
					t.Error("insecure_skip_verify not set")
				}
			},
		},
		{
			name: "insecure_skip_verify false is silent",
			src:  "node \"a\" {\n  address = \"127.0.0.1:6380\"\n  tls {\n    insecure_skip_verify = false\n  }\n}\n",
			check: func(t *testing.T, n *dsl.Node) {
				if n.TLS.InsecureSkipVerify {
					t.Error("insecure_skip_verify set")
				}
			},
		},
		{
			name:   "insecure_skip_verify not a bool",
			src:    "node \"a\" {\n  address = \"127.0.0.1:6380\"\n  tls {\n    insecure_skip_verify = \"maybe\"\n  }\n}\n",
			want:   []string{"tls.hcl:4:28: Incorrect value type"},
			detail: "insecure_skip_verify of a node must be bool",
		},
		{
			name:   "certificate without key",
			src:    "node \"a\" {\n  address = \"127.0.0.1:6380\"\n  tls {\n    cert_file = \"c.pem\"\n  }\n}\n",
			want:   []string{"tls.hcl:4:5: Client certificate without a key"},
			detail: "Set key_file, or remove cert_file.",
		},
		{
			name:   "key without certificate",
			src:    "node \"a\" {\n  address = \"127.0.0.1:6380\"\n  tls {\n    key_file = \"c.key\"\n  }\n}\n",
			want:   []string{"tls.hcl:4:5: Client key without a certificate"},
			detail: "Set cert_file, or remove key_file.",
		},
		{
			name:   "unknown attribute",
			src:    "node \"a\" {\n  address = \"127.0.0.1:6380\"\n  tls {\n    verify = true\n  }\n}\n",
			want:   []string{"tls.hcl:4:5: Unsupported argument"},
			detail: `"verify" is not expected here`,
		},
		{
			name:   "two blocks",
			src:    "node \"a\" {\n  address = \"127.0.0.1:6380\"\n  tls {}\n  tls {}\n}\n",
			want:   []string{`tls.hcl:4:3: Duplicate tls block in node "a"`},
			detail: `already has a tls block at ` + filepath.Join(dir, "tls.hcl") + `:3,3-6`,
		},
		{
			name:   "live reference",
			src:    "node \"a\" {\n  address = \"127.0.0.1:6380\"\n  tls {\n    server_name = node.a.role\n  }\n}\n",
			want:   []string{"tls.hcl:4:19: Live value in a static setting"},
			detail: "",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rb, diags := dsl.LoadSource(filepath.Join(dir, "tls.hcl"), []byte(tc.src+tlsTail), dsl.LoadOptions{Kinds: kinds.Registry, Mode: dsl.ModeValidate})
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
				tc.check(t, rb.Nodes["a"])
			}
		})
	}
}

// file() reads a secret: live, a node's password is the file's content
// without its trailing newline; while validating the file is checked but its
// content never enters the runbook, so no plan can show it; a missing file
// is an error at the call, naming the path.
func TestFilePassword(t *testing.T) {
	dir := t.TempDir()
	const secret = "pw-from-file-7f3a"
	if err := os.WriteFile(filepath.Join(dir, "pass"), []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	src := func(path string) []byte {
		return []byte(`node "a" {
  address  = "127.0.0.1:6380"
  username = "app"
  password = file("` + path + `")
}
step "exec" "check" {
  command = ["/bin/true", file("pass")]
  env     = { REDISCLI_AUTH = file("pass") }
}
` + tlsTail)
	}
	file := filepath.Join(dir, "rb.hcl")

	rb, diags := dsl.LoadSource(file, src("pass"), dsl.LoadOptions{Kinds: kinds.Registry, Mode: dsl.ModeLive})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if n := rb.Nodes["a"]; n.Password != secret || !n.HasPassword || n.Username != "app" {
		t.Errorf("live: password %q (has %v), username %q", n.Password, n.HasPassword, n.Username)
	}

	rb, diags = dsl.LoadSource(file, src("pass"), dsl.LoadOptions{Kinds: kinds.Registry, Mode: dsl.ModeValidate})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if n := rb.Nodes["a"]; n.Password != "" || !n.HasPassword {
		t.Errorf("validate: password %q (has %v), want unknown", n.Password, n.HasPassword)
	}
	for _, s := range rb.Steps[0].Impl.Describe(rb.Steps[0], rb.Sim()) {
		if strings.Contains(s, secret) {
			t.Errorf("validate: the step's description shows the file's content: %s", s)
		}
	}

	for _, mode := range []dsl.Mode{dsl.ModeValidate, dsl.ModeRehearsal, dsl.ModeLive} {
		rb, diags = dsl.LoadSource(file, src("missing/pass"), dsl.LoadOptions{Kinds: kinds.Registry, Mode: mode})
		var out strings.Builder
		if err := rb.WriteDiagnostics(&out, diags, false); err != nil {
			t.Fatal(err)
		}
		want := file + ":4:14: error: Error in function call"
		missing := filepath.Join(dir, "missing", "pass")
		if !strings.Contains(out.String(), want) || !strings.Contains(out.String(), "cannot read "+missing+": no such file or directory") {
			t.Errorf("mode %d: diagnostics\n%s\nwant %q naming %s", mode, out.String(), want, missing)
		}
	}
}

// A plan says how apply connects to a node with a tls block and that a
// rehearsal does not use it.
func TestTLSNotes(t *testing.T) {
	src := `node "a" {
  address = "127.0.0.1:6380"
  tls {
    ca_file     = "/etc/ca.pem"
    cert_file   = "/etc/client.pem"
    key_file    = "/etc/client.key"
    server_name = "redis-1.internal"
  }
}
node "b" {
  address = "127.0.0.1:6381"
  tls {
    insecure_skip_verify = true
  }
}
node "c" {
  address = "127.0.0.1:6382"
}
` + tlsTail
	rb, diags := dsl.LoadSource("notes.hcl", []byte(src), dsl.LoadOptions{Kinds: kinds.Registry, Mode: dsl.ModeValidate})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	want := []string{
		`node a: apply connects with TLS, server certificate checked against /etc/ca.pem, for "redis-1.internal", client certificate /etc/client.pem; a rehearsal ignores the tls block (its containers speak plain TCP)`,
		`node b: apply connects with TLS, server certificate not verified (insecure_skip_verify); a rehearsal ignores the tls block (its containers speak plain TCP)`,
	}
	if got := rb.TLSNotes(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("notes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
