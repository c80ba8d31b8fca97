package proxy

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sync/atomic"
	"time"
)

const (
	// maxHandshake bounds the replayable state commands kept per connection.
	maxHandshake      = 32
	maxHandshakeBytes = 64 << 10
	// drainTimeout bounds how long a backend connection stays open to finish
	// the commands of a client that went away.
	drainTimeout = time.Minute
	// retireTimeout bounds how long a connection whose client waits in a
	// blocking command stays on the old backend after a Repoint.
	retireTimeout = 10 * time.Second
	// maxTx and maxTxBytes bound the commands of an open transaction kept
	// to replay it on a new backend.
	maxTx      = 256
	maxTxBytes = 256 << 10
	// maxSubs and maxSubsBytes bound the channels and patterns kept to
	// subscribe a subscriber again on a new backend.
	maxSubs      = 4096
	maxSubsBytes = 256 << 10
)

var errConnClosed = errors.New("proxy: connection closed")

// conn is one client connection. Its serve goroutine reads requests and
// writes them to the current backend session; the session's goroutine reads
// replies and writes them to the client.
type conn struct {
	p      *Proxy
	client net.Conn
	br     *bufio.Reader // requests; serve goroutine only
	cw     *bufio.Writer // replies; the reading goroutine of the current session only
	done   chan struct{} // closed by teardown

	// sess is the current backend session. It changes under p.mu: by the
	// serve goroutine, or by Repoint when it moves a subscriber while the
	// serve goroutine writes nothing (see copying).
	sess atomic.Pointer[session]

	// Guarded by p.mu.
	closed        bool
	inflight      int64      // commands forwarded and not yet answered
	parked        int64      // of those, blocking commands: Hold does not wait for them
	queue         []*pending // those commands, oldest first
	untracked     bool       // not one reply per command any more (pub/sub, MONITOR, CLIENT REPLY)
	tainted       bool       // connection state the proxy cannot replay
	inTx          bool       // between MULTI and EXEC or DISCARD
	watching      bool       // WATCH in force
	clientGone    bool       // the client left with commands in flight; draining them
	handshake     [][]byte   // replayable state commands that succeeded, in order
	handshakeSize int

	// An open transaction, as sent (the server's view is inTx): MULTI and
	// the commands queued after it, replayed on a new backend by a move.
	txOpen   bool // MULTI forwarded, EXEC, DISCARD or RESET not yet
	txCmds   [][]byte
	txSize   int
	txBroken bool // not replayable: too big, nested MULTI ...

	// A subscriber: untracked because of (P)SUBSCRIBE or (P)UNSUBSCRIBE,
	// its state is the channels and patterns it subscribed to, which a
	// move subscribes to again on the new backend.
	subscriber bool
	subsBroken bool // it sent something else (MONITOR, a GET in RESP3 ...), or too much
	channels   map[string]struct{}
	patterns   map[string]struct{}
	subsSize   int
	// copying: the serve goroutine of an untracked connection is writing
	// a command to the backend (Hold does not wait for those).
	copying bool
	// moving is closed when Repoint's move of this subscriber is done;
	// nil when none is under way.
	moving chan struct{}
}

// pending is a forwarded command waiting for its reply.
type pending struct {
	class class
	raw   []byte // the whole command, for classSession
}

func newConn(p *Proxy, nc net.Conn) *conn {
	c := &conn{p: p, client: nc, done: make(chan struct{})}
	// Whatever was forwarded is flushed before the proxy waits for the client.
	c.br = bufio.NewReaderSize(&hookReader{r: nc, before: c.flushBackend}, p.cfg.bufSize)
	c.cw = bufio.NewWriterSize(&stickyWriter{w: nc}, p.cfg.bufSize)
	return c
}

// serve forwards requests until the client or the backend goes away.
func (c *conn) serve() {
	defer c.p.wg.Done()
	q := newRequestReader(c.br)
	for {
		if _, err := c.br.Peek(1); err != nil {
			c.clientDone()
			return
		}
		s, e, err := c.admit()
		if err != nil {
			c.teardown()
			return
		}
		cl := classPlain
		n, raw, err := q.Next(s.bw, func(name, sub []byte) bool {
			cl = classify(name, sub)
			if cl == classPublish {
				c.waitSubscribers(s)
			}
			return c.classified(e, cl)
		})
		if err != nil {
			// The client left mid-request or sent something that is not
			// RESP: the backend cannot be kept in step.
			c.teardown()
			return
		}
		if n == 0 {
			c.unadmit(e)
		}
		c.record(e, cl, raw)
		if err := q.Release(); err != nil || s.sw.err != nil {
			c.teardown()
			return
		}
		if e == nil || cl == classStream || cl == classSubscribe {
			// Untracked: nothing waits for the reply, so send it now,
			// and tell Repoint the backend writer is idle.
			err := s.bw.Flush()
			c.p.mu.Lock()
			c.copying = false
			c.p.mu.Unlock()
			if err != nil {
				c.teardown()
				return
			}
		}
	}
}

