package proxy_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/understudy/understudy/internal/redistest"
	"github.com/understudy/understudy/steps/rehearsal/proxy"
)

// recorder is a go-redis subscriber that counts what it receives per
// payload and subscription kind, and the errors it sees (a closed
// connection: go-redis would resubscribe).
type recorder struct {
	ps   *redis.PubSub
	mu   sync.Mutex
	got  map[string]int // "channel|payload" or "pattern|payload" → times
	errs int
	done chan struct{}
}

func subscribe(t *testing.T, ctx context.Context, addr, password string, protocol int, channels, patterns []string) *recorder {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, Password: password, Protocol: protocol})
	t.Cleanup(func() { c.Close() })
	r := &recorder{ps: c.Subscribe(ctx), got: map[string]int{}, done: make(chan struct{})}
	if len(channels) > 0 {
		if err := r.ps.Subscribe(ctx, channels...); err != nil {
			t.Fatal(err)
		}
	}
	if len(patterns) > 0 {
		if err := r.ps.PSubscribe(ctx, patterns...); err != nil {
			t.Fatal(err)
		}
	}
	for range len(channels) + len(patterns) {
		if _, err := r.ps.Receive(ctx); err != nil {
			t.Fatal(err)
		}
	}
	go func() {
		defer close(r.done)
		for {
			msg, err := r.ps.Receive(ctx)
			if err != nil {
				if ctx.Err() != nil || strings.Contains(err.Error(), "closed") {
					return
				}
				r.mu.Lock()
				r.errs++
				r.mu.Unlock()
				continue
			}
			if m, ok := msg.(*redis.Message); ok {
				kind := "channel"
				if m.Pattern != "" {
					kind = "pattern"
				}
				r.mu.Lock()
				r.got[kind+"|"+m.Payload]++
				r.mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() { r.ps.Close(); <-r.done })
	return r
}

// check counts, for every payload in want and every subscription kind,
// the messages missed and those received more than once.
func (r *recorder) check(want []string, kinds ...string) (missed, twice, errs int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range want {
		for _, k := range kinds {
			switch r.got[k+"|"+p] {
			case 0:
				missed++
			case 1:
			default:
				twice++
			}
		}
	}
	return missed, twice, r.errs
}

// waitFor waits until every recorder received payload on every kind.
func waitFor(t *testing.T, recs []*recorder, payload string, kinds ...string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for _, r := range recs {
		for {
			missed, _, _ := r.check([]string{payload}, kinds...)
			if missed == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%q not received", payload)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// TestSwitchoverMovesSubscribers switches over while subscribers (RESP2
// and RESP3, on a channel and a pattern) listen through the proxy and a
// publisher publishes through it as fast as it can: the subscribers stay
// connected, and every acknowledged message reaches every subscription
// exactly once: published on the old master before the hold (drained from
// the old connection), or on the new one after (its PUBLISH waited in the
// proxy for the subscriptions).
func TestSwitchoverMovesSubscribers(t *testing.T) {
	ctx, a, b, ca, cb, p, w := rig(t)
	var recs []*recorder
	for i := range 6 {
		recs = append(recs, subscribe(t, ctx, p.Addr(), a.Password, 2+i%2, []string{"news"}, []string{"ne*"}))
	}
	publisher := client(t, p.Addr(), a.Password)
	var (
		mu        sync.Mutex
		published []string
		stop      = make(chan struct{})
		pubDone   = make(chan struct{})
	)
	go func() {
		defer close(pubDone)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			v := strconv.Itoa(i)
			if err := publisher.Publish(ctx, "news", v).Err(); err != nil {
				t.Errorf("PUBLISH: %v", err)
				return
			}
			mu.Lock()
			published = append(published, v)
			mu.Unlock()
		}
	}()
	time.Sleep(300 * time.Millisecond)
	steps, err := switchover(ctx, p, w, b, ca, cb)
	if err != nil {
		t.Fatalf("switchover: %v (steps %s)", err, steps)
	}
	time.Sleep(300 * time.Millisecond)
	close(stop)
	<-pubDone
	if err := publisher.Publish(ctx, "news", "end").Err(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, recs, "end", "channel", "pattern")
	st := p.Stats()
	mu.Lock()
	defer mu.Unlock()
	t.Logf("%d published; proxy resubscribed %d, publish waits %d, late marks %d, closed %d; steps %s",
		len(published), st.Resubscribed, st.PublishWaits, st.LateMarks, st.Closed, strings.Join(steps, ", "))
	for i, r := range recs {
		missed, twice, errs := r.check(published, "channel", "pattern")
		if missed != 0 || twice != 0 || errs != 0 {
			t.Errorf("subscriber %d (RESP%d): %d missed, %d twice, %d errors", i, 2+i%2, missed, twice, errs)
		}
	}
	if st.Resubscribed != int64(len(recs)) || st.Closed != 0 {
		t.Errorf("%d subscribers moved, %d connections closed", st.Resubscribed, st.Closed)
	}
	if n, err := cb.Do(ctx, "PUBSUB", "NUMSUB", "news").Slice(); err != nil || fmt.Sprint(n[1]) != strconv.Itoa(len(recs)) {
		t.Errorf("subscribers of news on the new master: %v %v", n, err)
	}
}

// TestSwitchoverMovesKeyspaceSubscriber: a subscriber to keyspace events,
// which any write sends, is subscribed again before Repoint returns, so
// the hold covers it: it gets the event of every acknowledged write once.
func TestSwitchoverMovesKeyspaceSubscriber(t *testing.T) {
	ctx, a, b, ca, cb, p, w := rig(t)
	for _, c := range []*redis.Client{ca, cb} {
		if err := c.ConfigSet(ctx, "notify-keyspace-events", "E$").Err(); err != nil {
			t.Fatal(err)
		}
	}
	rec := subscribe(t, ctx, p.Addr(), a.Password, 3, nil, []string{"__keyevent@0__:set"})
	writer := client(t, p.Addr(), a.Password)
	var (
		written []string
		stop    = make(chan struct{})
		done    = make(chan struct{})
	)
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			k := "ks:" + strconv.Itoa(i)
			if err := writer.Set(ctx, k, "v", 0).Err(); err != nil {
				t.Errorf("SET: %v", err)
				return
			}
			written = append(written, k)
		}
	}()
	time.Sleep(300 * time.Millisecond)
	steps, err := switchover(ctx, p, w, b, ca, cb)
	if err != nil {
		t.Fatalf("switchover: %v (steps %s)", err, steps)
	}
	time.Sleep(300 * time.Millisecond)
	close(stop)
	<-done
	if err := writer.Set(ctx, "ks:end", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, []*recorder{rec}, "ks:end", "pattern")
	missed, twice, errs := rec.check(written, "pattern")
	st := p.Stats()
	t.Logf("%d SETs; %d events missed, %d twice; proxy resubscribed %d, publish waits %d; steps %s",
		len(written), missed, twice, st.Resubscribed, st.PublishWaits, strings.Join(steps, ", "))
	if missed != 0 || twice != 0 || errs != 0 || st.Resubscribed != 1 {
		t.Errorf("keyspace subscriber: %d missed, %d twice, %d errors, %d moved", missed, twice, errs, st.Resubscribed)
	}
}

// With WithCloseOnRepoint a subscriber's connection is closed at the
// switch: go-redis resubscribes, and what is published meanwhile is lost
// to it (pub/sub is at-most-once).
func TestSwitchoverClosesSubscribersWhenAsked(t *testing.T) {
	ctx, a, b, ca, cb, p, w := rig(t, proxy.WithCloseOnRepoint())
	rec := subscribe(t, ctx, p.Addr(), a.Password, 2, []string{"news"}, nil)
	steps, err := switchover(ctx, p, w, b, ca, cb)
	if err != nil {
		t.Fatalf("switchover: %v (steps %s)", err, steps)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		// go-redis resubscribes on its next Receive, through the proxy.
		n, err := client(t, p.Addr(), a.Password).Publish(ctx, "news", "after").Result()
		if err != nil {
			t.Fatal(err)
		}
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the subscriber did not come back")
		}
		time.Sleep(10 * time.Millisecond)
	}
	waitFor(t, []*recorder{rec}, "after", "channel")
	if st := p.Stats(); st.Resubscribed != 0 || st.Closed == 0 {
		t.Errorf("stats %+v", st)
	}
	_, _, errs := rec.check(nil)
	t.Logf("the subscriber saw %d error(s) and came back", errs)
}

