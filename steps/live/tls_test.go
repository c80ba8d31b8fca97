package live_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/understudy/understudy/dsl"
	"github.com/understudy/understudy/internal/redistest"
	"github.com/understudy/understudy/steps/kinds"
	"github.com/understudy/understudy/steps/live"
	"github.com/understudy/understudy/steps/redis"
	"github.com/understudy/understudy/steps/report"
)

// tlsUserEnv names the ACL user in the runbooks below: username = env(...).
const tlsUserEnv = "UNDERSTUDY_TEST_TLS_USER"

// tlsRunbook is a runbook whose node x is reached at addr with the ACL user
// from $UNDERSTUDY_TEST_TLS_USER, the password from file(passFile) and the
// given tls block body; extra is appended (more steps).
func tlsRunbook(addr, passFile, tlsBody, extra string) string {
	return fmt.Sprintf(`node "x" {
  address  = %q
  username = env(%q)
  password = file(%q)
  tls {
%s
  }
}
step "assert" "ok" {
  condition = node.x.role == "master"
}
%s`, addr, tlsUserEnv, passFile, tlsBody, extra)
}

// loadTLS writes the runbook into dir (so that relative paths are relative
// to dir) and loads it for a live run.
func loadTLS(t *testing.T, dir, src string) (*dsl.Runbook, []string) {
	t.Helper()
	rb, diags := dsl.LoadSource(filepath.Join(dir, "tls.hcl"), []byte(src), dsl.LoadOptions{Kinds: kinds.Registry, Mode: dsl.ModeLive})
	if diags.HasErrors() {
		t.Fatalf("load: %s", diags.Error())
	}
	var warnings []string
	for _, d := range diags {
		warnings = append(warnings, d.Summary)
	}
	return rb, warnings
}

// A node with an ACL user, a password read with file() and a tls block is
// reached over TLS only, as that user; every way the TLS or the
// credentials can be wrong fails, naming the node where the failure is the
// node's TLS, never showing the password.
func TestNodeOverTLS(t *testing.T) {
	certs := redistest.NewCerts(t)
	otherCA := redistest.NewCerts(t) // an authority the server's certificate does not chain to
	const password = "app-pass-3c9e1f"
	srv := redistest.StartTLS(t, certs, redistest.WithArgs("--user", "app", "on", ">"+password, "~*", "&*", "+@all"))
	t.Setenv(tlsUserEnv, "app")

	dir := certs.Dir // the runbook sits next to the certificates: relative paths
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("app.pass", password+"\n")
	const wrongPassword = "wrong-pass-5d2a7b"
	write("wrong.pass", wrongPassword+"\n")

	const fullTLS = `    ca_file   = "ca.pem"
    cert_file = "client.pem"
    key_file  = "client.key"`
	for _, tc := range []struct {
		name, pass, tls string
		addr            string // default: the server's
		warning         string // a warning the runbook loads with
		wantErr         []string
	}{
		{name: "ACL user over TLS", pass: "app.pass", tls: fullTLS},
		{name: "server name checked", pass: "app.pass", tls: fullTLS + "\n    server_name = \"localhost\""},
		{name: "localhost address", pass: "app.pass", tls: fullTLS, addr: fmt.Sprintf("localhost:%d", srv.Port)},
		{
			name: "wrong server name", pass: "app.pass", tls: fullTLS + "\n    server_name = \"redis.example\"",
			wantErr: []string{`node "x": tls handshake with ` + srv.Addr, "redis.example"},
		},
		{
			name: "wrong CA", pass: "app.pass",
			tls:     fmt.Sprintf("    ca_file = %q\n    cert_file = \"client.pem\"\n    key_file = \"client.key\"", otherCA.CAFile),
			wantErr: []string{`node "x": tls handshake with ` + srv.Addr, "certificate signed by unknown authority"},
		},
		{
			name: "wrong CA, verification off", pass: "app.pass",
			tls:     fmt.Sprintf("    ca_file = %q\n    cert_file = \"client.pem\"\n    key_file = \"client.key\"\n    insecure_skip_verify = true", otherCA.CAFile),
			warning: "Server certificate not verified",
		},
		{
			name: "wrong password", pass: "wrong.pass", tls: fullTLS,
			wantErr: []string{"WRONGPASS"},
		},
		{
			name: "no client certificate", pass: "app.pass", tls: `    ca_file = "ca.pem"`,
			wantErr: []string{"certificate required"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := srv.Addr
			if tc.addr != "" {
				addr = tc.addr
			}
			rb, warnings := loadTLS(t, dir, tlsRunbook(addr, tc.pass, tc.tls, ""))
			if strings.Join(warnings, "\n") != tc.warning {
				t.Errorf("load warnings %q, want %q", warnings, tc.warning)
			}
			topo := live.New(rb)
			defer topo.Close(context.Background())
			n, err := topo.Node("x")
			if err != nil {
				t.Fatal(err)
			}
			if got := n.MasterAuth(); got != (redis.Auth{User: "app", Password: rb.Nodes["x"].Password}) || rb.Nodes["x"].Password == "" {
				t.Errorf("MasterAuth: user %q, password set %v", got.User, got.Password != "")
			}
			c, err := n.Client()
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err = c.Ping(ctx).Err()
			if len(tc.wantErr) > 0 {
				if err == nil {
					t.Fatal("PING succeeded, want a failure")
				}
				for _, w := range tc.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q, want it to contain %q", err, w)
					}
				}
				for _, secret := range []string{password, wrongPassword} {
					if strings.Contains(err.Error(), secret) {
						t.Errorf("error %q shows a password", err)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("PING: %v", err)
			}
			if who, err := c.Do(ctx, "ACL", "WHOAMI").Text(); err != nil || who != "app" {
				t.Errorf("ACL WHOAMI = %q, %v; want app", who, err)
			}
			info, err := c.InfoMap(ctx, "server").Result()
			if err != nil {
				t.Fatalf("INFO: %v", err)
			}
			if v := info["Server"]["redis_version"]; v == "" {
				t.Errorf("INFO server without redis_version: %v", info)
			}
		})
	}
}

