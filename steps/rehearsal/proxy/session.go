package proxy

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"time"
)

// session is a client connection's connection to one backend.
type session struct {
	c       *conn
	backend net.Conn
	gen     uint64 // the Repoint generation it was opened for
	br      *bufio.Reader
	bw      *bufio.Writer // serve goroutine only
	sw      *stickyWriter
	kinds   []byte        // types of the replies forwarded since the last settle
	done    chan struct{} // closed when readReplies returns

	detached bool // guarded by p.mu: Repoint moved the connection away from this backend
	// retiring is set by Repoint (guarded by p.mu) on a connection whose
	// only commands in flight block on the old backend: see retire.
	retiring bool
	// markTok is set by Hold (guarded by p.mu) on a subscriber's session:
	// the end of the reply to the marker PING it sent; the reader drops
	// that reply and closes marked (see Proxy.markSubscribers).
	markTok    []byte
	marked     chan struct{}
	markedHold int64 // the hold (Stats.Holds) that marked it

	// after, when set, is closed when the previous session's reader is
	// done writing to the client: this session's reader waits for it.
	after <-chan struct{}
	// quiet stops settle while a goroutine other than the reader uses br
	// (resubscribe, while the previous reader may still write to the client).
	quiet bool
}

func newSession(c *conn, nc net.Conn, gen uint64) *session {
	s := &session{c: c, backend: nc, gen: gen, done: make(chan struct{})}
	s.br = bufio.NewReaderSize(&hookReader{r: nc, before: s.settle}, c.p.cfg.bufSize)
	s.sw = &stickyWriter{w: nc}
	s.bw = bufio.NewWriterSize(s.sw, c.p.cfg.bufSize)
	return s
}

// readReplies forwards replies to the client until the backend connection
// ends. Before each read from the backend (see settle) it flushes the client
// writer and only then counts the replies as answered.
func (s *session) readReplies() {
	defer s.c.p.wg.Done()
	defer close(s.done)
	if s.after != nil {
		<-s.after
	}
	f := frameReader{r: s.br, w: s.c.cw}
	var buf bytes.Buffer
	bf := frameReader{r: s.br, w: &buf}
	for {
		// Wait for the next reply without consuming it: Repoint wakes a
		// retiring session with a read deadline, at a reply boundary.
		_, perr := s.br.Peek(1)
		retiring, tok := s.moving()
		if retiring {
			s.retire()
			return
		}
		if perr != nil {
			s.stop()
			return
		}
		if tok != nil {
			// A subscriber's session being marked: look at each value,
			// drop the marker's reply.
			buf.Reset()
			k, err := bf.Value()
			if err != nil {
				s.stop()
				return
			}
			if (k == '*' || k == '$') && bytes.HasSuffix(buf.Bytes(), tok) {
				s.markDone()
				continue
			}
			_, _ = s.c.cw.Write(buf.Bytes())
			if k != '>' {
				s.kinds = append(s.kinds, k)
			}
			continue
		}
		k, err := f.Value()
		if err != nil {
			s.stop()
			return
		}
		if k != '>' { // a push message answers no command
			s.kinds = append(s.kinds, k)
		}
	}
}

// moving reports whether Repoint retires this session, and the marker
// Hold is waiting for.
func (s *session) moving() (retiring bool, markTok []byte) {
	p := s.c.p
	p.mu.Lock()
	defer p.mu.Unlock()
	return s.retiring, s.markTok
}

// markedBy reports whether hold (a Stats.Holds value) marked the session
// and its marker's reply came; p.mu is held.
func (s *session) markedBy(hold int64) bool {
	return s.marked != nil && s.markTok == nil && s.markedHold == hold
}

// markDone records that the marker's reply came: everything the server
// sent before it has been forwarded.
func (s *session) markDone() {
	s.c.cw.Flush()
	p := s.c.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if s.markTok != nil {
		s.markTok = nil
		close(s.marked)
	}
}