// A PUBLISH released right after Repoint waits in the proxy until the
// moved subscribers are subscribed on the new backend: it reaches all of
// them (without the wait it would reach none, or some).
func TestPublishWaitsForResubscription(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	pw := redistest.RandomPassword()
	a := redistest.Start(t, redistest.WithPassword(pw))
	b := redistest.Start(t, redistest.WithPassword(pw))
	p := startProxy(t, a.Addr)
	const subs = 8
	for i := range subs {
		subscribe(t, ctx, p.Addr(), pw, 2+i%2, []string{"news"}, nil)
	}
	publisher := client(t, p.Addr(), pw)
	if n, err := publisher.Publish(ctx, "news", "before").Result(); err != nil || n != subs {
		t.Fatalf("PUBLISH before: %d receivers, %v", n, err)
	}
	for round, target := range []string{b.Addr, a.Addr, b.Addr} {
		if err := p.Hold(ctx); err != nil {
			t.Fatal(err)
		}
		p.Repoint(target)
		p.Release()
		n, err := publisher.Publish(ctx, "news", "after").Result()
		if err != nil || n != subs {
			t.Fatalf("round %d: PUBLISH right after the switch reached %d subscribers, %v; stats %+v", round, n, err, p.Stats())
		}
	}
	st := p.Stats()
	t.Logf("publish waits %d, resubscribed %d", st.PublishWaits, st.Resubscribed)
	if st.Resubscribed != 3*subs {
		t.Errorf("stats %+v", st)
	}
}
