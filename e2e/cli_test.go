package e2e

import (
	"encoding/json"
	"github.com/understudy/understudy/steps/report"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestValidateShippedRunbooks(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(root, "runbooks", "*.hcl"))
	examples, _ := filepath.Glob(filepath.Join(root, "runbooks", "examples", "*.hcl"))
	for _, f := range append(files, examples...) {
		rel, _ := filepath.Rel(root, f)
		res := understudy(t, time.Minute, "validate", rel)
		if res.code != 0 || !strings.Contains(res.stdout, "valid") {
			t.Errorf("validate %s: exit %d\n%s%s", rel, res.code, res.stdout, res.stderr)
		}
		res = understudy(t, time.Minute, "fmt", "-check", rel)
		if res.code != 0 {
			t.Errorf("%s is not formatted (understudy fmt):\n%s", rel, res.stdout)
		}
	}
}

func TestValidateReportsPosition(t *testing.T) {
	res := understudy(t, time.Minute, "validate", "dsl/testdata/invalid/references.hcl")
	if res.code != 2 {
		t.Fatalf("exit %d, want 2", res.code)
	}
	for _, want := range []string{
		"dsl/testdata/invalid/references.hcl:6:15: error: Reference to undeclared node",
		"on dsl/testdata/invalid/references.hcl line 6",
		`condition = node.olld.role == "master"`, // the snippet
		`Did you mean "old"?`,
	} {
		if !strings.Contains(res.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, res.stderr)
		}
	}
}

func TestPlanShowsResolvedValuesAndPointOfNoReturn(t *testing.T) {
	res := understudy(t, time.Minute, "plan", "runbooks/replica-swap.hcl", "--var", "from=6.0", "--var", "to=7.0")
	if res.code != 0 {
		t.Fatalf("exit %d\n%s", res.code, res.stderr)
	}
	for _, want := range []string{
		`from = "6.0"`,
		"rehearsal 6.0",
		"REPLICAOF redis-a.internal 6379 to node.new",
		"pause sequence (6.0, no WRITE pause)",
		"until (live): in_sync(node.new, node.old)",
		"POINT OF NO RETURN",
		"SET .. PXAT",
		"auth password (sensitive)",
	} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("plan lacks %q:\n%s", want, res.stdout)
		}
	}
	os.Setenv("REDIS_PASSWORD", "hunter2-secret")
	defer os.Unsetenv("REDIS_PASSWORD")
	for _, format := range []string{"text", "json", "markdown"} {
		res = understudy(t, time.Minute, "plan", "runbooks/replica-swap.hcl", "--format", format)
		if res.code != 0 || strings.Contains(res.stdout+res.stderr, "hunter2") {
			t.Errorf("plan --format %s: exit %d or the password is printed", format, res.code)
		}
		if format == "json" {
			var p report.Plan
			if err := json.Unmarshal([]byte(res.stdout), &p); err != nil || len(p.Steps) != 10 {
				t.Fatalf("json plan: %v, want 10 steps\n%s", err, res.stdout)
			}
			i := slices.IndexFunc(p.Steps, func(s report.PlanStep) bool { return s.Kind == "switchover" })
			if i < 0 || len(p.Steps[i].Sends) == 0 || p.Steps[i].PointOfNoReturn == "" {
				t.Errorf("json plan: the switchover step lacks what it sends or its point of no return\n%s", res.stdout)
			}
		}
	}
	if !strings.Contains(res.stdout, "### understudy plan") {
		t.Errorf("markdown plan:\n%s", res.stdout)
	}
}

func TestFmtRewrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "messy.hcl")
	if err := os.WriteFile(path, []byte("node \"a\" {\naddress=\"x:1\"\n}\nstep \"promote\" \"p\" {\n  node=node.a\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if res := understudy(t, time.Minute, "fmt", "-check", path); res.code != 1 {
		t.Errorf("fmt -check on a messy file: exit %d, want 1", res.code)
	}
	if res := understudy(t, time.Minute, "fmt", path); res.code != 0 {
		t.Fatalf("fmt: exit %d\n%s", res.code, res.stderr)
	}
	b, _ := os.ReadFile(path)
	if !strings.Contains(string(b), `  address = "x:1"`) {
		t.Errorf("not formatted:\n%s", b)
	}
	if res := understudy(t, time.Minute, "fmt", "-check", path); res.code != 0 {
		t.Errorf("fmt -check after fmt: exit %d", res.code)
	}
}