// admit waits while a hold is in force, connects to the target if the
// connection has no usable backend, and counts one command as in flight. It
// returns the session to write the command to.
func (c *conn) admit() (*session, *pending, error) {
	p := c.p
	waited := false
	for {
		p.mu.Lock()
		if c.closed {
			p.mu.Unlock()
			return nil, nil, errConnClosed
		}
		s := c.sess.Load()
		if hold := p.hold; hold != nil {
			if !waited {
				waited = true
				p.stats.Waited++
			}
			p.mu.Unlock()
			// Commands admitted before the hold must reach the server, or
			// the hold would wait for their replies forever.
			if s != nil {
				s.bw.Flush()
			}
			select {
			case <-hold:
			case <-c.done:
			}
			continue
		}
		if s == nil || s.detached {
			target, gen := p.target, p.gen
			p.mu.Unlock()
			if err := c.connect(target, gen); err != nil {
				return nil, nil, err
			}
			continue
		}
		if s.gen != p.gen {
			if moving := c.moving; moving != nil {
				// Repoint is moving this subscriber: wait for its new
				// session.
				p.mu.Unlock()
				select {
				case <-moving:
				case <-c.done:
				}
				continue
			}
			// Repoint decided to close this connection and is about to.
			p.mu.Unlock()
			return nil, nil, errConnClosed
		}
		var e *pending
		if !c.untracked {
			e = &pending{}
			c.queue = append(c.queue, e)
			c.inflight++
			p.addInflight(1)
		} else {
			c.copying = true
		}
		p.stats.Commands++
		p.mu.Unlock()
		return s, e, nil
	}
}

// waitSubscribers makes a command that may publish wait, before any of its
// bytes reach the server, while Repoint's subscriber moves are still
// subscribing on the new backend (see Proxy.subGate). It runs on the serve
// goroutine.
func (c *conn) waitSubscribers(s *session) {
	p := c.p
	p.mu.Lock()
	gate := p.subGate
	if gate != nil {
		p.stats.PublishWaits++
	}
	p.mu.Unlock()
	if gate == nil {
		return
	}
	s.bw.Flush() // the commands before it go on meanwhile
	select {
	case <-gate:
	case <-c.done:
	}
}

// unadmit takes back the admission of a request that runs nothing (a blank
// inline line, an empty array): the server will not answer it.
func (c *conn) unadmit(e *pending) {
	p := c.p
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stats.Commands--
	if e == nil || c.untracked || c.closed || len(c.queue) == 0 || c.queue[len(c.queue)-1] != e {
		return
	}
	c.queue = c.queue[:len(c.queue)-1]
	c.inflight--
	p.addInflight(-1)
}

// classified records the class of the command being forwarded, before the
// server can answer it, and reports whether to keep the whole command.
func (c *conn) classified(e *pending, cl class) (keep bool) {
	p := c.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if e == nil || c.untracked {
		// A subscriber may (un)subscribe and PING; anything else makes
		// its state one the proxy does not follow.
		switch cl {
		case classSubscribe:
			return c.subscriber
		case classPing:
		default:
			c.subsBroken = true
		}
		return false
	}
	e.class = cl
	switch cl {
	case classStream, classSubscribe:
		// Replies no longer match commands one to one: stop counting this
		// connection. Hold does not wait for it; Repoint moves it by
		// subscribing again (see moveSubscriber) or closes it.
		c.untracked = true
		c.copying = true
		p.addInflight(-(c.inflight - c.parked))
		c.inflight, c.parked = 0, 0
		c.queue = nil
		c.subscriber = cl == classSubscribe && !c.txOpen
		c.subsBroken = !c.subscriber
		return c.subscriber
	case classBlocking:
		// A blocking command may wait for ever (BLPOP k 0): Hold does not
		// wait for it. Repoint retires its connection (see retire).
		c.parked++
		p.addInflight(-1)
	case classMulti:
		return true
	}
	return cl == classSession || c.txOpen
}

