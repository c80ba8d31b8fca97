package proxy

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/understudy/understudy/internal/redistest"
)

// rawClient speaks RESP by hand, so a test controls every byte.
type rawClient struct {
	t  *testing.T
	nc net.Conn
	br *bufio.Reader
}

func dialRaw(t *testing.T, addr string) *rawClient {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &rawClient{t: t, nc: nc, br: bufio.NewReader(nc)}
}

func encode(args ...string) []byte {
	var b bytes.Buffer
	b.WriteString("*" + strconv.Itoa(len(args)) + "\r\n")
	for _, a := range args {
		b.WriteString("$" + strconv.Itoa(len(a)) + "\r\n" + a + "\r\n")
	}
	return b.Bytes()
}

func (c *rawClient) send(args ...string) {
	c.t.Helper()
	if _, err := c.nc.Write(encode(args...)); err != nil {
		c.t.Fatal(err)
	}
}

// read returns the next reply, raw.
func (c *rawClient) read() (string, error) {
	c.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	var out bytes.Buffer
	f := frameReader{r: c.br, w: &out}
	_, err := f.Value()
	return out.String(), err
}

// read1 returns the next reply, failing the test on errors.
func (c *rawClient) read1() string {
	c.t.Helper()
	reply, err := c.read()
	if err != nil {
		c.t.Fatal(err)
	}
	return reply
}

// do sends a command and returns its reply, failing the test on errors.
func (c *rawClient) do(args ...string) string {
	c.t.Helper()
	c.send(args...)
	reply, err := c.read()
	if err != nil {
		c.t.Fatalf("%s: %v", args[0], err)
	}
	return reply
}

func expectPrefix(t *testing.T, what, got, prefix string) {
	t.Helper()
	if !strings.HasPrefix(got, prefix) {
		t.Fatalf("%s: reply %q, want %q...", what, got, prefix)
	}
}

// expectEOF checks that the proxy closed the connection.
func expectEOF(t *testing.T, c *rawClient, what string) {
	t.Helper()
	if reply, err := c.read(); !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("%s: want EOF, got %q, %v", what, reply, err)
	}
}

