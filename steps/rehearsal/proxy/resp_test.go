package proxy

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
)

var big = strings.Repeat("x", 100_000)

var valueTests = []struct {
	name  string
	in    string
	kinds string // type byte of each top-level value, in order
}{
	{"simple string", "+OK\r\n", "+"},
	{"error", "-ERR unknown command\r\n", "-"},
	{"integer", ":1000\r\n", ":"},
	{"null", "_\r\n", "_"},
	{"double", ",3.14\r\n,inf\r\n", ",,"},
	{"big number", "(3492890328409238509324850943850943825024385\r\n", "("},
	{"boolean", "#t\r\n#f\r\n", "##"},
	{"bulk string", "$5\r\nhello\r\n", "$"},
	{"empty bulk", "$0\r\n\r\n", "$"},
	{"bulk with CRLF inside", "$4\r\na\r\nb\r\n", "$"},
	{"RESP2 null bulk", "$-1\r\n", "$"},
	{"RESP2 null array", "*-1\r\n", "*"},
	{"blob error", "!21\r\nSYNTAX invalid syntax\r\n", "!"},
	{"verbatim", "=15\r\ntxt:Some string\r\n", "="},
	{"array", "*2\r\n$3\r\nfoo\r\n:1\r\n", "*"},
	{"empty array", "*0\r\n", "*"},
	{"nested", "*2\r\n*3\r\n:1\r\n:2\r\n*1\r\n+x\r\n%1\r\n+k\r\n~2\r\n#t\r\n_\r\n", "*"},
	{"map", "%2\r\n+first\r\n:1\r\n+second\r\n*2\r\n:2\r\n:3\r\n", "%"},
	{"set", "~3\r\n+a\r\n+b\r\n,1.5\r\n", "~"},
	{"HELLO reply", "%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n7.0.15\r\n$5\r\nproto\r\n:3\r\n" +
		"$2\r\nid\r\n:5\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n", "%"},
	{"attribute before reply", "|1\r\n+key-popularity\r\n%2\r\n$1\r\na\r\n,0.1923\r\n$1\r\nb\r\n,0.0012\r\n*2\r\n:2039123\r\n:9543892\r\n", "*"},
	{"attribute inside aggregate", "*2\r\n:1\r\n|1\r\n+ttl\r\n:3600\r\n:2\r\n", "*"},
	{"push then reply", ">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n+OK\r\n", ">+"},
	{"invalidate push", ">2\r\n$10\r\ninvalidate\r\n*1\r\n$3\r\nkey\r\n:1\r\n", ">:"},
	{"streamed string", "$?\r\n;4\r\nHell\r\n;5\r\no wor\r\n;1\r\nd\r\n;0\r\n", "$"},
	{"streamed array", "*?\r\n:1\r\n*?\r\n+a\r\n.\r\n:3\r\n.\r\n", "*"},
	{"big bulk", "$100000\r\n" + big + "\r\n+OK\r\n", "$+"},
	{"long simple string", "+" + big + "\r\n:1\r\n", "+:"},
	{"pipeline", "+OK\r\n+OK\r\n:3\r\n$-1\r\n*1\r\n$1\r\na\r\n", "++:$*"},
}

// readers returns the same input split in several ways.
func readers(in string) map[string]func() *bufio.Reader {
	return map[string]func() *bufio.Reader{
		"whole":     func() *bufio.Reader { return bufio.NewReader(strings.NewReader(in)) },
		"one byte":  func() *bufio.Reader { return bufio.NewReaderSize(iotest.OneByteReader(strings.NewReader(in)), 16) },
		"half":      func() *bufio.Reader { return bufio.NewReaderSize(iotest.HalfReader(strings.NewReader(in)), 16) },
		"small buf": func() *bufio.Reader { return bufio.NewReaderSize(strings.NewReader(in), 16) },
	}
}

