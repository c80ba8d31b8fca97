package proxy_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestSwitchoverWithClientMix switches over while, besides the write probe,
// an application runs through the proxy: a stream consumer in XREAD BLOCK 0,
// a MULTI/EXEC loop that increments two counters together, a pub/sub
// subscriber and a RESP3 client. The switch keeps its usual stall; every
// stream entry added is read exactly once; no transaction is half applied
// (the two counters are equal on the new master and count the acknowledged
// transactions); the subscriber is back after the switch (pub/sub is
// at-most-once: messages published while it reconnects are not delivered,
// which the test reports and does not count as a loss).
func TestSwitchoverWithClientMix(t *testing.T) {
	ctx, a, b, ca, cb, p, w := rig(t)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	fail := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}

	// A stream producer and a consumer in XREAD BLOCK 0.
	var added []string
	read := map[string]int{}
	producer := client(t, p.Addr(), a.Password)
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(3 * time.Millisecond):
			}
			id, err := producer.XAdd(ctx, &redis.XAddArgs{Stream: "events", Values: []any{"n", len(added)}}).Result()
			if err != nil {
				fail(fmt.Errorf("XADD: %w", err))
				return
			}
			mu.Lock()
			added = append(added, id)
			mu.Unlock()
		}
	})
	reader := client(t, p.Addr(), a.Password)
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		last := "0"
		for {
			res, err := reader.XRead(ctx, &redis.XReadArgs{Streams: []string{"events", last}, Block: 0}).Result()
			if err != nil {
				fail(fmt.Errorf("XREAD: %w", err))
				return
			}
			for _, m := range res[0].Messages {
				if m.Values["n"] == "end" {
					return
				}
				mu.Lock()
				read[m.ID]++
				mu.Unlock()
				last = m.ID
			}
		}
	}()

	// Transactions: two counters incremented together.
	tx := client(t, p.Addr(), a.Password)
	var txAcked int
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
			_, err := tx.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
				pipe.Incr(ctx, "tx:a")
				pipe.Incr(ctx, "tx:b")
				return nil
			})
			if err != nil {
				fail(fmt.Errorf("MULTI/EXEC: %w", err))
				return
			}
			mu.Lock()
			txAcked++
			mu.Unlock()
		}
	})

	// A subscriber and a publisher.
	sub := client(t, p.Addr(), a.Password).Subscribe(ctx, "news")
	defer sub.Close()
	if _, err := sub.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	var received int
	subDone := make(chan struct{})
	go func() {
		defer close(subDone)
		for m := range sub.Channel() {
			if m.Payload == "end" {
				return
			}
			mu.Lock()
			received++
			mu.Unlock()
		}
	}()
	publisher := client(t, p.Addr(), a.Password)
	var published int
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			if err := publisher.Publish(ctx, "news", "x").Err(); err != nil {
				fail(fmt.Errorf("PUBLISH: %w", err))
				return
			}
			mu.Lock()
			published++
			mu.Unlock()
		}
	})

	// A RESP3 client.
	resp3 := redis.NewClient(&redis.Options{Addr: p.Addr(), Password: a.Password, Protocol: 3})
	defer resp3.Close()
	var resp3Acked int
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
			if err := resp3.HSet(ctx, "resp3", fmt.Sprint(i), i).Err(); err != nil {
				fail(fmt.Errorf("RESP3 HSET: %w", err))
				return
			}
			mu.Lock()
			resp3Acked++
			mu.Unlock()
		}
	})

	time.Sleep(500 * time.Millisecond)
	steps, err := switchover(ctx, p, w, b, ca, cb)
	if err != nil {
		t.Fatalf("switchover: %v (steps %s)", err, steps)
	}
	time.Sleep(500 * time.Millisecond)
	close(stop)
	wg.Wait()
	if err := producer.XAdd(ctx, &redis.XAddArgs{Stream: "events", Values: []any{"n", "end"}}).Err(); err != nil {
		t.Fatal(err)
	}
	// The subscriber is back: wait for it to receive again, then end it.
	deadline := time.Now().Add(5 * time.Second)
	for {
		n, err := publisher.Publish(ctx, "news", "end").Result()
		if err != nil {
			t.Fatal(err)
		}
		if n > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, done := range []chan struct{}{readDone, subDone} {
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("a client did not finish after the switch")
		}
	}
	r := w.Stop()
	if err := w.Verify(ctx, cb, r); err != nil {
		t.Fatal(err)
	}
	st := p.Stats()
	mu.Lock()
	defer mu.Unlock()
	t.Logf("writer max stall %.2f ms, lost %d; stream %d added %d read; %d transactions; pub/sub %d published %d received; RESP3 %d; proxy retiring %d closed %d redialed %d; steps %s",
		r.MaxStallMS, r.Lost, len(added), len(read), txAcked, published, received, resp3Acked, st.Retiring, st.Closed, st.Redialed, strings.Join(steps, ", "))
	if len(errs) > 0 {
		t.Fatalf("client errors: %v", errs)
	}
	if r.Lost != 0 || r.Failed != 0 || r.MaxStallMS > 1000 {
		t.Errorf("writer: lost %d failed %d max stall %.1f ms", r.Lost, r.Failed, r.MaxStallMS)
	}
	missing, twice := 0, 0
	for _, id := range added {
		switch read[id] {
		case 0:
			missing++
		case 1:
		default:
			twice++
		}
	}
	if missing > 0 || twice > 0 {
		t.Errorf("stream: %d added, %d not read, %d read twice", len(added), missing, twice)
	}
	ta, _ := cb.Get(ctx, "tx:a").Int()
	tb, _ := cb.Get(ctx, "tx:b").Int()
	if ta != tb || ta < txAcked {
		t.Errorf("transactions: tx:a %d tx:b %d, %d acknowledged", ta, tb, txAcked)
	}
	if n, _ := cb.HLen(ctx, "resp3").Result(); n < int64(resp3Acked) {
		t.Errorf("RESP3: %d fields on the new master, %d acknowledged", n, resp3Acked)
	}
	if received == 0 || received > published {
		t.Errorf("pub/sub: %d published, %d received", published, received)
	}
}
