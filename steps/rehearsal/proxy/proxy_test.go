package proxy_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/understudy/understudy/internal/redistest"
	"github.com/understudy/understudy/steps/traffic"
)

func TestProxyForwardsWriter(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s := redistest.Start(t)
	p := startProxy(t, s.Addr)
	if p.Target() != s.Addr || !strings.HasPrefix(p.Addr(), "127.0.0.1:") {
		t.Fatalf("Addr %s Target %s", p.Addr(), p.Target())
	}
	w, err := traffic.Start(ctx, traffic.Options{Addr: p.Addr(), Password: s.Password, Rate: 1000})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	r := w.Stop()
	direct := s.Client()
	defer direct.Close()
	if err := w.Verify(ctx, direct, r); err != nil {
		t.Fatal(err)
	}
	st := p.Stats()
	t.Logf("writer: attempted %d acked %d lost %d max stall %.2f ms; proxy %+v", r.Attempted, r.Acked, r.Lost, r.MaxStallMS, st)
	if r.Attempted < 400 || r.Acked != r.Attempted || r.Failed != 0 || r.Lost != 0 {
		t.Fatalf("through the proxy: attempted %d acked %d failed %d lost %d", r.Attempted, r.Acked, r.Failed, r.Lost)
	}
	if st.Commands < r.Attempted || st.Replies != st.Commands || st.InFlight != 0 || st.Accepted < 1 {
		t.Fatalf("stats %+v for %d writes", st, r.Attempted)
	}
	if calls := setCalls(t, ctx, direct); calls != r.Attempted {
		t.Fatalf("server ran %d SETs, writer sent %d", calls, r.Attempted)
	}
}

// Hold waits for commands in flight, forwards nothing while in force, makes
// new connections wait too, and Release resumes.
func TestHold(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s := redistest.Start(t)
	direct := s.Client()
	defer direct.Close()
	p := startProxy(t, s.Addr)
	w, err := traffic.Start(ctx, traffic.Options{Addr: p.Addr(), Password: s.Password, Rate: 1000})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	time.Sleep(200 * time.Millisecond)

	// A slow command from another client, through the proxy.
	slow := client(t, p.Addr(), s.Password)
	if err := slow.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	slept := make(chan error, 1)
	sent := time.Now()
	go func() { slept <- slow.Do(ctx, "DEBUG", "SLEEP", "0.2").Err() }()
	time.Sleep(30 * time.Millisecond) // DEBUG SLEEP is now running on the server

	if err := p.Hold(ctx); err != nil {
		t.Fatal(err)
	}
	// The server cannot answer before it has slept 200 ms.
	if held := time.Since(sent); held < 200*time.Millisecond {
		t.Fatalf("Hold returned %v after DEBUG SLEEP 0.2 was sent", held)
	}
	if err := <-slept; err != nil {
		t.Fatalf("DEBUG SLEEP: %v", err)
	}
	if st := p.Stats(); st.InFlight != 0 {
		t.Fatalf("in flight after Hold: %d", st.InFlight)
	}

	// Nothing reaches the server during the hold, not even from a new connection.
	before, cmdsBefore := setCalls(t, ctx, direct), p.Stats().Commands
	late := client(t, p.Addr(), s.Password)
	pinged := make(chan error, 1)
	go func() { pinged <- late.Ping(ctx).Err() }()
	time.Sleep(200 * time.Millisecond)
	if after := setCalls(t, ctx, direct); after != before {
		t.Fatalf("server ran %d SETs during the hold", after-before)
	}
	if st := p.Stats(); st.Commands != cmdsBefore || st.Waited == 0 {
		t.Fatalf("during the hold: %d commands forwarded, %d waits", st.Commands-cmdsBefore, st.Waited)
	}
	select {
	case err := <-pinged:
		t.Fatalf("a connection accepted during the hold got an answer: %v", err)
	default:
	}

	p.Release()
	if err := <-pinged; err != nil {
		t.Fatalf("PING after Release: %v", err)
	}
	time.Sleep(200 * time.Millisecond)
	if after := setCalls(t, ctx, direct); after-before < 100 {
		t.Fatalf("only %d SETs in the 200 ms after Release", after-before)
	}
	r := w.Stop()
	if err := w.Verify(ctx, direct, r); err != nil {
		t.Fatal(err)
	}
	st := p.Stats()
	t.Logf("hold drained in %v, held %v; writer max stall %.1f ms at %.0f ms, acked %d lost %d",
		st.DrainedIn, st.HeldFor, r.MaxStallMS, r.MaxStallAt, r.Acked, r.Lost)
	if r.Failed != 0 || r.Lost != 0 || r.Acked != r.Attempted {
		t.Fatalf("attempted %d acked %d failed %d lost %d", r.Attempted, r.Acked, r.Failed, r.Lost)
	}
	if r.MaxStallMS < 190 {
		t.Fatalf("max stall %.1f ms across a 200 ms hold", r.MaxStallMS)
	}
	if st.HeldFor < 200*time.Millisecond || st.Holds != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// ctx bounds Hold; subscribers and blocking commands (BLPOP k 0, which may
// never be answered) are not waited for, other commands are.
func TestHoldBounded(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s := redistest.Start(t)
	p := startProxy(t, s.Addr)

	sub := client(t, p.Addr(), s.Password).Subscribe(ctx, "news")
	defer sub.Close()
	if _, err := sub.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	hctx, hcancel := context.WithTimeout(ctx, time.Second)
	if err := p.Hold(hctx); err != nil {
		t.Fatalf("Hold with only a subscriber connected: %v", err)
	}
	hcancel()
	p.Release()

	blocked := client(t, p.Addr(), s.Password)
	if err := blocked.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	popped := make(chan error, 1)
	go func() { popped <- blocked.BLPop(ctx, 0, "queue").Err() }()
	time.Sleep(50 * time.Millisecond)
	hctx, hcancel = context.WithTimeout(ctx, 100*time.Millisecond)
	if err := p.Hold(hctx); err != nil {
		t.Fatalf("Hold with BLPOP 0 in flight: %v", err)
	}
	hcancel()
	p.Release()
	if err := client(t, s.Addr, s.Password).RPush(ctx, "queue", "x").Err(); err != nil {
		t.Fatal(err)
	}
	if err := <-popped; err != nil {
		t.Fatalf("BLPOP: %v", err)
	}

	slow := client(t, p.Addr(), s.Password)
	slept := make(chan error, 1)
	go func() { slept <- slow.Do(ctx, "DEBUG", "SLEEP", "0.5").Err() }()
	time.Sleep(50 * time.Millisecond)
	hctx, hcancel = context.WithTimeout(ctx, 100*time.Millisecond)
	defer hcancel()
	err := p.Hold(hctx)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "1 commands still in flight") {
		t.Fatalf("Hold with DEBUG SLEEP in flight: %v", err)
	}
	// The hold stays in force until Release.
	if st := p.Stats(); st.HeldFor < 100*time.Millisecond {
		t.Fatalf("hold not in force after a failed Hold: %+v", st)
	}
	p.Release()
	if err := <-slept; err != nil {
		t.Fatalf("DEBUG SLEEP: %v", err)
	}
}

