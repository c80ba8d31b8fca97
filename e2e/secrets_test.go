package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/understudy/understudy/steps/report"
)

// A rehearsal whose runbook makes the servers and a local program echo the
// password in every form they know (CONFIG GET requirepass and masterauth,
// ACL LIST and ACL GETUSER with its SHA-256, an exec step printing the
// variable that holds it) passes, and neither the password nor its SHA-256
// appears in stdout, stderr or any file the run leaves behind; the report
// is private (0600) and still shows those steps' outputs, with
// "(sensitive)" where the secret was.
func TestSecretsNeverReachAnyOutput(t *testing.T) {
	dir := t.TempDir()
	password := secretsPassword(t)
	sum := sha256.Sum256([]byte(password))
	hash := hex.EncodeToString(sum[:])

	runbook := filepath.Join(dir, "replica-swap.hcl")
	if err := os.WriteFile(runbook, []byte(leakyReplicaSwap(t)), 0o644); err != nil {
		t.Fatal(err)
	}
	reportPath := filepath.Join(dir, "report.json")

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	args := []string{"rehearse", runbook, "--var", "from=7.0", "--var", "to=8.0",
		"--keys", "2000", "--rate", "200", "--report", reportPath}
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "UNDERSTUDY_REHEARSAL_PASSWORD="+password)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("understudy did not finish within 10 minutes\nstderr:\n%s", tail(stderr.String(), 40))
	}
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run understudy: %v", err)
	}

	// First the leaks, so that a failing run still reports them. The
	// messages name where the secret is, never the secret itself.
	leaks := map[string]string{"stdout": stdout.String(), "stderr": stderr.String()}
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		leaks["file "+rel] = string(b)
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", dir, err)
	}
	if _, ok := leaks["file report.json"]; !ok {
		t.Errorf("no report.json under %s", dir)
	}
	for where, text := range leaks {
		if strings.Contains(text, password) {
			t.Errorf("the password appears in %s", where)
		}
		if strings.Contains(strings.ToLower(text), hash) {
			t.Errorf("the password's SHA-256 appears in %s", where)
		}
	}

	if code != 0 {
		t.Fatalf("exit %d, want 0 (the rehearsal must pass)\nstderr:\n%s", code, redactFor(tail(stderr.String(), 40), password, hash))
	}
	fi, err := os.Stat(reportPath)
	if err != nil {
		t.Fatal(err)
	}
	if mode := fi.Mode().Perm(); mode != 0o600 {
		t.Errorf("report.json has mode %04o, want 0600", mode)
	}
	rep, err := report.Read(reportPath)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Status != "passed" {
		t.Fatalf("status %s, errors %v", rep.Status, rep.Errors)
	}

	// The outputs are still there, with the secret replaced in place.
	for _, want := range []struct {
		step string
		has  []string // substrings of the step's JSON output
	}{
		{"leak_requirepass", []string{"requirepass", `"(sensitive)"`}},
		{"leak_masterauth", []string{"masterauth", `"(sensitive)"`}},
		{"leak_acl_list", []string{"user default", "#(sensitive)"}},
		{"leak_acl_getuser", []string{"passwords", "(sensitive)"}},
		{"leak_exec", []string{`"pw=(sensitive)"`}},
	} {
		s := stepByName(rep, want.step)
		if s == nil {
			t.Errorf("step %s is not in the report", want.step)
			continue
		}
		if s.Status != "passed" {
			t.Errorf("step %s: %s (%s)", want.step, s.Status, s.Error)
		}
		out := string(s.Output)
		for _, sub := range want.has {
			if !strings.Contains(out, sub) {
				t.Errorf("step %s: output %s lacks %q", want.step, redactFor(out, password, hash), sub)
			}
		}
	}
}

// leakyReplicaSwap returns the shipped replica-swap runbook with steps that
// echo the password inserted before its first step, and one that reads
// masterauth on the new node after the replicate step.
func leakyReplicaSwap(t *testing.T) string {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(root, "runbooks", "replica-swap.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(src)
	const first = `step "command" "leak_requirepass" {
  node    = node.old
  command = ["CONFIG", "GET", "requirepass"]
}

step "command" "leak_acl_list" {
  node    = node.old
  command = ["ACL", "LIST"]
}

step "command" "leak_acl_getuser" {
  node    = node.old
  command = ["ACL", "GETUSER", "default"]
}

step "exec" "leak_exec" {
  command = ["sh", "-c", "echo pw=$UNDERSTUDY_REHEARSAL_PASSWORD"]
}

`
	const afterAttach = `

step "command" "leak_masterauth" {
  node    = node.new
  command = ["CONFIG", "GET", "masterauth"]
}`
	i := strings.Index(text, "\nstep \"")
	if i < 0 {
		t.Fatal("replica-swap.hcl has no step")
	}
	text = text[:i+1] + first + text[i+1:]
	j := strings.Index(text, "\nstep \"replicate\" \"attach\" {")
	if j < 0 {
		t.Fatal(`replica-swap.hcl has no step "replicate" "attach"`)
	}
	end := strings.Index(text[j:], "\n}\n")
	if end < 0 {
		t.Fatal("the attach step does not end")
	}
	at := j + end + len("\n}")
	return text[:at] + afterAttach + text[at:]
}

// secretsPassword returns a random password of 32 letters and digits (no
// character a shell, a config file or JSON would treat specially).
func secretsPassword(t *testing.T) string {
	t.Helper()
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// redactFor keeps a failing test's own messages free of the secrets.
func redactFor(s string, secrets ...string) string {
	for _, sec := range secrets {
		s = strings.ReplaceAll(s, sec, "(sensitive)")
	}
	return s
}