// record keeps what a move needs to replay, before the request reaches the
// server: a state command's bytes, the commands of an open transaction, a
// subscriber's channels and patterns. raw is the whole request when
// classified asked for it and it was small enough.
func (c *conn) record(e *pending, cl class, raw []byte) {
	// The fast path of most commands. txOpen is written only by this
	// goroutine (under p.mu), so it may read it without the lock.
	if raw == nil && !c.txOpen && cl != classMulti && cl != classEndTx && cl != classReset && cl != classSubscribe {
		return
	}
	p := c.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if c.untracked {
		if cl == classSubscribe && c.subscriber && !c.subsBroken {
			c.subsBroken = !c.updateSubs(raw)
		}
		return
	}
	if e == nil {
		return
	}
	if cl == classSession {
		e.raw = raw
	}
	switch {
	case cl == classMulti:
		c.txBroken = c.txOpen || raw == nil // MULTI inside MULTI is refused; the first one stands
		c.txOpen = true
		c.txCmds, c.txSize = [][]byte{raw}, len(raw)
	case cl == classEndTx || cl == classReset:
		c.txOpen, c.txBroken = false, false
		c.txCmds, c.txSize = nil, 0
	case c.txOpen && !c.txBroken:
		c.txSize += len(raw)
		if raw == nil || len(c.txCmds) >= maxTx || c.txSize > maxTxBytes {
			c.txBroken = true
			c.txCmds, c.txSize = nil, 0
			break
		}
		c.txCmds = append(c.txCmds, raw)
	}
}

// updateSubs applies a (P)(UN)SUBSCRIBE request to the subscriber's sets
// and reports whether they are still known and small enough; p.mu is held.
func (c *conn) updateSubs(raw []byte) bool {
	args, ok := parseRequest(raw)
	if !ok || len(args) == 0 {
		return false
	}
	if c.channels == nil {
		c.channels, c.patterns = map[string]struct{}{}, map[string]struct{}{}
	}
	set := c.channels
	if eq(args[0], "PSUBSCRIBE") || eq(args[0], "PUNSUBSCRIBE") {
		set = c.patterns
	}
	switch {
	case eq(args[0], "SUBSCRIBE"), eq(args[0], "PSUBSCRIBE"):
		for _, a := range args[1:] {
			if _, ok := set[string(a)]; !ok {
				set[string(a)] = struct{}{}
				c.subsSize += len(a)
			}
		}
	case len(args) == 1: // UNSUBSCRIBE or PUNSUBSCRIBE from every channel or pattern
		for k := range set {
			c.subsSize -= len(k)
		}
		clear(set)
	default:
		for _, a := range args[1:] {
			if _, ok := set[string(a)]; ok {
				delete(set, string(a))
				c.subsSize -= len(a)
			}
		}
	}
	return len(c.channels)+len(c.patterns) <= maxSubs && c.subsSize <= maxSubsBytes
}

// apply updates the connection state with the reply to e; p.mu is held.
func (c *conn) apply(e *pending, ok bool) {
	switch e.class {
	case classSession:
		switch {
		case !ok:
		case c.inTx || e.raw == nil || len(c.handshake) >= maxHandshake ||
			c.handshakeSize+len(e.raw) > maxHandshakeBytes:
			c.tainted = true
		default:
			c.handshake = append(c.handshake, e.raw)
			c.handshakeSize += len(e.raw)
		}
	case classStateful:
		c.tainted = c.tainted || ok
	case classMulti:
		c.inTx = c.inTx || ok
	case classEndTx:
		c.inTx, c.watching = false, false
	case classWatch:
		c.watching = c.watching || ok
	case classUnwatch:
		c.watching = false
	case classReset:
		if ok {
			c.handshake, c.handshakeSize = nil, 0
			c.tainted, c.inTx, c.watching = false, false, false
		}
	}
}

// movable reports whether the connection can move to a new backend without
// its client noticing; p.mu is held. A connection inside MULTI moves when
// the proxy holds the transaction's commands: the move replays them.
func (c *conn) movable() bool {
	return !c.closed && !c.untracked && !c.tainted && (!c.inTx || c.txReplayable()) && !c.watching &&
		!c.clientGone && c.inflight == 0
}

// txReplayable reports whether the open transaction can be replayed on a
// new backend; p.mu is held.
func (c *conn) txReplayable() bool {
	return c.inTx && c.txOpen && !c.txBroken && len(c.txCmds) > 0
}

// resubscribable reports whether Repoint can move a subscriber by
// subscribing again to its channels and patterns on the new backend (once
// its serve goroutine has finished writing a command, if it is: see
// copying); p.mu is held.
func (c *conn) resubscribable() bool {
	return !c.closed && c.untracked && c.subscriber && !c.subsBroken && !c.tainted && !c.inTx &&
		!c.watching && !c.clientGone && c.moving == nil
}