func TestCloseEndsConnections(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s := redistest.Start(t)
	p := startProxy(t, s.Addr)
	c := redis.NewClient(&redis.Options{Addr: p.Addr(), Password: s.Password, MaxRetries: -1})
	defer c.Close()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if err := p.Hold(ctx); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- c.Ping(ctx).Err() }()
	time.Sleep(20 * time.Millisecond)
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err == nil {
		t.Fatal("PING held across Close succeeded")
	}
	if err := c.Ping(ctx).Err(); err == nil {
		t.Fatal("PING after Close succeeded")
	}
	if st := p.Stats(); st.Active != 0 {
		t.Fatalf("%d connections after Close", st.Active)
	}
}

// Big values and long pipelines stream through, replies in order.
func TestProxyBigValuesAndPipelines(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s := redistest.Start(t)
	p := startProxy(t, s.Addr)
	c := client(t, p.Addr(), s.Password)

	big := strings.Repeat("0123456789abcdef", 1<<16) // 1 MiB
	if err := c.Set(ctx, "big", big, 0).Err(); err != nil {
		t.Fatal(err)
	}
	if got, err := c.Get(ctx, "big").Result(); err != nil || got != big {
		t.Fatalf("GET big: %d bytes, %v", len(got), err)
	}

	cmds, err := c.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		for i := range 2000 {
			pipe.Set(ctx, "pipe:"+strconv.Itoa(i), i, 0)
			pipe.Get(ctx, "pipe:"+strconv.Itoa(i))
		}
		pipe.HSet(ctx, "h", "a", 1, "b", 2)
		pipe.HGetAll(ctx, "h") // a map in RESP3
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2000 {
		if got := cmds[2*i+1].(*redis.StringCmd).Val(); got != strconv.Itoa(i) {
			t.Fatalf("GET pipe:%d = %q: replies out of step", i, got)
		}
	}
	if m := cmds[len(cmds)-1].(*redis.MapStringStringCmd).Val(); m["a"] != "1" || m["b"] != "2" {
		t.Fatalf("HGETALL %v", m)
	}
	// The client has every reply; the proxy counts the last ones just
	// after it forwards them.
	for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(time.Millisecond) {
		st := p.Stats()
		if st.InFlight == 0 && st.Replies == st.Commands {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("stats %+v", st)
		}
	}
}
