package dsl_test

import (
	"bufio"
	"fmt"
	"github.com/understudy/understudy/dsl"
	"github.com/understudy/understudy/steps/kinds"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

// Every file in testdata/valid and every shipped runbook loads without
// errors or warnings.
func TestLoadValid(t *testing.T) {
	var files []string
	for _, pattern := range []string{"testdata/valid/*.hcl", "../runbooks/*.hcl", "../runbooks/examples/*.hcl"} {
		m, _ := filepath.Glob(pattern)
		files = append(files, m...)
	}
	if len(files) < 2 {
		t.Fatal("no fixtures")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			r, diags := dsl.Load([]string{f}, dsl.LoadOptions{Kinds: kinds.Registry, Mode: dsl.ModeValidate})
			for _, d := range diags {
				t.Errorf("unexpected diagnostic: %s", dsl.DiagnosticLine(d))
			}
			if r == nil || len(r.Steps) == 0 {
				t.Fatal("no steps decoded")
			}
		})
	}
}

var expectRe = regexp.MustCompile(`#\s*(ERROR|WARNING)(?:@(\d+))?:\s*(.+?)\s*$`)

type expectedDiag struct {
	severity string
	line     int
	summary  string
}

func (e expectedDiag) String() string {
	return fmt.Sprintf("%s line %d: %s", e.severity, e.line, e.summary)
}

// Every file in testdata/invalid marks the lines where a diagnostic is
// expected with a comment "# ERROR: Summary" (or "# ERROR@N: Summary" for
// line N); the diagnostics must be exactly those, at those lines.
func TestLoadInvalid(t *testing.T) {
	files, _ := filepath.Glob("testdata/invalid/*.hcl")
	if len(files) == 0 {
		t.Fatal("no fixtures")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			want := readExpectations(t, f)
			_, diags := dsl.Load([]string{f}, dsl.LoadOptions{Kinds: kinds.Registry, Mode: dsl.ModeValidate})
			var got []expectedDiag
			for _, d := range diags {
				if d.Subject == nil {
					t.Errorf("diagnostic without a source range: %s", dsl.DiagnosticLine(d))
					continue
				}
				if d.Subject.Filename != f {
					t.Errorf("diagnostic in %s, want %s", d.Subject.Filename, f)
				}
				if d.Subject.Start.Column < 1 {
					t.Errorf("diagnostic without a column: %s", dsl.DiagnosticLine(d))
				}
				sev := "ERROR"
				if d.Severity == hcl.DiagWarning {
					sev = "WARNING"
				}
				got = append(got, expectedDiag{sev, d.Subject.Start.Line, d.Summary})
			}
			sortDiags(want)
			sortDiags(got)
			if fmt.Sprint(want) != fmt.Sprint(got) {
				t.Errorf("diagnostics differ\nwant:\n  %s\ngot:\n  %s\nfull:\n%s",
					joinDiags(want), joinDiags(got), diagText(diags))
			}
			if !diags.HasErrors() && !strings.Contains(f, "warn") {
				t.Error("an invalid fixture produced no error")
			}
		})
	}
}

func readExpectations(t *testing.T, path string) []expectedDiag {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []expectedDiag
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		m := expectRe.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		l := line
		if m[2] != "" {
			l, _ = strconv.Atoi(m[2])
		}
		out = append(out, expectedDiag{m[1], l, m[3]})
	}
	if len(out) == 0 {
		t.Fatalf("%s has no # ERROR: comments", path)
	}
	return out
}

func sortDiags(d []expectedDiag) {
	sort.Slice(d, func(i, j int) bool {
		if d[i].line != d[j].line {
			return d[i].line < d[j].line
		}
		return d[i].summary < d[j].summary
	})
}

func joinDiags(d []expectedDiag) string {
	var s []string
	for _, x := range d {
		s = append(s, x.String())
	}
	return strings.Join(s, "\n  ")
}

func diagText(diags hcl.Diagnostics) string {
	var b strings.Builder
	_ = dsl.WriteDiagnostics(&b, nil, diags, false)
	return b.String()
}
