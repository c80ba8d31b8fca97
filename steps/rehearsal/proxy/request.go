package proxy

import (
	"bufio"
	"bytes"
	"io"
)

const (
	// maxNameLen is the longest argument the request reader captures to
	// name a command; longer ones are no command names.
	maxNameLen = 64
	// maxKeep is the largest request kept whole for replay (HELLO, AUTH ...).
	maxKeep = 4096
)

// requestReader copies client requests the way Redis reads them: a request
// that starts with '*' is an array of bulk strings (an empty array is no
// command), anything else is an inline command, one line of space-separated
// words (a blank line is no command).
//
// Before it writes any byte of a request it calls decide with the request's
// first two arguments, so the caller can classify the command before the
// server can possibly answer it.
type requestReader struct {
	f frameReader
	h holdWriter
}

func newRequestReader(r *bufio.Reader) *requestReader {
	q := &requestReader{}
	q.f = frameReader{r: r, w: &q.h}
	q.h.max = maxKeep
	return q
}

// decideFunc gets the first two arguments of a request (nil when absent or
// not captured) and reports whether the whole request should be kept.
type decideFunc func(name, sub []byte) (keep bool)

// Next copies one request to w. It returns the number of arguments (0: the
// server runs nothing and sends no reply) and, if decide asked for it and the
// request is at most maxKeep bytes, a copy of the whole request. A kept
// request is held back until Release, so the caller can record it before the
// server sees it.
func (q *requestReader) Next(w io.Writer, decide decideFunc) (args int64, raw []byte, err error) {
	q.h.reset(w)
	b, err := q.f.r.Peek(1)
	if err != nil {
		return 0, nil, err
	}
	if b[0] != '*' {
		return q.inline(decide)
	}
	line, err := q.f.line()
	if err != nil {
		return 0, nil, err
	}
	if len(line) < 4 || line[len(line)-2] != '\r' {
		return 0, nil, protocolErrorf("malformed request header %q", clip(line))
	}
	n, err := parseLen(line[1 : len(line)-2])
	if err != nil {
		return 0, nil, err
	}
	if n <= 0 {
		return 0, nil, q.h.release()
	}
	var captured [2][]byte
	read := int64(0)
	for read < n && read < 2 {
		line, err := q.f.line()
		if err != nil {
			return 0, nil, unexpected(err)
		}
		start := len(q.h.buf)
		t, err := q.f.body(line, 1)
		if err != nil {
			return 0, nil, unexpected(err)
		}
		if t == '.' {
			return 0, nil, protocolErrorf("end of streamed aggregate in a request")
		}
		read++
		if q.h.spilled {
			break
		}
		if size := len(q.h.buf) - start - 2; t == '$' && size >= 0 && size <= maxNameLen {
			captured[read-1] = q.h.buf[start : start+size]
		}
	}
	keep := decide(captured[0], captured[1]) && !q.h.spilled
	if !keep {
		if err := q.h.release(); err != nil {
			return 0, nil, err
		}
	}
	for ; read < n; read++ {
		k, err := q.f.value(1)
		if err != nil {
			return 0, nil, err
		}
		if k == '.' {
			return 0, nil, protocolErrorf("end of streamed aggregate in a request")
		}
	}
	if keep && !q.h.spilled {
		raw = bytes.Clone(q.h.buf)
	}
	return n, raw, nil
}

// inline copies one inline command.
func (q *requestReader) inline(decide decideFunc) (int64, []byte, error) {
	if _, err := q.f.line(); err != nil {
		return 0, nil, unexpected(err)
	}
	if q.h.spilled {
		// Longer than maxKeep: Redis refuses inline requests over 64 KiB
		// with an error, which is a reply all the same.
		decide(nil, nil)
		return 1, nil, nil
	}
	fields := bytes.Fields(q.h.buf)
	if len(fields) == 0 {
		return 0, nil, q.h.release()
	}
	var sub []byte
	if len(fields) > 1 {
		sub = fields[1]
	}
	if !decide(fields[0], sub) {
		return int64(len(fields)), nil, q.h.release()
	}
	return int64(len(fields)), bytes.Clone(q.h.buf), nil
}

// Release writes a request that Next held back.
func (q *requestReader) Release() error { return q.h.release() }

// holdWriter holds what is written in memory, up to max bytes, until
// release; past max it writes what it holds and passes the rest through
// (spilled).
type holdWriter struct {
	dst     io.Writer
	buf     []byte
	max     int
	holding bool
	spilled bool
}

func (h *holdWriter) reset(dst io.Writer) {
	h.dst = dst
	h.buf = h.buf[:0]
	h.holding = true
	h.spilled = false
}

func (h *holdWriter) Write(p []byte) (int, error) {
	if h.holding {
		if len(h.buf)+len(p) <= h.max {
			h.buf = append(h.buf, p...)
			return len(p), nil
		}
		h.spilled = true
		if err := h.release(); err != nil {
			return 0, err
		}
	}
	return h.dst.Write(p)
}

// release writes the held bytes. The buffer keeps them (callers may still
// look at captured arguments) until the next reset.
func (h *holdWriter) release() error {
	if !h.holding {
		return nil
	}
	h.holding = false
	if len(h.buf) == 0 {
		return nil
	}
	_, err := h.dst.Write(h.buf)
	return err
}

// parseRequest splits a whole request as the request reader kept it (a
// RESP array of bulk strings, or an inline command) into its arguments.
func parseRequest(raw []byte) ([][]byte, bool) {
	if len(raw) == 0 {
		return nil, false
	}
	if raw[0] != '*' {
		return bytes.Fields(raw), true
	}
	line, rest, ok := bytes.Cut(raw[1:], []byte("\r\n"))
	if !ok {
		return nil, false
	}
	n, err := parseLen(line)
	if err != nil || n < 0 || n > int64(len(raw)) {
		return nil, false
	}
	args := make([][]byte, 0, n)
	for range n {
		if len(rest) == 0 || rest[0] != '$' {
			return nil, false
		}
		line, after, ok := bytes.Cut(rest[1:], []byte("\r\n"))
		if !ok {
			return nil, false
		}
		size, err := parseLen(line)
		if err != nil || size < 0 || int64(len(after)) < size+2 {
			return nil, false
		}
		args = append(args, after[:size])
		rest = after[size+2:]
	}
	return args, len(rest) == 0
}