// Every unusable command line exits 2 and names what is wrong, not only
// the usage; nothing starts.
func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{}, "Usage: understudy <command>"},
		{[]string{"bogus"}, `unknown command "bogus"`},
		{[]string{"plan"}, "plan needs the runbook file"},
		{[]string{"plan", "runbooks/replica-swap.hcl", "runbooks/rolling-upgrade.hcl"}, "plan takes one runbook file, got 2: runbooks/replica-swap.hcl runbooks/rolling-upgrade.hcl"},
		{[]string{"plan", "runbooks/replica-swap.hcl", "--format", "yaml"}, `unknown format "yaml": the formats are text, markdown, json`},
		{[]string{"plan", "runbooks/replica-swap.hcl", "--bogus"}, "flag provided but not defined: -bogus"},
		{[]string{"validate"}, "validate needs at least one runbook file"},
		{[]string{"fmt"}, "fmt needs at least one runbook file"},
		{[]string{"rehearse"}, "rehearse needs the runbook file"},
		{[]string{"rehearse", "a.hcl", "b.hcl"}, "rehearse takes one runbook file, got 2"},
		{[]string{"rehearse", "runbooks/replica-swap.hcl", "--images", "cloud"}, `"cloud"`},
		{[]string{"rehearse", "runbooks/replica-swap.hcl", "--report-mode", "rw"}, `--report-mode "rw" is not a file mode`},
		{[]string{"rehearse", "runbooks/replica-swap.hcl", "--var", "nonsense"}, "nonsense"},
		{[]string{"rehearse", "runbooks/replica-swap.hcl", "--var", "tooo=8.0"}, `Did you mean "to"?`},
		{[]string{"rehearse", "runbooks/replica-swap.hcl", "--var", "to="}, "Invalid version"},
		{[]string{"plan", "no-such-file.hcl"}, "no-such-file.hcl"},
	} {
		res := understudy(t, time.Minute, tc.args...)
		if res.code != 2 {
			t.Errorf("understudy %v: exit %d, want 2", tc.args, res.code)
		}
		if out := res.stdout + res.stderr; !strings.Contains(out, tc.want) {
			t.Errorf("understudy %v does not say %q:\n%s", tc.args, tc.want, out)
		}
	}
}

// A file that is not HCL at all: at most ten diagnostics and a count of the
// rest, and no raw control character from the file reaches the terminal.
func TestGarbageFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "garbage.hcl")
	garbage := []byte("node \"a\" {\n  address = \"\x1b[31mred\"\n}\n\x00\x01\x07garbage {{{{ \x1b]0;title\x07\n")
	for i := 0; i < 50; i++ {
		garbage = append(garbage, []byte("\x00\x02 ;;;; \x1b[2J\n")...)
	}
	if err := os.WriteFile(path, garbage, 0o644); err != nil {
		t.Fatal(err)
	}
	res := understudy(t, time.Minute, "validate", path)
	if res.code != 2 {
		t.Fatalf("exit %d", res.code)
	}
	if n := strings.Count(res.stderr, ": error: "); n != 10 {
		t.Errorf("%d diagnostics shown, want 10", n)
	}
	if !regexp.MustCompile(`\.\.\. and \d+ more diagnostic\(s\)`).MatchString(res.stderr) {
		t.Errorf("no count of the rest:\n%s", tail(res.stderr, 5))
	}
	for _, r := range res.stderr {
		if r < 0x20 && r != '\n' && r != '\t' || r == 0x7f {
			t.Fatalf("a raw control character %U reached the output", r)
		}
	}
}
