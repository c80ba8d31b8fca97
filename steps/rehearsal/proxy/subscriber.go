package proxy

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

const (
	// markWait bounds how long Hold waits for the reply to the marker it
	// sends a subscriber's server; a subscriber whose marker is late is
	// closed by Repoint, as a load balancer would.
	markWait = 100 * time.Millisecond
	// maxResubscribeWait bounds subscribing again on the new backend.
	maxResubscribeWait = time.Second
	// maxCopyWait bounds the wait for a subscriber's serve goroutine to
	// finish writing a command to its backend.
	maxCopyWait = 10 * time.Millisecond
)

// markSubscribers runs at the end of Hold, once no command is in flight:
// on every subscriber's connection it sends PING <marker> and waits (at
// most markWait, or until ctx ends) for the reply. What the server sent
// before the reply is then forwarded to the subscriber: every message
// published before the hold, the commands that published them having been
// answered. Nothing reaches the server afterwards to publish more until
// Release. Repoint then moves only marked subscribers.
func (p *Proxy) markSubscribers(ctx context.Context) {
	type mark struct {
		s   *session
		msg []byte
	}
	var marks []mark
	var waits []chan struct{}
	deadline := time.Now().Add(maxCopyWait)
	for pending := true; pending; {
		pending = false
		p.mu.Lock()
		for c := range p.conns {
			s := c.sess.Load()
			if s == nil || s.detached || !c.resubscribable() || s.markedBy(p.stats.Holds) {
				continue
			}
			if s.markTok != nil {
				continue // marked above, or by an earlier call of this hold
			}
			if c.copying {
				// Its serve goroutine is writing a command to the server
				// (the hold stops the next one): look again.
				pending = time.Now().Before(deadline)
				continue
			}
			var b [12]byte
			_, _ = rand.Read(b[:])
			marker := "understudy-mark-" + hex.EncodeToString(b[:])
			s.markTok = []byte("\r\n" + marker + "\r\n")
			s.marked = make(chan struct{})
			s.markedHold = p.stats.Holds
			marks = append(marks, mark{s, appendCommand(nil, []byte("PING"), []byte(marker))})
			waits = append(waits, s.marked)
		}
		p.mu.Unlock()
		if pending {
			time.Sleep(50 * time.Microsecond)
		}
	}
	// The serve goroutines write nothing during the hold: write the
	// markers to the sockets directly.
	for _, m := range marks {
		_, _ = m.s.backend.Write(m.msg)
	}
	timeout := time.NewTimer(markWait)
	defer timeout.Stop()
	for i, w := range waits {
		select {
		case <-w:
			continue
		case <-timeout.C:
		case <-ctx.Done():
		}
		late := 0
		for _, w := range waits[i:] {
			select {
			case <-w:
			default:
				late++
			}
		}
		p.mu.Lock()
		p.stats.LateMarks += int64(late)
		p.mu.Unlock()
		return
	}
}

// subMove is a subscriber connection Repoint moves, and what it replays on
// the new backend (captured once the serve goroutine writes nothing).
type subMove struct {
	c         *conn
	old       *session
	handshake [][]byte
	subscribe [][]byte // SUBSCRIBE channels..., PSUBSCRIBE patterns...
	confirms  int      // the replies they get: one per channel and pattern
	// anyWrite: a channel or pattern that keyspace events or client-side
	// caching invalidations may reach, which any write can send.
	anyWrite bool
}

// capture records a subscriber's state for its move; p.mu is held.
func (m *subMove) capture() {
	c := m.c
	m.handshake, m.subscribe, m.confirms = c.handshake, nil, 0
	for _, set := range []struct {
		cmd  string
		subs map[string]struct{}
	}{{"SUBSCRIBE", c.channels}, {"PSUBSCRIBE", c.patterns}} {
		if len(set.subs) == 0 {
			continue
		}
		args := make([][]byte, 0, 1+len(set.subs))
		args = append(args, []byte(set.cmd))
		for ch := range set.subs {
			args = append(args, []byte(ch))
		}
		m.subscribe = append(m.subscribe, appendCommand(nil, args...))
		m.confirms += len(set.subs)
	}
}