// The server accepts TLS only: a plain connection to its port gets no
// answer, so the successes above went over TLS.
func TestTLSServerRefusesPlainText(t *testing.T) {
	srv := redistest.StartTLS(t, redistest.NewCerts(t))
	rb, _ := loadTLS(t, t.TempDir(), fmt.Sprintf(`node "x" {
  address = %q
}
step "assert" "ok" {
  condition = node.x.role == "master"
}
`, srv.Addr))
	topo := live.New(rb)
	defer topo.Close(context.Background())
	n, err := topo.Node("x")
	if err != nil {
		t.Fatal(err)
	}
	c, err := n.Client()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err == nil {
		t.Fatal("PING in plain text succeeded on a TLS-only server")
	}
}

// A tls block whose files cannot be used fails when the client is made,
// naming the node and the file, never showing what a key file holds.
func TestTLSConfigErrors(t *testing.T) {
	certs := redistest.NewCerts(t)
	dir := certs.Dir
	t.Setenv(tlsUserEnv, "app")
	if err := os.WriteFile(filepath.Join(dir, "app.pass"), []byte("app-pass-0b8d\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	serverKey, err := os.ReadFile(certs.ServerKey)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, tls, want string
	}{
		{
			name: "missing ca_file",
			tls:  `    ca_file = "nope/ca.pem"`,
			want: fmt.Sprintf(`node "x": tls: read ca_file %s: no such file or directory`, filepath.Join(dir, "nope/ca.pem")),
		},
		{
			name: "ca_file without a certificate",
			tls:  `    ca_file = "app.pass"`,
			want: fmt.Sprintf(`node "x": tls: ca_file %s holds no PEM certificate`, filepath.Join(dir, "app.pass")),
		},
		{
			name: "missing cert_file",
			tls:  "    cert_file = \"nope.pem\"\n    key_file = \"client.key\"",
			want: fmt.Sprintf(`node "x": tls: read cert_file %s: no such file or directory`, filepath.Join(dir, "nope.pem")),
		},
		{
			name: "missing key_file",
			tls:  "    cert_file = \"client.pem\"\n    key_file = \"/nonexistent/client.key\"",
			want: `node "x": tls: read key_file /nonexistent/client.key: no such file or directory`,
		},
		{
			name: "key of another certificate",
			tls:  "    cert_file = \"client.pem\"\n    key_file = \"server.key\"",
			want: fmt.Sprintf(`node "x": tls: cert_file %s with key_file %s: tls: private key does not match public key`, certs.ClientCert, certs.ServerKey),
		},
		{
			name: "key file given as certificate",
			tls:  "    cert_file = \"server.key\"\n    key_file = \"server.key\"",
			want: fmt.Sprintf(`node "x": tls: cert_file %s with key_file %s: tls: failed to find certificate PEM data in certificate input, but did find a private key; PEM inputs may have been switched`, certs.ServerKey, certs.ServerKey),
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rb, _ := loadTLS(t, dir, tlsRunbook("127.0.0.1:1", "app.pass", tc.tls, ""))
			topo := live.New(rb)
			defer topo.Close(context.Background())
			n, err := topo.Node("x")
			if err != nil {
				t.Fatal(err)
			}
			_, err = n.Client()
			if err == nil || err.Error() != tc.want {
				t.Fatalf("Client() error %v\nwant %s", err, tc.want)
			}
			for _, line := range strings.Split(string(serverKey), "\n") {
				if len(line) > 16 && !strings.HasPrefix(line, "-----") && strings.Contains(err.Error(), line) {
					t.Errorf("error shows the key file's content: %v", err)
				}
			}
		})
	}
}

