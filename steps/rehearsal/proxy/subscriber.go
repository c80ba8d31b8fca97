package proxy

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"strconv"
	"time"
)

const (
	// drainWait bounds how long the old backend of a moved subscriber is
	// read for messages sent before the switch, waiting for the reply to
	// the marker PING. A 6.2+ server paused for writes answers at once; a
	// 6.0 server paused for every client answers only when its pause ends,
	// and by then everything it sent before the switch has long arrived.
	drainWait = 100 * time.Millisecond
	// maxResubscribeWait bounds subscribing again on the new backend, which
	// Repoint waits for.
	maxResubscribeWait = time.Second
)

// subMove is a subscriber connection Repoint moves: what it replays on the
// new backend.
type subMove struct {
	c         *conn
	old       *session
	handshake [][]byte
	subscribe [][]byte // SUBSCRIBE channels..., PSUBSCRIBE patterns...
	confirms  int      // the replies they get: one per channel and pattern
}

// newSubMove captures a subscriber's state for a move; p.mu is held.
func (c *conn) newSubMove(old *session) subMove {
	m := subMove{c: c, old: old, handshake: c.handshake}
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
	return m
}

// moveSubscriber moves a subscriber connection to target without losing or
// doubling a message published around the switch:
//
//  1. on a new backend connection it replays the handshake and subscribes
//     to the connection's channels and patterns, and waits for every
//     confirmation: from then on, whatever target publishes reaches it;
//  2. it sends PING <marker> on the old backend connection: what the old
//     server sent before the reply was published there before the switch,
//     and the old session forwards it to the client (see drain);
//  3. the new session forwards from the new backend once the old one is
//     done.
//
// Nothing is lost when no PUBLISH reaches target between the hold and step
// 1, and nothing is doubled when the old server does not publish again
// before step 2's reply (a demoted master repeats what its new master
// publishes): both hold under Hold, since Repoint runs before Release and
// the demotion after it.
func (c *conn) moveSubscriber(m subMove, target string, gen uint64) error {
	p := c.p
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
	var b [12]byte
	_, _ = rand.Read(b[:])
	marker := "understudy-moved-" + hex.EncodeToString(b[:])
	p.mu.Lock()
	if c.closed || p.gen != gen || c.sess.Load() != m.old {
		p.mu.Unlock()
		nc.Close()
		return errConnClosed
	}
	m.old.detached = true
	m.old.drainTok = []byte("\r\n" + marker + "\r\n")
	s.after = m.old.done
	c.sess.Store(s)
	p.stats.Dials++
	p.stats.Resubscribed++
	p.wg.Add(1)
	p.mu.Unlock()
	go s.readReplies()
	_ = m.old.backend.SetReadDeadline(time.Now().Add(drainWait))
	// The serve goroutine writes nothing to the old backend any more (it
	// was idle, and the connection's session is the new one): write the
	// marker to the socket directly. If that fails, the old session's
	// read fails too and ends the drain.
	_, _ = m.old.backend.Write(appendCommand(nil, []byte("PING"), []byte(marker)))
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

// drain ends the old session of a moved subscriber: it forwards what the
// old backend still sends, up to the reply to the marker PING, which it
// drops, or up to a read error (drainWait passed), then closes the
// backend. The new session's reader starts after it.
func (s *session) drain(tok []byte) {
	c, p := s.c, s.c.p
	var buf bytes.Buffer
	f := frameReader{r: s.br, w: &buf}
	marked := false
	for {
		buf.Reset()
		k, err := f.Value()
		if err != nil {
			break // a value cut in the middle was not forwarded
		}
		if (k == '*' || k == '$') && bytes.HasSuffix(buf.Bytes(), tok) {
			marked = true
			break
		}
		_, _ = c.cw.Write(buf.Bytes())
	}
	c.cw.Flush()
	s.backend.Close()
	if !marked {
		p.mu.Lock()
		p.stats.DrainTimeouts++
		p.mu.Unlock()
	}
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