// mayGetServerEvents reports whether a channel or pattern of the subscriber
// may receive keyspace events or client-side caching invalidations, which
// any write can send; p.mu is held.
func (c *conn) mayGetServerEvents() bool {
	for ch := range c.channels {
		if serverChannel(ch) {
			return true
		}
	}
	for pat := range c.patterns {
		// The pattern's literal start: a server channel may match it
		// when one of them starts with the other.
		lit := pat
		if i := strings.IndexAny(pat, `*?[\`); i >= 0 {
			lit = pat[:i]
		}
		for _, prefix := range serverChannelPrefixes {
			if strings.HasPrefix(prefix, lit) || strings.HasPrefix(lit, prefix) {
				return true
			}
		}
	}
	return false
}

// serverChannelPrefixes start the channels a server publishes on by itself
// when keys change: keyspace events and client-side caching invalidations.
var serverChannelPrefixes = []string{"__keyspace@", "__keyevent@", "__redis__:"}

func serverChannel(ch string) bool {
	for _, prefix := range serverChannelPrefixes {
		if strings.HasPrefix(ch, prefix) {
			return true
		}
	}
	return false
}

// moveSubscriber moves a subscriber connection, marked by the hold (see
// markSubscribers), to target. Repoint closed its old backend connection:
// everything the old server sent before the hold was forwarded, and it
// sends nothing after that a subscriber should get (what a demoted master
// repeats of its new master's messages would come twice). On a new backend
// connection it replays the handshake and subscribes to the connection's
// channels and patterns, waits for every confirmation, and makes it the
// connection's session. Nothing is lost when nothing is published on
// target before then: Proxy.moveSubscribers sees to it.
func (c *conn) moveSubscriber(m subMove, target string, gen uint64) error {
	p := c.p
	defer func() {
		p.mu.Lock()
		close(c.moving)
		c.moving = nil
		p.mu.Unlock()
	}()
	// Take the state once the serve goroutine writes nothing (it was
	// idle when the hold marked it; this is for safety).
	for deadline := time.Now().Add(maxCopyWait); ; {
		p.mu.Lock()
		if c.closed || p.gen != gen || c.sess.Load() != m.old {
			p.mu.Unlock()
			return nil // closed, or another Repoint moves it
		}
		if !c.copying {
			ok := c.subscriber && !c.subsBroken && !c.tainted && !c.clientGone
			if ok {
				m.capture()
			}
			p.mu.Unlock()
			if !ok {
				return errors.New("proxy: not a subscriber any more")
			}
			break
		}
		p.mu.Unlock()
		if time.Now().After(deadline) {
			return errors.New("proxy: a command to the old backend still being written")
		}
		time.Sleep(50 * time.Microsecond)
	}
	wait := min(p.cfg.dialTimeout, maxResubscribeWait)
	nc, err := net.DialTimeout("tcp", target, wait)
	if err != nil {
		return c.connectFailed(target, err)
	}
	s := newSession(c, nc, gen)
	if err := s.resubscribe(m.handshake, m.subscribe, m.confirms, wait); err != nil {
		nc.Close()
		return c.connectFailed(target, fmt.Errorf("subscribe again: %w", err))
	}
	p.mu.Lock()
	switch {
	case c.closed:
		p.mu.Unlock()
		nc.Close()
		return errConnClosed
	case p.gen != gen || c.sess.Load() != m.old:
		// Another Repoint came meanwhile and moves it again.
		p.mu.Unlock()
		nc.Close()
		return nil
	}
	s.after = m.old.done
	c.sess.Store(s)
	p.stats.Dials++
	p.stats.Resubscribed++
	p.wg.Add(1)
	p.mu.Unlock()
	go s.readReplies()
	return nil
}

// resubscribe sends the handshake and the subscriptions on a new backend
// connection in one write and checks every reply: the handshake's (none an
// error) and one confirmation per channel and pattern. The previous
// session's reader may still write to the client meanwhile: nothing here
// touches the client.
func (s *session) resubscribe(handshake, subscribe [][]byte, confirms int, timeout time.Duration) error {
	s.quiet = true
	defer func() { s.quiet = false }()
	if err := s.backend.SetDeadline(time.Now().Add(timeout)); err != nil {
		return err
	}
	for _, b := range handshake {
		s.bw.Write(b)
	}
	for _, b := range subscribe {
		s.bw.Write(b)
	}
	if err := s.bw.Flush(); err != nil {
		return err
	}
	if s.sw.err != nil {
		return s.sw.err
	}
	// A new connection has no subscription yet: every reply before the
	// confirmations answers the handshake, in order.
	var reply bytes.Buffer
	f := frameReader{r: s.br, w: &reply}
	for i := range len(handshake) + confirms {
		reply.Reset()
		k, err := f.Value()
		if err != nil {
			return err
		}
		if i < len(handshake) {
			if k == '-' || k == '!' || k == '>' {
				return fmt.Errorf("command %d of %d of the handshake: %q", i+1, len(handshake), clip(reply.Bytes()))
			}
			continue
		}
		if (k != '*' && k != '>') || !isSubscribeConfirmation(reply.Bytes()) {
			return fmt.Errorf("reply %d of %d to SUBSCRIBE/PSUBSCRIBE: %q", i+1-len(handshake), confirms, clip(reply.Bytes()))
		}
	}
	return s.backend.SetDeadline(time.Time{})
}

// isSubscribeConfirmation tells a subscribe or psubscribe confirmation,
// RESP2 (*3) or RESP3 (>3), from a message.
func isSubscribeConfirmation(v []byte) bool {
	_, rest, _ := bytes.Cut(v, []byte("\r\n"))
	return bytes.HasPrefix(rest, []byte("$9\r\nsubscribe\r\n")) || bytes.HasPrefix(rest, []byte("$10\r\npsubscribe\r\n"))
}

// appendCommand appends a command as a RESP array of bulk strings.
func appendCommand(b []byte, args ...[]byte) []byte {
	b = append(b, '*')
	b = strconv.AppendInt(b, int64(len(args)), 10)
	b = append(b, '\r', '\n')
	for _, a := range args {
		b = append(b, '$')
		b = strconv.AppendInt(b, int64(len(a)), 10)
		b = append(b, '\r', '\n')
		b = append(b, a...)
		b = append(b, '\r', '\n')
	}
	return b
}
