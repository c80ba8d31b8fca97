package proxy_test

import (
	"strings"
	"testing"
	"time"

	"github.com/understudy/understudy/internal/clientmix"
)

// TestSwitchoverWithClientMix switches over while, besides the write probe,
// an application's client mix runs through the proxy (internal/clientmix):
// job-queue consumers in BLPOP 0, a stream consumer in XREAD BLOCK 0, a
// RESP2 and a RESP3 subscriber on a channel and a pattern, a MULTI/EXEC
// loop, redis-benchmark -P 16 and a RESP3 client reading its writes back.
// The switch keeps its usual stall; no push, stream entry or write is lost
// or duplicated; no transaction is half applied; redis-benchmark, which
// gives up on any error or closed connection, exits 0; the subscribers are
// subscribed on the new master at the end: moved, they miss nothing;
// closed, what they missed is logged (pub/sub is at-most-once).
func TestSwitchoverWithClientMix(t *testing.T) {
	for _, mode := range repointModes {
		t.Run(mode.name, func(t *testing.T) {
			ctx, a, b, ca, cb, p, w := rig(t, mode.opts...)
			// With WithCloseOnRepoint redis-benchmark's connections are
			// closed, and it gives up: it does not reconnect.
			// db 3: every moved connection replays its SELECT.
			m, err := clientmix.Start(ctx, clientmix.Options{Addr: p.Addr(), Password: a.Password, DB: 3,
				MaxDuration: 20 * time.Second, Bench: clientmix.Bench{Disabled: mode.name == "close"}})
			if err != nil {
				t.Fatal(err)
			}
			time.Sleep(500 * time.Millisecond)
			before := m.Progress()
			steps, err := switchover(ctx, p, w, b, ca, cb)
			if err != nil {
				m.Stop()
				t.Fatalf("switchover: %v (steps %s)", err, steps)
			}
			after := m.Progress()
			time.Sleep(500 * time.Millisecond)
			res := m.Stop()
			r := w.Stop()
			if err := w.Verify(ctx, cb, r); err != nil {
				t.Fatal(err)
			}
			st := p.Stats()
			t.Logf("%s: writer max stall %.2f ms, lost %d; proxy retiring %d closed %d redialed %d; steps %s",
				mode.name, r.MaxStallMS, r.Lost, st.Retiring, st.Closed, st.Redialed, strings.Join(steps, ", "))
			t.Logf("%s: %s", mode.name, res)
			if r.Lost != 0 || r.Failed != 0 || r.MaxStallMS > 1000 {
				t.Errorf("writer: lost %d failed %d max stall %.1f ms", r.Lost, r.Failed, r.MaxStallMS)
			}
			if mode.name == "close" && res.Tx.Errors > 0 && res.Tx.Ambiguous == 0 {
				// A transaction the switch cut: its connection closed
				// with EXEC unsent or held, the old server discarded it,
				// and go-redis, which does not send a transaction again
				// once written, reports EOF. It did not run (checked by
				// Whole below).
				t.Logf("close: %d transaction(s) cut by the switch, not run: %s", res.Tx.Errors, res.Tx.LastErr)
				res.Tx.Errors = 0
			}
			if err := res.Err(); err != nil {
				t.Error(err)
			}
			for _, sub := range res.PubSub.Subscribers {
				// Moved, a subscriber misses nothing; closed, go-redis
				// resubscribes and may miss what is published meanwhile.
				if mode.name == "redial" && (len(sub.Missed) > 0 || sub.Disconnects > 0) {
					t.Errorf("%s: %s", sub.Name, sub)
				}
			}
			if mode.name == "redial" && (!before.BenchRunning || !after.BenchRunning || before.BenchRun != after.BenchRun) {
				t.Errorf("redis-benchmark did not run across the switch: before %+v, after %+v", before, after)
			}
			// Everything ended on the new master: the list and the stream
			// are there (the checks above read through the proxy).
			if n, err := cb.Do(ctx, "EVAL", "redis.call('SELECT', 3) return redis.call('LLEN', KEYS[1])", 1, "clientmix:tx:list").Int64(); err != nil || n != int64(res.Tx.Acked) {
				t.Errorf("the new master's transaction list: %d %v, want %d", n, err, res.Tx.Acked)
			}
		})
	}
}