func TestFrameReaderValues(t *testing.T) {
	for _, tt := range valueTests {
		for how, newReader := range readers(tt.in) {
			t.Run(tt.name+"/"+how, func(t *testing.T) {
				var out bytes.Buffer
				f := frameReader{r: newReader(), w: &out}
				var kinds []byte
				for {
					k, err := f.Value()
					if errors.Is(err, io.EOF) {
						break
					}
					if err != nil {
						t.Fatalf("after %q: %v", kinds, err)
					}
					kinds = append(kinds, k)
				}
				if string(kinds) != tt.kinds {
					t.Errorf("kinds = %q, want %q", kinds, tt.kinds)
				}
				if out.String() != tt.in {
					t.Errorf("copied %d bytes, want the %d bytes read, unchanged", out.Len(), len(tt.in))
				}
			})
		}
	}
}

func TestFrameReaderValueBoundary(t *testing.T) {
	// Value must stop at the end of one value, leaving the next unread.
	in := "*2\r\n+a\r\n+b\r\n:7\r\n"
	var out bytes.Buffer
	f := frameReader{r: bufio.NewReader(strings.NewReader(in)), w: &out}
	if k, err := f.Value(); err != nil || k != '*' {
		t.Fatalf("Value = %q, %v", k, err)
	}
	if out.String() != "*2\r\n+a\r\n+b\r\n" {
		t.Fatalf("first value copied %q", out.String())
	}
	if f.r.Buffered() != len(":7\r\n") {
		t.Fatalf("%d bytes left buffered, want 4", f.r.Buffered())
	}
}

func TestFrameReaderErrors(t *testing.T) {
	for _, tt := range []struct {
		name, in string
		want     error // nil: any *ProtocolError
	}{
		{"unknown type", "?x\r\n", nil},
		{"no CR", "+OK\n", nil},
		{"bad length", "$x\r\n", nil},
		{"bulk without CRLF", "$3\r\nfooX\r\n", nil},
		{"stray end", ".\r\n", nil},
		{"end inside counted", "*2\r\n:1\r\n.\r\n", nil},
		{"truncated bulk", "$10\r\nabc", io.ErrUnexpectedEOF},
		{"truncated array", "*3\r\n:1\r\n", io.ErrUnexpectedEOF},
		{"truncated line", "+OK", io.ErrUnexpectedEOF},
		{"attribute without value", "|1\r\n+a\r\n+b\r\n", io.ErrUnexpectedEOF},
		{"too deep", strings.Repeat("*1\r\n", maxDepth+1) + ":1\r\n", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := frameReader{r: bufio.NewReader(strings.NewReader(tt.in)), w: io.Discard}
			_, err := f.Value()
			var pe *ProtocolError
			switch {
			case tt.want != nil && !errors.Is(err, tt.want):
				t.Fatalf("err = %v, want %v", err, tt.want)
			case tt.want == nil && !errors.As(err, &pe):
				t.Fatalf("err = %v, want a protocol error", err)
			}
		})
	}
}

func TestRequestReader(t *testing.T) {
	for _, tt := range []struct {
		name  string
		in    string
		args  []int64  // per request
		names []string // "NAME SUB" seen by decide, per request that runs
	}{
		{"array", "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n", []int64{3}, []string{"SET k"}},
		{"inline", "PING\r\n", []int64{1}, []string{"PING "}},
		{"inline with args", "set  k v\n", []int64{3}, []string{"set k"}},
		{"blank inline", "\r\n  \r\nPING\r\n", []int64{0, 0, 1}, []string{"PING "}},
		{"empty array", "*0\r\n*-1\r\n*1\r\n$4\r\nPING\r\n", []int64{0, 0, 1}, []string{"PING "}},
		{"pipeline", "*1\r\n$5\r\nMULTI\r\n*2\r\n$4\r\nINCR\r\n$1\r\nx\r\n*1\r\n$4\r\nEXEC\r\n",
			[]int64{1, 2, 1}, []string{"MULTI ", "INCR x", "EXEC "}},
		{"big value", "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$100000\r\n" + big + "\r\n", []int64{3}, []string{"SET k"}},
		{"big name", "*1\r\n$100000\r\n" + big + "\r\n", []int64{1}, []string{" "}},
	} {
		for how, newReader := range readers(tt.in) {
			t.Run(tt.name+"/"+how, func(t *testing.T) {
				q := newRequestReader(newReader())
				var out bytes.Buffer
				var args []int64
				var names []string
				for {
					n, _, err := q.Next(&out, func(name, sub []byte) bool {
						names = append(names, string(name)+" "+string(sub))
						return false
					})
					if errors.Is(err, io.EOF) {
						break
					}
					if err != nil {
						t.Fatal(err)
					}
					if err := q.Release(); err != nil {
						t.Fatal(err)
					}
					args = append(args, n)
				}
				if !slices.Equal(args, tt.args) {
					t.Errorf("args = %v, want %v", args, tt.args)
				}
				if !slices.Equal(names, tt.names) {
					t.Errorf("names = %q, want %q", names, tt.names)
				}
				if out.String() != tt.in {
					t.Errorf("copied %d bytes, want the %d bytes read, unchanged", out.Len(), len(tt.in))
				}
			})
		}
	}
}