// retire ends a session Repoint left on the old backend because its client
// waits in a blocking command there (BLPOP k 0). Closing it at once could
// drop a reply the old server sent just before the switch (an element it
// popped); so the session reads one more reply:
//   - the demotion of the old master unblocks the command with -UNBLOCKED:
//     the reply is dropped and the client connection closed, so the client
//     retries the command (go-redis does on EOF), through the proxy, on the
//     new master;
//   - any other reply is the command's own and is forwarded; the connection
//     then moves to the new target like any other.
//
// A command still blocked retireTimeout after the switch (an old master
// that was not demoted) has its connection closed too.
func (s *session) retire() {
	c, p := s.c, s.c.p
	c.cw.Flush()
	s.settle()
	_ = s.backend.SetReadDeadline(time.Now().Add(retireTimeout))
	var buf bytes.Buffer
	f := frameReader{r: s.br, w: &buf}
	k, err := f.Value()
	if err == nil && k != '>' && !(k == '-' && bytes.HasPrefix(buf.Bytes(), []byte("-UNBLOCKED"))) {
		_, _ = c.cw.Write(buf.Bytes())
		s.kinds = append(s.kinds, k)
		s.settle()
		p.mu.Lock()
		move := c.movable() && p.cfg.redial
		if move {
			s.detached = true
			p.stats.Retired++
		}
		p.mu.Unlock()
		if move {
			s.backend.Close()
			return
		}
	}
	p.mu.Lock()
	p.stats.Retired++
	p.mu.Unlock()
	c.teardown()
}

// settle delivers the replies read so far and counts their commands as
// answered. It runs on the goroutine that reads the backend, before it reads.
func (s *session) settle() {
	if s.quiet {
		return
	}
	c := s.c
	c.cw.Flush()
	if len(s.kinds) == 0 {
		return
	}
	p := c.p
	p.mu.Lock()
	p.stats.Replies += int64(len(s.kinds))
	if !c.untracked && !c.closed {
		for _, k := range s.kinds {
			if len(c.queue) == 0 {
				break // not an answer to a command: nothing to count
			}
			e := c.queue[0]
			c.queue[0] = nil
			c.queue = c.queue[1:]
			c.apply(e, k != '-' && k != '!')
			c.inflight--
			if e.class == classBlocking {
				c.parked--
			} else {
				p.addInflight(-1)
			}
		}
	}
	p.mu.Unlock()
	s.kinds = s.kinds[:0]
}

// stop ends the session after a read error. Unless Repoint detached it, the
// client connection goes too: a client whose server went away sees EOF.
func (s *session) stop() {
	p := s.c.p
	p.mu.Lock()
	detached := s.detached
	p.mu.Unlock()
	if detached {
		return
	}
	s.c.cw.Flush()
	s.c.teardown()
}

// replay sends the connection-state commands of the client's previous
// session (HELLO, AUTH, SELECT, CLIENT SETNAME ...) and checks that each
// succeeds. Their replies are not forwarded: the client saw them already.
func (s *session) replay(cmds [][]byte, timeout time.Duration) error {
	if err := s.backend.SetDeadline(time.Now().Add(timeout)); err != nil {
		return err
	}
	for _, b := range cmds {
		s.bw.Write(b)
	}
	if err := s.bw.Flush(); err != nil {
		return err
	}
	if s.sw.err != nil {
		return s.sw.err
	}
	var reply bytes.Buffer
	f := frameReader{r: s.br, w: &reply}
	for i := 0; i < len(cmds); {
		reply.Reset()
		k, err := f.Value()
		if err != nil {
			return err
		}
		if k == '>' {
			continue
		}
		if k == '-' || k == '!' {
			return fmt.Errorf("command %d of %d refused: %q", i+1, len(cmds), clip(reply.Bytes()))
		}
		i++
	}
	return s.backend.SetDeadline(time.Time{})
}
