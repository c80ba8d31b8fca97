package redact

import (
	"bytes"
	"errors"
	"io"
	"sync"
)

// MaxLine bounds what a Writer buffers while it waits for the end of a
// line: beyond it, all but the last bytes that may still begin a secret
// are written out.
const MaxLine = 64 << 10

// ErrClosed is returned by a Write after Close.
var ErrClosed = errors.New("redact: write after Close")

// Writer is a stream that redacts what goes through it; see
// (*Secrets).Writer.
type Writer struct {
	s *Secrets

	mu     sync.Mutex
	w      io.Writer
	buf    []byte
	err    error // sticky: the first error of w
	closed bool
}

// Writer returns a writer that writes to w what it is given with the
// secrets redacted. A secret may be split across Write calls, so the
// writer holds back each line until its '\n' (a long line is written in
// parts of MaxLine, holding back only what may be the start of a secret).
// Call Flush to write what is held back, and Close at the end; Close does
// not close w. Secrets added to s later apply to what is written
// afterwards.
//
// Writes may come from several goroutines. Each successful Write returns
// len(p), although what reaches w differs in length.
func (s *Secrets) Writer(w io.Writer) io.WriteCloser { return s.NewWriter(w) }

// NewWriter is Writer with the concrete type, which has Flush.
func (s *Secrets) NewWriter(w io.Writer) *Writer { return &Writer{s: s, w: w} }

// Write buffers p and writes out the complete lines, redacted.
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return 0, ErrClosed
	}
	if w.err != nil {
		return 0, w.err
	}
	w.buf = append(w.buf, p...)
	t := w.s.snapshot()
	hold := 0 // bytes at the end that may begin a secret
	if t != nil {
		hold = t.maxLen - 1
	}
	cut := bytes.LastIndexByte(w.buf, '\n') + 1
	safe := true // cut cannot fall inside a secret
	if t != nil && t.multiline {
		// A secret with a newline may span the end of a line.
		cut = min(cut, max(len(w.buf)-hold, 0))
		safe = false
	}
	if len(w.buf)-cut > MaxLine {
		cut = len(w.buf) - hold
		safe = false
	}
	if !safe && t != nil {
		cut = safeCut(t.byteSpans(w.buf), cut, len(w.buf))
	}
	if cut == 0 {
		return len(p), nil
	}
	if err := w.emit(cut); err != nil {
		return 0, err
	}
	return len(p), nil
}

// safeCut moves cut out of a redacted range of a buffer of n bytes: back
// to the range's start, or, when that would keep more than MaxLine bytes
// (a run of overlapping secrets longer than that), to its end, so that the
// buffer stays bounded.
func safeCut(sp []span, cut, n int) int {
	for _, x := range sp {
		if x.start < cut && cut < x.end {
			if x.start > 0 && n-x.start <= MaxLine {
				return x.start
			}
			return x.end
		}
	}
	return cut
}

// emit writes buf[:n] redacted and keeps the rest.
func (w *Writer) emit(n int) error {
	// Bytes may return its argument: write before the buffer is reused.
	_, err := w.w.Write(w.s.Bytes(w.buf[:n]))
	rest := copy(w.buf, w.buf[n:])
	w.buf = w.buf[:rest]
	if cap(w.buf) > 2*MaxLine && rest < MaxLine {
		w.buf = append([]byte(nil), w.buf...) // release a huge line's memory
	}
	if err != nil {
		w.err = err
	}
	return err
}

// Flush writes what is buffered, redacted, even without a final newline.
// A secret whose first bytes were written before Flush and the rest after
// is not recognized: flush at a point where no secret is being written.
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.flush()
}

func (w *Writer) flush() error {
	if w.err != nil {
		return w.err
	}
	if len(w.buf) == 0 {
		return nil
	}
	return w.emit(len(w.buf))
}

// Close flushes the writer; later Writes fail with ErrClosed. It does not
// close the underlying writer.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	w.closed = true
	return w.flush()
}