func TestRequestReaderKeepsAndHolds(t *testing.T) {
	hello := "*5\r\n$5\r\nHELLO\r\n$1\r\n3\r\n$4\r\nAUTH\r\n$7\r\ndefault\r\n$6\r\nsecret\r\n"
	q := newRequestReader(bufio.NewReader(strings.NewReader(hello + "*1\r\n$4\r\nPING\r\n")))
	var out bytes.Buffer
	n, raw, err := q.Next(&out, func(name, sub []byte) bool { return classify(name, sub) == classSession })
	if err != nil || n != 5 {
		t.Fatalf("Next = %d, %v", n, err)
	}
	if string(raw) != hello {
		t.Fatalf("raw = %q", raw)
	}
	if out.Len() != 0 {
		t.Fatalf("a kept request was written before Release: %q", out.String())
	}
	if err := q.Release(); err != nil {
		t.Fatal(err)
	}
	if out.String() != hello {
		t.Fatalf("after Release wrote %q", out.String())
	}
	if _, raw, _ = q.Next(&out, func(name, sub []byte) bool { return false }); raw != nil {
		t.Fatalf("raw for a request not kept: %q", raw)
	}
}

func TestClassify(t *testing.T) {
	for _, tt := range []struct {
		name, sub string
		want      class
	}{
		{"set", "k", classPlain},
		{"hello", "3", classSession},
		{"Auth", "pw", classSession},
		{"SELECT", "1", classSession},
		{"client", "setname", classSession},
		{"CLIENT", "SETINFO", classSession},
		{"CLIENT", "TRACKING", classStateful},
		{"CLIENT", "MAINT_NOTIFICATIONS", classSession},
		{"CLIENT", "CACHING", classStateful},
		{"CLIENT", "NEWTHING", classStateful},
		{"CLIENT", "ID", classPlain},
		{"CLIENT", "REPLY", classStream},
		{"subscribe", "ch", classSubscribe},
		{"PUNSUBSCRIBE", "", classSubscribe},
		{"SSUBSCRIBE", "ch", classStream},
		{"ping", "", classPing},
		{"publish", "ch", classPublish},
		{"FCALL", "f", classPublish},
		{"MONITOR", "", classStream},
		{"multi", "", classMulti},
		{"EXEC", "", classEndTx},
		{"WATCH", "k", classWatch},
		{"RESET", "", classReset},
		{"blpop", "jobs", classBlocking},
		{"BZPOPMIN", "z", classBlocking},
		{"XREAD", "BLOCK", classBlocking},
		{"WAIT", "1", classBlocking},
		{"LPOP", "jobs", classPlain},
	} {
		var sub []byte
		if tt.sub != "" {
			sub = []byte(tt.sub)
		}
		if got := classify([]byte(tt.name), sub); got != tt.want {
			t.Errorf("classify(%s %s) = %d, want %d", tt.name, tt.sub, got, tt.want)
		}
	}
}
