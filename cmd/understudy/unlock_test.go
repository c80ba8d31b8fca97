package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/understudy/understudy/internal/redistest"
	"github.com/understudy/understudy/steps/apply"
)

func TestRunUnlock(t *testing.T) {
	s := redistest.Start(t)
	path := filepath.Join(t.TempDir(), "upgrade.hcl")
	src := fmt.Sprintf(`node "old" {
  address  = %q
  password = env("UNLOCK_TEST_PASSWORD")
}

step "assert" "is_master" {
  condition = node.old.role == "master"
}
`, s.Addr)
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("UNLOCK_TEST_PASSWORD", s.Password)

	c := s.Client()
	defer c.Close()
	ctx := context.Background()
	li := apply.NewLockInfo("apply", path, "test")
	if _, err := apply.Acquire(ctx, []apply.Node{{Name: "old", Client: c}}, li, time.Minute); err != nil {
		t.Fatal(err)
	}
	held := func() bool {
		err := c.Get(ctx, apply.LockKey).Err()
		if err != nil && !errors.Is(err, goredis.Nil) {
			t.Fatal(err)
		}
		return err == nil
	}

	// In order: each case runs against what the previous ones left.
	for _, tc := range []struct {
		name      string
		args      []string
		code      int
		stdout    []string
		stderr    []string
		stillHeld bool
	}{
		{"no lock ID", []string{path}, exitUsage, nil, []string{"unlock needs the runbook file and the lock ID", "Usage: understudy unlock"}, true},
		{"wrong ID", []string{path, "0123456789abcdef"}, exitFailed, nil,
			[]string{"refused, nothing removed", `node "old" is locked by ` + li.Who, "lock ID " + li.ID, "understudy unlock " + path + " " + li.ID}, true},
		{"right ID", []string{path, li.ID}, exitOK, []string{`Removed lock ` + li.ID + ` from node "old": it was held by ` + li.Who, fmt.Sprintf("pid %d", li.PID), "running apply of " + path}, nil, false},
		{"bad var file", []string{path, li.ID, "--var-file", filepath.Join(t.TempDir(), "missing.hcl")}, exitUsage, nil, []string{"missing.hcl"}, false},
		{"gone", []string{path, li.ID}, exitFailed, nil, []string{"no node holds the lock"}, false},
	} {
		var stdout, stderr bytes.Buffer
		code := runUnlock(tc.args, &stdout, &stderr)
		t.Logf("%s: exit %d\nstdout: %s\nstderr: %s", tc.name, code, stdout.String(), stderr.String())
		if code != tc.code {
			t.Errorf("%s: exit %d, want %d\nstdout: %s\nstderr: %s", tc.name, code, tc.code, stdout.String(), stderr.String())
		}
		for _, want := range tc.stdout {
			if !strings.Contains(stdout.String(), want) {
				t.Errorf("%s: stdout %q does not say %q", tc.name, stdout.String(), want)
			}
		}
		for _, want := range tc.stderr {
			if !strings.Contains(stderr.String(), want) {
				t.Errorf("%s: stderr %q does not say %q", tc.name, stderr.String(), want)
			}
		}
		if strings.Contains(stdout.String()+stderr.String(), s.Password) {
			t.Errorf("%s: the password appears in the output", tc.name)
		}
		if got := held(); got != tc.stillHeld {
			t.Errorf("%s: lock held %v, want %v", tc.name, got, tc.stillHeld)
		}
	}
}
