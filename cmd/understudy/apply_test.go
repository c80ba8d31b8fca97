package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/understudy/understudy/internal/redistest"
)

// TestApplyResumeRefusals: a resume is refused before it connects when the
// runbook changed since the journal began, and when the journaled run
// ended; a fresh apply of a one-step runbook against a real server writes
// the journal the resume reads.
func TestApplyResumeRefusals(t *testing.T) {
	s := redistest.Start(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "check.hcl")
	src := fmt.Sprintf(`node "old" {
  address  = %q
  password = env("APPLY_TEST_PASSWORD")
}

step "assert" "is_master" {
  condition = node.old.role == "master"
}
`, s.Addr)
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("APPLY_TEST_PASSWORD", s.Password)
	journal := filepath.Join(dir, "check.journal")

	run := func(args ...string) (int, string, string) {
		var stdout, stderr bytes.Buffer
		code := run(append([]string{"apply"}, args...), &stdout, &stderr)
		if strings.Contains(stdout.String()+stderr.String(), s.Password) {
			t.Errorf("the password appears in the output of apply %v", args)
		}
		return code, stdout.String(), stderr.String()
	}
	if code, out, errs := run(path, "--auto-approve", "--journal", journal, "--canary-rate", "-1"); code != exitOK {
		t.Fatalf("apply: exit %d\n%s\n%s", code, out, errs)
	}
	if b, err := os.ReadFile(journal); err != nil || strings.Contains(string(b), s.Password) {
		t.Fatalf("journal: %v (or it holds the password)", err)
	}
	if code, _, errs := run("--resume", journal); code != exitUsage || !strings.Contains(errs, "the run ended") {
		t.Errorf("resume of an ended run: exit %d\n%s", code, errs)
	}
	if err := os.WriteFile(path, []byte(src+"\n# changed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := run("--resume", journal); code != exitUsage || !strings.Contains(errs, "other files") {
		t.Errorf("resume with a changed runbook: exit %d\n%s", code, errs)
	}
}
