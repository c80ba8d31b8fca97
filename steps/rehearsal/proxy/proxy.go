package proxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"
)

// Proxy forwards Redis connections from a listening address to a target
// server that the caller can hold and switch. It is safe for concurrent use.
type Proxy struct {
	ln  net.Listener
	cfg config
	wg  sync.WaitGroup

	mu        sync.Mutex
	target    string
	gen       uint64        // incremented by every Repoint
	hold      chan struct{} // non-nil while a hold is in force; closed by Release
	drained   chan struct{} // closed (and replaced) when in-flight drops to zero during a hold
	holdStart time.Time
	inflight  int64 // commands forwarded and not yet answered, over tracked connections
	// subGate is closed when the subscriber moves Repoint started are done;
	// until then commands that may publish wait (see Repoint).
	subGate chan struct{}
	conns   map[*conn]struct{}
	closed  bool
	stats   Stats
}

// Stats are counters of a proxy's life so far.
type Stats struct {
	Accepted  int64         `json:"accepted"`   // client connections accepted
	Active    int           `json:"active"`     // client connections open now
	Commands  int64         `json:"commands"`   // commands forwarded to a backend
	Replies   int64         `json:"replies"`    // replies forwarded to clients
	InFlight  int64         `json:"in_flight"`  // commands forwarded and not yet answered
	Holds     int64         `json:"holds"`      // holds started
	Waited    int64         `json:"waited"`     // times a client connection waited for a hold to end
	HeldFor   time.Duration `json:"held_for"`   // length of the last hold (so far, if one is in force)
	DrainedIn time.Duration `json:"drained_in"` // how long the last Hold waited for in-flight commands
	Repoints  int64         `json:"repoints"`
	Closed    int64         `json:"closed"`   // client connections closed by Repoint
	Retiring  int64         `json:"retiring"` // client connections Repoint left to finish a blocking command on the old backend
	Retired   int64         `json:"retired"`  // of those, connections that got their answer or were closed
	Redialed  int64         `json:"redialed"` // client connections moved to a new backend by replaying their handshake
	// PublishWaits counts commands that may publish (PUBLISH, EVAL,
	// FCALL ...) that waited for subscribers to be subscribed again.
	PublishWaits int64 `json:"publish_waits"`
	// Resubscribed counts subscriber connections moved by subscribing
	// again on the new backend; LateMarks the subscribers whose server did
	// not answer a hold's marker within markWait (Repoint closes them).
	Resubscribed int64 `json:"resubscribed"`
	LateMarks    int64 `json:"late_marks"`
	Dials        int64 `json:"dials"`      // backend connections opened
	DialFails    int64 `json:"dial_fails"` // backend dials or handshake replays that failed
}

// Listen starts a proxy on addr (e.g. "127.0.0.1:0") that forwards to target.
func Listen(addr, target string, opts ...Option) (*Proxy, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("proxy: listen on %s: %w", addr, err)
	}
	p := &Proxy{
		ln:      ln,
		cfg:     cfg,
		target:  target,
		drained: make(chan struct{}),
		conns:   make(map[*conn]struct{}),
	}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr is the address clients connect to.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Target is the backend that new commands go to.
func (p *Proxy) Target() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.target
}

// Hold stops forwarding new commands: they wait in the proxy, and so do
// connections accepted during the hold. Hold returns once every command
// already forwarded has been answered and its reply passed to the client,
// and every subscriber has been passed what its server sent so far (see
// markSubscribers), or with an error when ctx ends first; either way the
// hold stays in force until Release.
func (p *Proxy) Hold(ctx context.Context) error {
	start := time.Now()
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return errors.New("proxy: hold: proxy closed")
	}
	if p.hold == nil {
		p.hold = make(chan struct{})
		p.holdStart = start
		p.stats.Holds++
	}
	p.mu.Unlock()
	for {
		p.mu.Lock()
		n, drained := p.inflight, p.drained
		if n == 0 {
			p.stats.DrainedIn = time.Since(start)
		}
		p.mu.Unlock()
		if n == 0 {
			p.markSubscribers(ctx)
			return nil
		}
		select {
		case <-drained:
		case <-ctx.Done():
			p.mu.Lock()
			n = p.inflight
			p.mu.Unlock()
			return fmt.Errorf("proxy: hold: %d commands still in flight: %w", n, ctx.Err())
		}
	}
}

// Release ends a hold: waiting commands are forwarded, to the target in
// force now. Release without a hold does nothing.
func (p *Proxy) Release() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.hold == nil {
		return
	}
	close(p.hold)
	p.hold = nil
	p.stats.HeldFor = time.Since(p.holdStart)
}