// plan (validate mode, as `understudy plan` loads) in every format shows
// neither the password read with file() for the node nor a file() read in
// a step's env, and says that a rehearsal ignores the tls block.
func TestPlanHidesFilePassword(t *testing.T) {
	dir := t.TempDir()
	const password = "plan-pass-9e4b21"
	if err := os.WriteFile(filepath.Join(dir, "app.pass"), []byte(password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv(tlsUserEnv, "app")
	src := tlsRunbook("127.0.0.1:6380", "app.pass", `    ca_file = "ca.pem"`, `step "exec" "check" {
  command = ["/bin/true", file("app.pass")]
  env     = { REDISCLI_AUTH = file("app.pass") }
}
`)
	file := filepath.Join(dir, "tls.hcl")
	rb, diags := dsl.LoadSource(file, []byte(src), dsl.LoadOptions{Kinds: kinds.Registry, Mode: dsl.ModeValidate})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	p := report.BuildPlan(rb, file)
	p.Warnings = append(p.Warnings, rb.TLSNotes()...)
	for _, name := range report.FormatNames() {
		f, err := report.LookupFormat(name)
		if err != nil {
			t.Fatal(err)
		}
		var out strings.Builder
		if err := f.Plan(&out, p); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(out.String(), password) {
			t.Errorf("%s plan shows the password:\n%s", name, out.String())
		}
		for _, want := range []string{"ACL user (sensitive)", "a rehearsal ignores the tls block", `file(\"app.pass\")`} {
			if name != "json" {
				want = strings.ReplaceAll(want, `\"`, `"`)
			}
			if !strings.Contains(out.String(), want) {
				t.Errorf("%s plan lacks %q:\n%s", name, want, out.String())
			}
		}
	}

	// Loaded for apply, the node's password is resolved and still never shown.
	rb, diags = dsl.LoadSource(file, []byte(tlsRunbook("127.0.0.1:6380", "app.pass", `    ca_file = "ca.pem"`, "")), dsl.LoadOptions{Kinds: kinds.Registry, Mode: dsl.ModeLive})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	if rb.Nodes["x"].Password != password {
		t.Fatalf("live password not read from the file")
	}
	for _, name := range report.FormatNames() {
		f, _ := report.LookupFormat(name)
		var out strings.Builder
		if err := f.Plan(&out, report.BuildPlan(rb, file)); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(out.String(), password) {
			t.Errorf("%s plan (live) shows the password:\n%s", name, out.String())
		}
	}
}