// replayState is the commands a moved connection sends to its new backend
// before the client's next one: the handshake, then an open transaction;
// p.mu is held.
func (c *conn) replayState() [][]byte {
	if !c.txReplayable() {
		return c.handshake
	}
	return slices.Concat(c.handshake, c.txCmds)
}

// parkedOnly reports whether the only commands in flight are blocking ones;
// p.mu is held.
func (c *conn) parkedOnly() bool {
	return !c.closed && !c.untracked && !c.clientGone && c.inflight > 0 && c.inflight == c.parked
}

// connect opens a session on target. A connection that had a backend before
// replays its handshake there first. It returns nil without a session when a
// Repoint happened meanwhile; the caller tries again.
func (c *conn) connect(target string, gen uint64) error {
	p := c.p
	old := c.sess.Load()
	if old != nil {
		<-old.done // its reader no longer writes to the client
	}
	p.mu.Lock()
	handshake := c.replayState()
	p.mu.Unlock()
	nc, err := net.DialTimeout("tcp", target, p.cfg.dialTimeout)
	if err != nil {
		return c.connectFailed(target, err)
	}
	s := newSession(c, nc, gen)
	if old != nil && len(handshake) > 0 {
		if err := s.replay(handshake, p.cfg.dialTimeout); err != nil {
			nc.Close()
			return c.connectFailed(target, fmt.Errorf("replay handshake: %w", err))
		}
	}
	return c.attach(s, old)
}

func (c *conn) connectFailed(target string, err error) error {
	c.p.mu.Lock()
	c.p.stats.DialFails++
	c.p.mu.Unlock()
	return fmt.Errorf("proxy: connect to %s: %w", target, err)
}

// attach makes s the connection's session and starts its reader, unless the
// connection closed or the target changed while dialing.
func (c *conn) attach(s *session, old *session) error {
	p := c.p
	p.mu.Lock()
	if c.closed || p.gen != s.gen {
		closed := c.closed
		p.mu.Unlock()
		s.backend.Close()
		if closed {
			return errConnClosed
		}
		return nil
	}
	c.sess.Store(s)
	p.stats.Dials++
	if old != nil {
		p.stats.Redialed++
	}
	p.wg.Add(1)
	p.mu.Unlock()
	go s.readReplies()
	return nil
}

// clientDone handles the end of the client's requests. Commands still in
// flight are left to finish: the backend connection is half-closed, so the
// server closes it once it has run them, and only then is the connection
// torn down. Hold therefore never returns while the old backend may still
// run a command forwarded to it.
func (c *conn) clientDone() {
	p := c.p
	p.mu.Lock()
	s := c.sess.Load()
	drain := !c.closed && s != nil && !s.detached && c.inflight > 0
	c.clientGone = drain
	p.mu.Unlock()
	if !drain {
		c.teardown()
		return
	}
	s.bw.Flush()
	if tc, ok := s.backend.(*net.TCPConn); ok {
		tc.CloseWrite()
	}
	s.backend.SetReadDeadline(time.Now().Add(drainTimeout))
}

// teardown closes the client connection and its backend connection.
func (c *conn) teardown() {
	p := c.p
	p.mu.Lock()
	if c.closed {
		p.mu.Unlock()
		return
	}
	c.closed = true
	delete(p.conns, c)
	if c.inflight > 0 {
		p.addInflight(-(c.inflight - c.parked))
		c.inflight, c.parked = 0, 0
	}
	c.queue = nil
	s := c.sess.Load()
	p.mu.Unlock()
	close(c.done)
	c.client.Close()
	if s != nil {
		s.backend.Close()
	}
}

// flushBackend sends what was forwarded; it runs on the serve goroutine
// before each read from the client.
func (c *conn) flushBackend() {
	if s := c.sess.Load(); s != nil {
		s.bw.Flush()
	}
}

// hookReader calls before ahead of every read, so that a goroutine flushes
// its output before it waits for input.
type hookReader struct {
	r      io.Reader
	before func()
}

func (h *hookReader) Read(b []byte) (int, error) {
	h.before()
	return h.r.Read(b)
}

// stickyWriter remembers the first write error and then discards writes, so
// a reply reader can go on counting replies after its client has left.
type stickyWriter struct {
	w   io.Writer
	err error
}

func (s *stickyWriter) Write(b []byte) (int, error) {
	if s.err == nil {
		_, s.err = s.w.Write(b)
	}
	return len(b), nil
}