// Repoint makes target the backend for every command from now on. No
// command is forwarded to the old backend after Repoint returns. A client
// connection bound to the old backend is moved to the new one when that is
// invisible to its client (no command in flight, only replayable connection
// state, an open transaction whose commands the proxy holds); a subscriber
// is moved by subscribing again on the new backend before Repoint returns;
// otherwise it is closed, as a load balancer does when a backend is
// removed. See the package documentation.
func (p *Proxy) Repoint(target string) {
	p.mu.Lock()
	p.target = target
	p.gen++
	gen := p.gen
	p.stats.Repoints++
	var closing []*conn
	var detached, retiring []*session
	var subscribers []subMove
	for c := range p.conns {
		s := c.sess.Load()
		if s == nil || s.detached {
			continue
		}
		if p.cfg.redial && c.movable() {
			s.detached = true
			detached = append(detached, s)
			continue
		}
		if p.cfg.redial && p.hold != nil && c.resubscribable() && s.markedBy(p.stats.Holds) {
			s.detached = true
			c.moving = make(chan struct{})
			subscribers = append(subscribers, subMove{c: c, old: s, anyWrite: c.mayGetServerEvents()})
			continue
		}
		if c.parkedOnly() {
			s.retiring = true
			retiring = append(retiring, s)
			p.stats.Retiring++
			continue
		}
		closing = append(closing, c)
		p.stats.Closed++
	}
	p.mu.Unlock()
	for _, s := range detached {
		s.backend.Close()
	}
	for _, s := range retiring {
		// Wake the reader, blocked reading the backend, so that it sees
		// retiring and reads the last reply with its own deadline.
		_ = s.backend.SetReadDeadline(time.Now())
	}
	for _, c := range closing {
		c.teardown()
	}
	for _, m := range subscribers {
		// Its server sent it everything it had before the hold; what
		// it may send later (a demoted master repeats its new master's
		// messages) would come twice.
		m.old.backend.Close()
	}
	p.moveSubscribers(subscribers, target, gen)
}

// moveSubscribers subscribes the subscribers again on the new target (see
// conn.moveSubscriber), all at once. Nothing the new target publishes may
// reach it before they are subscribed there. When one of them may receive
// keyspace events (or client-side caching invalidations), which any write
// can send, Repoint waits for the moves: the hold covers them. Otherwise
// only PUBLISH, scripts and functions can, and those wait for the moves in
// the proxy (subGate) while every other command goes on: the hold does not
// grow with the number of subscribers.
func (p *Proxy) moveSubscribers(subscribers []subMove, target string, gen uint64) {
	if len(subscribers) == 0 {
		return
	}
	var wg sync.WaitGroup
	waitAll := false
	for _, m := range subscribers {
		waitAll = waitAll || m.anyWrite
		wg.Go(func() {
			if err := m.c.moveSubscriber(m, target, gen); err != nil {
				p.mu.Lock()
				p.stats.Closed++
				p.mu.Unlock()
				m.c.teardown()
			}
		})
	}
	if waitAll {
		wg.Wait()
		return
	}
	gate := make(chan struct{})
	p.mu.Lock()
	prev := p.subGate
	p.subGate = gate
	p.wg.Add(1)
	p.mu.Unlock()
	go func() {
		defer p.wg.Done()
		wg.Wait()
		if prev != nil {
			<-prev
		}
		p.mu.Lock()
		if p.subGate == gate {
			p.subGate = nil
		}
		p.mu.Unlock()
		close(gate)
	}()
}

// Close stops listening and closes every connection. A hold in force ends.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	conns := make([]*conn, 0, len(p.conns))
	for c := range p.conns {
		conns = append(conns, c)
	}
	p.mu.Unlock()
	err := p.ln.Close()
	for _, c := range conns {
		c.teardown()
	}
	p.Release()
	p.wg.Wait()
	if err != nil {
		return fmt.Errorf("proxy: close listener: %w", err)
	}
	return nil
}

// Stats returns the counters.
func (p *Proxy) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.stats
	s.Active = len(p.conns)
	s.InFlight = p.inflight
	if p.hold != nil {
		s.HeldFor = time.Since(p.holdStart)
	}
	return s
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	var backoff time.Duration
	for {
		nc, err := p.ln.Accept()
		if err != nil {
			p.mu.Lock()
			closed := p.closed
			p.mu.Unlock()
			if closed || errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: wait and go on.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		c := newConn(p, nc)
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			nc.Close()
			continue
		}
		p.conns[c] = struct{}{}
		p.stats.Accepted++
		p.wg.Add(1)
		p.mu.Unlock()
		go c.serve()
	}
}

// addInflight changes the in-flight count and wakes Hold callers when it
// drops to zero during a hold; p.mu is held.
func (p *Proxy) addInflight(n int64) {
	p.inflight += n
	if p.inflight == 0 && n < 0 && p.hold != nil {
		close(p.drained)
		p.drained = make(chan struct{})
	}
}
