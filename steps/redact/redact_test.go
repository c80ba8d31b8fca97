package redact

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/zclconf/go-cty/cty"
)

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func jsonOf(s string) string {
	b, err := json.Marshal(s)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func TestString(t *testing.T) {
	const pw = "Sup3r-Secret-Passw0rd"
	quoted := `pa"ss\word`
	for _, tc := range []struct {
		name    string
		secrets []string
		in      string
		want    string
	}{
		{"plain", []string{pw}, "requirepass " + pw + "\n", "requirepass (sensitive)\n"},
		{"every occurrence", []string{pw}, pw + "," + pw + pw, "(sensitive),(sensitive)(sensitive)"},
		{"no secret in text", []string{pw}, "nothing to see", "nothing to see"},
		{"one contains the other", []string{"hunter2", "my-hunter2-pass"}, "a=my-hunter2-pass b=hunter2", "a=(sensitive) b=(sensitive)"},
		{"one contains the other, added the other way", []string{"my-hunter2-pass", "hunter2"}, "my-hunter2-pass", "(sensitive)"},
		{"overlapping secrets become one", []string{"abcdef", "defghi"}, "xxabcdefghixx", "xx(sensitive)xx"},
		{"overlapping occurrences of one secret", []string{"aaaa"}, "baaaaab", "b(sensitive)b"},
		{"sha256 in ACL LIST", []string{pw}, "user default on #" + sha(pw) + " ~* &* +@all", "user default on #(sensitive) ~* &* +@all"},
		{"sha256 in ACL GETUSER", []string{pw}, `{"passwords":["` + sha(pw) + `"]}`, `{"passwords":["(sensitive)"]}`},
		{"JSON-escaped quote and backslash", []string{quoted}, `{"reply":` + jsonOf(quoted) + `}`, `{"reply":"(sensitive)"}`},
		{"Go %q-escaped", []string{quoted}, fmt.Sprintf("got %q", quoted), `got "(sensitive)"`},
		{"Go %+q of non-ASCII", []string{"pässwörd"}, fmt.Sprintf("%+q", "pässwörd"), `"(sensitive)"`},
		{"JSON HTML escapes", []string{"a<b>&c"}, jsonOf("a<b>&c"), `"(sensitive)"`},
		{"NFC form", []string{"cafe\u0301-pw"}, "x caf\u00e9-pw", "x (sensitive)"},
		{"short secrets ignored", []string{"a", "ok", "pwd"}, "a ok pwd password", "a ok pwd password"},
		{"empty secret ignored", []string{""}, "anything", "anything"},
		{"four bytes is enough", []string{"abcd"}, "xabcdx", "x(sensitive)x"},
		{"no secrets", nil, pw, pw},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := New(tc.secrets...)
			if got := s.String(tc.in); got != tc.want {
				t.Errorf("String(%q) = %q, want %q", tc.in, got, tc.want)
			}
			if got := string(s.Bytes([]byte(tc.in))); got != tc.want {
				t.Errorf("Bytes(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestAddKeepsOldSecrets(t *testing.T) {
	s := New("first-secret")
	s.Add("second-secret", "x")
	if got := s.String("first-secret second-secret x"); got != "(sensitive) (sensitive) x" {
		t.Errorf("got %q", got)
	}
	if !s.Contains("..second-secret..") || s.Contains("secret") || s.Empty() {
		t.Error("Contains/Empty")
	}
	if !New("x", "").Empty() || !(&Secrets{}).Empty() {
		t.Error("a set of only short secrets is not empty")
	}
}

func TestNilReceiver(t *testing.T) {
	var s *Secrets
	const text = "secret-text"
	if s.String(text) != text || string(s.Bytes([]byte(text))) != text || !s.Empty() || s.Contains(text) {
		t.Error("nil redacted something")
	}
	v := cty.ObjectVal(map[string]cty.Value{"a": cty.StringVal(text)})
	if !s.Value(v).RawEquals(v) {
		t.Error("nil changed a value")
	}
	var out bytes.Buffer
	w := s.Writer(&out)
	io.WriteString(w, text)
	if err := w.Close(); err != nil || out.String() != text {
		t.Errorf("nil writer: %q, %v", out.String(), err)
	}
	var zero Secrets
	if zero.String(text) != text {
		t.Error("zero value redacted something")
	}
}

func TestValue(t *testing.T) {
	const pw = "Sup3r-Secret-Passw0rd"
	s := New(pw)
	str := cty.StringVal
	for _, tc := range []struct {
		name   string
		in     cty.Value
		want   cty.Value
		same   bool // want == in
		nAttrs int
	}{
		{name: "string", in: str("pw=" + pw), want: str("pw=(sensitive)")},
		{name: "nested object with a list and a map", in: cty.ObjectVal(map[string]cty.Value{
			"reply": cty.ListVal([]cty.Value{str("requirepass"), str(pw)}),
			"users": cty.MapVal(map[string]cty.Value{"default": str("#" + sha(pw)), "app": str("nopass")}),
			"deep":  cty.TupleVal([]cty.Value{cty.NumberIntVal(1), cty.ObjectVal(map[string]cty.Value{"x": str(pw)})}),
		}), want: cty.ObjectVal(map[string]cty.Value{
			"reply": cty.ListVal([]cty.Value{str("requirepass"), str("(sensitive)")}),
			"users": cty.MapVal(map[string]cty.Value{"default": str("#(sensitive)"), "app": str("nopass")}),
			"deep":  cty.TupleVal([]cty.Value{cty.NumberIntVal(1), cty.ObjectVal(map[string]cty.Value{"x": str("(sensitive)")})}),
		})},
		{name: "map keys and attribute names", in: cty.ObjectVal(map[string]cty.Value{
			pw:       str("a"),
			"k" + pw: cty.MapVal(map[string]cty.Value{pw: str(pw), "other": str("b")}),
		}), want: cty.ObjectVal(map[string]cty.Value{
			"(sensitive)":  str("a"),
			"k(sensitive)": cty.MapVal(map[string]cty.Value{"(sensitive)": str("(sensitive)"), "other": str("b")}),
		})},
		{name: "colliding keys keep the structure", in: cty.MapVal(map[string]cty.Value{
			pw: str("1"), sha(pw): str("2"), "(sensitive)": str("3"),
		}), want: cty.MapVal(map[string]cty.Value{
			"(sensitive)": str("3"), "(sensitive)#2": str("2"), "(sensitive)#3": str("1"),
		})},
		{name: "set", in: cty.SetVal([]cty.Value{str(pw), str("x")}), want: cty.SetVal([]cty.Value{str("(sensitive)"), str("x")})},
		{name: "marks kept", in: cty.ListVal([]cty.Value{str(pw).Mark("m"), str("x")}).Mark("outer"),
			want: cty.ListVal([]cty.Value{str("(sensitive)").Mark("m"), str("x")}).Mark("outer")},
		{name: "unknown", in: cty.UnknownVal(cty.String), same: true},
		{name: "null", in: cty.NullVal(cty.String), same: true},
		{name: "unknown inside", in: cty.TupleVal([]cty.Value{cty.DynamicVal, str(pw)}),
			want: cty.TupleVal([]cty.Value{cty.DynamicVal, str("(sensitive)")})},
		{name: "numbers and bools", in: cty.TupleVal([]cty.Value{cty.NumberIntVal(1234567), cty.True}), same: true},
		{name: "empty collections", in: cty.TupleVal([]cty.Value{cty.EmptyObjectVal, cty.ListValEmpty(cty.String), cty.MapValEmpty(cty.String), cty.EmptyTupleVal}), same: true},
		{name: "NilVal", in: cty.NilVal, same: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := tc.want
			if tc.same {
				want = tc.in
			}
			got := s.Value(tc.in)
			if !got.RawEquals(want) {
				t.Errorf("Value(%#v)\n got %#v\nwant %#v", tc.in, got, want)
			}
		})
	}
}

// chunked writes the parts to a new Writer, then closes it.
func chunked(t *testing.T, s *Secrets, parts ...string) string {
	t.Helper()
	var out bytes.Buffer
	w := s.Writer(&out)
	for _, p := range parts {
		n, err := io.WriteString(w, p)
		if err != nil || n != len(p) {
			t.Fatalf("Write(%q) = %d, %v", p, n, err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

func TestWriter(t *testing.T) {
	const pw = "Sup3r-Secret-Passw0rd"
	s := New(pw, "two\nlines-secret")
	long := strings.Repeat("x", MaxLine+100)
	for _, tc := range []struct {
		name  string
		parts []string
		want  string
	}{
		{"secret split across three writes", []string{"auth Sup3", "r-Secret-Pa", "ssw0rd ok\n"}, "auth (sensitive) ok\n"},
		{"one byte at a time", strings.Split("a "+pw+" b\n", ""), "a (sensitive) b\n"},
		{"lines", []string{"one\ntwo " + pw + "\nthr", "ee\n"}, "one\ntwo (sensitive)\nthree\n"},
		{"no final newline: Close writes it", []string{"tail " + pw[:5], pw[5:]}, "tail (sensitive)"},
		{"secret with a newline across writes", []string{"a two\n", "lines-secret b\n"}, "a (sensitive) b\n"},
		{"long line, secret at the boundary", []string{long[:MaxLine-3] + pw[:10], pw[10:] + long[:200] + "\n"}, long[:MaxLine-3] + "(sensitive)" + long[:200] + "\n"},
		{"long line, whole secret across the cut", []string{long[:MaxLine] + pw + long[:50], "\n"}, long[:MaxLine] + "(sensitive)" + long[:50] + "\n"},
		{"long line in one write", []string{long + pw + long + "\n"}, long + "(sensitive)" + long + "\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := chunked(t, s, tc.parts...); got != tc.want {
				t.Errorf("got %q, want %q", trim(got), trim(tc.want))
			}
		})
	}
}

func trim(s string) string {
	if len(s) > 200 {
		return fmt.Sprintf("%s…(%d bytes)…%s", s[:80], len(s)-160, s[len(s)-80:])
	}
	return s
}

// Whatever the split of a stream into writes, the output is the redacted
// stream; the buffer stays bounded on a line that never ends.
func TestWriterRandomSplits(t *testing.T) {
	secrets := []string{"Sup3r-Secret-Passw0rd", "Secret", `q"uo\te`}
	s := New(secrets...)
	r := rand.New(rand.NewPCG(1, 2))
	pieces := append([]string{"\n", " ", "abc", jsonOf(secrets[2]), sha(secrets[0]), strings.Repeat("y", 5000)}, secrets...)
	for i := range 60 {
		var text strings.Builder
		for text.Len() < 100000 {
			text.WriteString(pieces[r.IntN(len(pieces))])
		}
		in := text.String()
		if i%2 == 0 {
			in = strings.ReplaceAll(in, "\n", "") // one very long line
		}
		var parts []string
		for rest := in; rest != ""; {
			n := min(1+r.IntN(3000), len(rest))
			parts = append(parts, rest[:n])
			rest = rest[n:]
		}
		var out bytes.Buffer
		w := s.NewWriter(&out)
		for _, p := range parts {
			io.WriteString(w, p)
			if len(w.buf) > MaxLine+len(p)+64 {
				t.Fatalf("buffer holds %d bytes", len(w.buf))
			}
		}
		w.Close()
		got := out.String()
		for _, sec := range append(secrets, sha(secrets[0])) {
			if strings.Contains(got, sec) {
				t.Fatalf("run %d: %q in the output", i, sec)
			}
		}
		if i%2 == 1 && got != s.String(in) {
			t.Fatalf("run %d: output differs from String of the whole text", i)
		}
	}
}

// A run of overlapping occurrences longer than MaxLine still leaves the
// buffer bounded.
func TestWriterLongRunOfSecrets(t *testing.T) {
	s := New("aaaa")
	var out bytes.Buffer
	w := s.NewWriter(&out)
	io.WriteString(w, "x")
	chunk := strings.Repeat("a", 1000)
	for range 300 {
		io.WriteString(w, chunk)
		if len(w.buf) > MaxLine+len(chunk)+8 {
			t.Fatalf("buffer holds %d bytes", len(w.buf))
		}
	}
	io.WriteString(w, "x\n")
	w.Close()
	got := out.String()
	if strings.Contains(got, "aaaa") || !strings.HasPrefix(got, "x(sensitive)") || !strings.HasSuffix(got, "x\n") {
		t.Errorf("got %q", trim(got))
	}
}

func TestWriterConcurrent(t *testing.T) {
	const pw = "Sup3r-Secret-Passw0rd"
	s := New(pw)
	var out bytes.Buffer
	w := s.Writer(&out)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				// Each line in one write, so that lines do not interleave.
				fmt.Fprintf(w, "goroutine %d line %d: %s\n", g, i, pw)
			}
		})
	}
	wg.Go(func() { // secrets added while writing
		for i := range 50 {
			s.Add(fmt.Sprintf("late-secret-%d", i))
		}
	})
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 8*200 {
		t.Fatalf("%d lines", len(lines))
	}
	for _, l := range lines {
		if !strings.HasSuffix(l, ": (sensitive)") {
			t.Fatalf("line %q", l)
		}
	}
}

type failing struct{ n int }

func (f *failing) Write(p []byte) (int, error) {
	f.n++
	return 0, errors.New("disk full")
}

func TestWriterErrors(t *testing.T) {
	f := &failing{}
	w := New("secret-one").Writer(f)
	if _, err := io.WriteString(w, "line\n"); err == nil {
		t.Error("no error from the underlying writer")
	}
	if _, err := io.WriteString(w, "line\n"); err == nil || f.n != 1 {
		t.Errorf("error not sticky: %v, %d writes", err, f.n)
	}
	var out bytes.Buffer
	w = New("secret-one").Writer(&out)
	io.WriteString(w, "half")
	w.Close()
	if _, err := io.WriteString(w, "more\n"); !errors.Is(err, ErrClosed) {
		t.Errorf("write after Close: %v", err)
	}
	if err := w.Close(); err != nil || out.String() != "half" {
		t.Errorf("second Close: %v, %q", err, out.String())
	}
}