// Repoint moves connections whose state it can replay (HELLO 3 with AUTH,
// SELECT, CLIENT SETNAME, an open transaction, subscriptions) and closes
// the others (CLIENT TRACKING).
func TestRepointReplaysHandshake(t *testing.T) {
	pw := redistest.RandomPassword()
	a := redistest.Start(t, redistest.WithPassword(pw))
	b := redistest.Start(t, redistest.WithPassword(pw))
	p, err := Listen("127.0.0.1:0", a.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()

	mover := dialRaw(t, p.Addr())
	expectPrefix(t, "HELLO 3", mover.do("HELLO", "3", "AUTH", "default", pw), "%")
	expectPrefix(t, "SELECT", mover.do("SELECT", "2"), "+OK")
	expectPrefix(t, "SETNAME", mover.do("CLIENT", "SETNAME", "mover"), "+OK")
	expectPrefix(t, "TRACKING bad", mover.do("CLIENT", "TRACKING", "maybe"), "-") // failed: changes nothing
	expectPrefix(t, "SET", mover.do("SET", "k", "on-a"), "+OK")

	inTx := dialRaw(t, p.Addr())
	expectPrefix(t, "AUTH", inTx.do("AUTH", pw), "+OK")
	expectPrefix(t, "MULTI", inTx.do("MULTI"), "+OK")
	expectPrefix(t, "SET", inTx.do("SET", "tx", "1"), "+QUEUED")

	tracker := dialRaw(t, p.Addr())
	expectPrefix(t, "HELLO 3", tracker.do("HELLO", "3", "AUTH", "default", pw), "%")
	expectPrefix(t, "TRACKING", tracker.do("CLIENT", "TRACKING", "ON"), "+OK")

	sub := dialRaw(t, p.Addr())
	expectPrefix(t, "AUTH", sub.do("AUTH", pw), "+OK")
	expectPrefix(t, "SUBSCRIBE", sub.do("SUBSCRIBE", "news"), "*3")
	expectPrefix(t, "PSUBSCRIBE", sub.do("PSUBSCRIBE", "n*", "x*"), "*3")
	expectPrefix(t, "PSUBSCRIBE", sub.read1(), "*3")
	expectPrefix(t, "PUNSUBSCRIBE", sub.do("PUNSUBSCRIBE", "x*"), "*3")

	// The hold also passes the subscriber what its server sent so far
	// (a marker), which a subscriber's move needs.
	holdCtx, holdCancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer holdCancel()
	if err := p.Hold(holdCtx); err != nil {
		t.Fatal(err)
	}
	p.Repoint(b.Addr)
	p.Release()
	// The subscriber is subscribed again in the background (only commands
	// that may publish wait for it, in the proxy).
	waitStats(t, p, func(st Stats) bool { return st.Resubscribed == 1 })
	if st := p.Stats(); st.Closed != 1 || st.InFlight != 0 {
		t.Fatalf("after Repoint: %+v", st)
	}

	expectPrefix(t, "SET after Repoint", mover.do("SET", "k", "on-b"), "+OK")
	// Still RESP3 (a map, not an array), still db 2, still named.
	expectPrefix(t, "HGETALL", mover.do("HGETALL", "none"), "%0")
	if got := mover.do("CLIENT", "GETNAME"); got != "$5\r\nmover\r\n" {
		t.Fatalf("CLIENT GETNAME after Repoint: %q", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, tc := range []struct {
		srv  *redistest.Server
		want string
	}{{a, "on-a"}, {b, "on-b"}} {
		c := redis.NewClient(&redis.Options{Addr: tc.srv.Addr, Password: pw, DB: 2})
		got, err := c.Get(ctx, "k").Result()
		c.Close()
		if err != nil || got != tc.want {
			t.Fatalf("k in db 2 on %s: %q, %v; want %q", tc.srv.Addr, got, err, tc.want)
		}
	}

	// The transaction opened on A runs whole on B.
	if got := inTx.do("EXEC"); got != "*1\r\n+OK\r\n" {
		t.Fatalf("EXEC of a transaction moved by Repoint: %q", got)
	}
	for _, tc := range []struct {
		srv  *redistest.Server
		want string
	}{{a, ""}, {b, "1"}} {
		c := redis.NewClient(&redis.Options{Addr: tc.srv.Addr, Password: pw})
		got, _ := c.Get(ctx, "tx").Result()
		c.Close()
		if got != tc.want {
			t.Fatalf("tx on %s: %q, want %q", tc.srv.Addr, got, tc.want)
		}
	}
	// The subscriber gets what B publishes, once per subscription, and
	// nothing from A.
	cb := redis.NewClient(&redis.Options{Addr: b.Addr, Password: pw})
	defer cb.Close()
	ca := redis.NewClient(&redis.Options{Addr: a.Addr, Password: pw})
	defer ca.Close()
	if n, err := ca.Publish(ctx, "news", "from-a").Result(); err != nil || n != 0 {
		t.Fatalf("PUBLISH on A after Repoint: %d receivers, %v", n, err)
	}
	if n, err := cb.Publish(ctx, "news", "from-b").Result(); err != nil || n != 2 {
		t.Fatalf("PUBLISH on B after Repoint: %d receivers, %v", n, err)
	}
	expectPrefix(t, "message", sub.read1(), "*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$6\r\nfrom-b")
	expectPrefix(t, "pmessage", sub.read1(), "*4\r\n$8\r\npmessage\r\n$2\r\nn*\r\n$4\r\nnews\r\n$6\r\nfrom-b")
	expectPrefix(t, "PING", sub.do("PING"), "*2\r\n$4\r\npong")
	expectEOF(t, tracker, "CLIENT TRACKING after Repoint")
	if st := p.Stats(); st.Redialed != 2 || st.Resubscribed != 1 || st.Active != 3 {
		t.Fatalf("stats %+v", st)
	}
}

// A connection whose handshake the new backend refuses is closed: its
// client sees EOF, not a connection in another state.
func TestRepointReplayRefused(t *testing.T) {
	a := redistest.Start(t)
	b := redistest.Start(t) // another password
	p, err := Listen("127.0.0.1:0", a.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c := dialRaw(t, p.Addr())
	expectPrefix(t, "AUTH", c.do("AUTH", a.Password), "+OK")
	waitSettled(t, p)
	p.Repoint(b.Addr)
	c.send("PING")
	expectEOF(t, c, "PING after a refused replay")
	if st := p.Stats(); st.DialFails != 1 || st.Redialed != 0 || st.Active != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// A client that leaves with a command in flight does not end it: Hold waits
// until the server has run it.
func TestHoldWaitsForDepartedClient(t *testing.T) {
	s := redistest.Start(t)
	p, err := Listen("127.0.0.1:0", s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c := dialRaw(t, p.Addr())
	sent := time.Now()
	if _, err := c.nc.Write(append(encode("AUTH", s.Password), encode("DEBUG", "SLEEP", "0.3")...)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond)
	c.nc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := p.Hold(ctx); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(sent); d < 300*time.Millisecond {
		t.Fatalf("Hold returned %v after DEBUG SLEEP 0.3 was sent by a client that left", d)
	}
	p.Release()
	deadline := time.Now().Add(2 * time.Second)
	for p.Stats().Active != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("connection of a departed client still open: %+v", p.Stats())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitSettled waits until the proxy has counted every reply it forwarded:
// a reply reaches the client just before the proxy's bookkeeping of it.
// waitStats waits until the proxy's counters satisfy ok.
func waitStats(t *testing.T, p *Proxy, ok func(Stats) bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for !ok(p.Stats()) {
		if time.Now().After(deadline) {
			t.Fatalf("stats %+v", p.Stats())
		}
		time.Sleep(time.Millisecond)
	}
}

func waitSettled(t *testing.T, p *Proxy) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for p.Stats().InFlight != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("replies not settled: %+v", p.Stats())
		}
		time.Sleep(time.Millisecond)
	}
}

// An open transaction moves with its connection: the new backend gets
// MULTI and the commands queued so far, and EXEC runs it there whole. One
// under WATCH, or whose queued commands the server refused, is closed.
func TestRepointMovesOpenTransaction(t *testing.T) {
	pw := redistest.RandomPassword()
	a := redistest.Start(t, redistest.WithPassword(pw))
	b := redistest.Start(t, redistest.WithPassword(pw))
	p, err := Listen("127.0.0.1:0", a.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	queued := dialRaw(t, p.Addr()) // MULTI and a command before the switch
	expectPrefix(t, "AUTH", queued.do("AUTH", pw), "+OK")
	expectPrefix(t, "SELECT", queued.do("SELECT", "4"), "+OK")
	expectPrefix(t, "MULTI", queued.do("MULTI"), "+OK")
	expectPrefix(t, "INCR", queued.do("INCR", "n"), "+QUEUED")

	cut := dialRaw(t, p.Addr()) // MULTI before the switch, the rest during the hold
	expectPrefix(t, "AUTH", cut.do("AUTH", pw), "+OK")
	expectPrefix(t, "MULTI", cut.do("MULTI"), "+OK")

	watched := dialRaw(t, p.Addr())
	expectPrefix(t, "AUTH", watched.do("AUTH", pw), "+OK")
	expectPrefix(t, "WATCH", watched.do("WATCH", "w"), "+OK")
	expectPrefix(t, "MULTI", watched.do("MULTI"), "+OK")

	refused := dialRaw(t, p.Addr())
	expectPrefix(t, "AUTH", refused.do("AUTH", pw), "+OK")
	expectPrefix(t, "MULTI", refused.do("MULTI"), "+OK")
	expectPrefix(t, "SET with one argument", refused.do("SET", "k"), "-ERR")

	waitSettled(t, p)
	if err := p.Hold(ctx); err != nil {
		t.Fatal(err)
	}
	cut.send("SET", "cut", "1") // waits in the proxy
	cut.send("EXEC")
	time.Sleep(20 * time.Millisecond)
	p.Repoint(b.Addr)
	p.Release()
	if got := cut.read1(); got != "+QUEUED\r\n" {
		t.Fatalf("SET queued during the hold: %q", got)
	}
	if got := cut.read1(); got != "*1\r\n+OK\r\n" {
		t.Fatalf("EXEC after the switch: %q", got)
	}
	expectPrefix(t, "INCR", queued.do("INCR", "n"), "+QUEUED")
	if got := queued.do("EXEC"); got != "*2\r\n:1\r\n:2\r\n" {
		t.Fatalf("EXEC of the moved transaction: %q", got)
	}
	watched.send("EXEC")
	expectEOF(t, watched, "EXEC under WATCH after the switch")
	refused.send("EXEC")
	expectEOF(t, refused, "EXEC of a transaction with a refused command")

	for _, tc := range []struct {
		srv       *redistest.Server
		n, cutVal string
	}{{a, "", ""}, {b, "2", "1"}} {
		c4 := redis.NewClient(&redis.Options{Addr: tc.srv.Addr, Password: pw, DB: 4})
		n, _ := c4.Get(ctx, "n").Result()
		c4.Close()
		c0 := redis.NewClient(&redis.Options{Addr: tc.srv.Addr, Password: pw})
		cutVal, _ := c0.Get(ctx, "cut").Result()
		c0.Close()
		if n != tc.n || cutVal != tc.cutVal {
			t.Fatalf("on %s: n %q cut %q, want %q %q", tc.srv.Addr, n, cutVal, tc.n, tc.cutVal)
		}
	}
	// The refused one was closed when its replay failed.
	if st := p.Stats(); st.Redialed != 2 || st.Closed != 1 || st.DialFails != 1 {
		t.Fatalf("stats %+v", st)
	}
}
