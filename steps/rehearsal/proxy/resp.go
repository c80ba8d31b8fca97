package proxy

import (
	"bufio"
	"errors"
	"fmt"
	"io"
)

// maxDepth bounds the nesting of aggregates in one value.
const maxDepth = 256

// ProtocolError reports bytes that are not valid RESP. The proxy closes the
// connection on which it saw them: once framing is lost it cannot count
// commands and replies any more.
type ProtocolError struct {
	Msg string
}

func (e *ProtocolError) Error() string { return "resp: " + e.Msg }

func protocolErrorf(format string, args ...any) error {
	return &ProtocolError{Msg: fmt.Sprintf(format, args...)}
}

// frameReader copies RESP values from r to w one complete value at a time,
// tracking frame boundaries without decoding values into objects. Bulk
// payloads are streamed, so a value of any size needs no more memory than the
// bufio buffers.
//
// It understands RESP2 and every RESP3 type: simple (+ - : _ , ( #), blob
// ($ ! =, including RESP2 nulls $-1 and the streamed form $?), aggregates
// (* ~ > %, including *-1 and the streamed form *? ... .), and attributes (|),
// which annotate the value that follows and are copied with it.
type frameReader struct {
	r *bufio.Reader
	w io.Writer
}

// Value copies one complete value, and any attributes before it, and returns
// its type byte: '>' for a push message, '-' or '!' for an error reply.
func (f *frameReader) Value() (byte, error) {
	t, err := f.value(0)
	if err != nil {
		return 0, err
	}
	if t == '.' {
		return 0, protocolErrorf("end of streamed aggregate outside one")
	}
	return t, nil
}

// value copies one value and returns its type. It returns '.' for the
// terminator of a streamed aggregate; callers decide whether that is allowed.
func (f *frameReader) value(depth int) (byte, error) {
	for attr := false; ; attr = true {
		line, err := f.line()
		if err != nil {
			// A clean end of stream is only clean between two values.
			return 0, unexpectedIf(depth > 0 || attr, err)
		}
		t, err := f.body(line, depth)
		if err != nil {
			return 0, err
		}
		if t != '|' {
			return t, nil
		}
		// An attribute is followed by the value it describes.
	}
}

// body copies the rest of the value whose header line has been copied already.
func (f *frameReader) body(line []byte, depth int) (byte, error) {
	if len(line) < 3 || line[len(line)-2] != '\r' {
		return 0, protocolErrorf("malformed line %q", clip(line))
	}
	t := line[0]
	arg := line[1 : len(line)-2]
	switch t {
	case '+', '-', ':', '_', ',', '(', '#', '.':
		return t, nil
	case '$', '!', '=':
		if len(arg) == 1 && arg[0] == '?' {
			return t, f.streamedBlob()
		}
		n, err := parseLen(arg)
		if err != nil {
			return 0, err
		}
		if n < 0 {
			return t, nil // RESP2 null bulk string
		}
		return t, f.payload(n)
	case '*', '~', '>', '%', '|':
		if depth >= maxDepth {
			return 0, protocolErrorf("aggregates nested deeper than %d", maxDepth)
		}
		if len(arg) == 1 && arg[0] == '?' {
			return t, f.streamedAggregate(depth)
		}
		n, err := parseLen(arg)
		if err != nil {
			return 0, err
		}
		if t == '%' || t == '|' {
			n *= 2
		}
		for i := int64(0); i < n; i++ {
			k, err := f.value(depth + 1)
			if err != nil {
				return 0, unexpected(err)
			}
			if k == '.' {
				return 0, protocolErrorf("end of streamed aggregate inside a counted one")
			}
		}
		return t, nil
	default:
		return 0, protocolErrorf("unknown type byte %q", t)
	}
}

// streamedBlob copies the chunks of a streamed string: ";n\r\n" then n bytes
// and CRLF, until ";0\r\n".
func (f *frameReader) streamedBlob() error {
	for {
		line, err := f.line()
		if err != nil {
			return unexpected(err)
		}
		if len(line) < 3 || line[0] != ';' || line[len(line)-2] != '\r' {
			return protocolErrorf("malformed chunk header %q", clip(line))
		}
		n, err := parseLen(line[1 : len(line)-2])
		if err != nil {
			return err
		}
		if n <= 0 {
			return nil
		}
		if err := f.payload(n); err != nil {
			return err
		}
	}
}

// streamedAggregate copies values until the "." terminator.
func (f *frameReader) streamedAggregate(depth int) error {
	for {
		k, err := f.value(depth + 1)
		if err != nil {
			return err
		}
		if k == '.' {
			return nil
		}
	}
}

// payload copies n bytes and the CRLF after them.
func (f *frameReader) payload(n int64) error {
	if _, err := io.CopyN(f.w, f.r, n); err != nil {
		return unexpected(err)
	}
	var crlf [2]byte
	if _, err := io.ReadFull(f.r, crlf[:]); err != nil {
		return unexpected(err)
	}
	if crlf != [2]byte{'\r', '\n'} {
		return protocolErrorf("bulk payload not followed by CRLF")
	}
	_, err := f.w.Write(crlf[:])
	return err
}

// line copies one '\n'-terminated line to w and returns it. A line longer
// than the read buffer is copied in pieces; then only its start and its last
// two bytes are returned, enough for the callers, which parse short headers.
func (f *frameReader) line() ([]byte, error) {
	b, err := f.r.ReadSlice('\n')
	if err == nil {
		if _, werr := f.w.Write(b); werr != nil {
			return nil, werr
		}
		return b, nil
	}
	if !errors.Is(err, bufio.ErrBufferFull) {
		return nil, unexpectedIf(len(b) > 0, err)
	}
	head := append([]byte(nil), b[:min(len(b), 64)]...)
	for {
		if _, werr := f.w.Write(b); werr != nil {
			return nil, werr
		}
		if err == nil {
			return append(head, b[max(len(b)-2, 0):]...), nil
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			return nil, unexpected(err)
		}
		b, err = f.r.ReadSlice('\n')
	}
}

// parseLen parses a decimal length; -1 (and any negative value) means null.
func parseLen(b []byte) (int64, error) {
	if len(b) == 0 || len(b) > 19 {
		return 0, protocolErrorf("bad length %q", b)
	}
	neg := b[0] == '-'
	if neg {
		b = b[1:]
		if len(b) == 0 {
			return 0, protocolErrorf("bad length %q", "-")
		}
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, protocolErrorf("bad length %q", b)
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		return -n, nil
	}
	if n > 1<<40 {
		return 0, protocolErrorf("length %d too large", n)
	}
	return n, nil
}

// unexpected turns io.EOF in the middle of a value into io.ErrUnexpectedEOF.
func unexpected(err error) error {
	return unexpectedIf(true, err)
}

func unexpectedIf(mid bool, err error) error {
	if mid && errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

func clip(b []byte) []byte {
	if len(b) > 32 {
		return b[:32]
	}
	return b
}
