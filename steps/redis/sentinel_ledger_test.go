package redis_test

import (
	"context"
	"fmt"
	"net"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/understudy/understudy/internal/redistest"
)

// ledgerWriter is an application behind Sentinel: a go-redis failover
// client with its default options (retries, timeouts) writing unique keys
// at a steady rate from one goroutine, with a ledger of the writes the
// server acknowledged. Bounded: it stops at stop(), after maxWrites writes
// or after maxDuration, whichever comes first.
type ledgerWriter struct {
	client *goredis.Client
	prefix string
	cancel context.CancelFunc
	done   chan struct{}

	mu        sync.Mutex
	acked     []string
	ackTimes  []time.Time
	attempted int
	failed    int
	failTimes []time.Time
	errs      map[string]int
	maxLat    time.Duration // longest single write, retries included
	maxLatAt  time.Time
	maxGap    time.Duration // longest time between two acknowledgements
	dials     []dial        // connections the client opened to data nodes
}

type dial struct {
	at   time.Time
	addr string
}

const (
	writeRate   = 1000 // writes per second
	maxWrites   = 120_000
	maxDuration = 2 * time.Minute
)

// startWriter starts writing through Sentinel to the set's master.
func startWriter(t *testing.T, set *redistest.SentinelSet, prefix string) *ledgerWriter {
	t.Helper()
	w := &ledgerWriter{prefix: prefix, errs: map[string]int{}, done: make(chan struct{})}
	w.client = goredis.NewFailoverClient(&goredis.FailoverOptions{
		MasterName:    set.Name,
		SentinelAddrs: set.SentinelAddrs(),
		Password:      set.Password,
	})
	w.client.AddHook(dialHook{w})
	ctx, cancel := context.WithTimeout(context.Background(), maxDuration)
	w.cancel = cancel
	if err := w.client.Ping(ctx).Err(); err != nil {
		cancel()
		t.Fatalf("writer: PING through Sentinel: %v", err)
	}
	go w.run(ctx)
	t.Cleanup(func() { w.stop(); w.client.Close() })
	return w
}

func (w *ledgerWriter) run(ctx context.Context) {
	defer close(w.done)
	start := time.Now()
	last := start
	for i := 0; i < maxWrites; i++ {
		if due := start.Add(time.Duration(i) * time.Second / writeRate); time.Until(due) > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Until(due)):
			}
		}
		if ctx.Err() != nil {
			return
		}
		key := fmt.Sprintf("%s:%d", w.prefix, i)
		t0 := time.Now()
		err := w.client.Set(ctx, key, i, 0).Err()
		t1 := time.Now()
		w.mu.Lock()
		w.attempted++
		if lat := t1.Sub(t0); lat > w.maxLat {
			w.maxLat, w.maxLatAt = lat, t0
		}
		if err != nil {
			if ctx.Err() != nil { // stopped mid-write: not the server's doing
				w.attempted--
				w.mu.Unlock()
				return
			}
			w.failed++
			w.failTimes = append(w.failTimes, t1)
			w.errs[errKind(err)]++
		} else {
			if gap := t1.Sub(last); gap > w.maxGap {
				w.maxGap = gap
			}
			last = t1
			w.acked = append(w.acked, key)
			w.ackTimes = append(w.ackTimes, t1)
		}
		w.mu.Unlock()
	}
}

// stop ends the writing and waits for the loop to return.
func (w *ledgerWriter) stop() {
	w.cancel()
	<-w.done
}

// lost reads every acknowledged key back from the final master and returns
// the keys missing (or holding another value).
func (w *ledgerWriter) lost(t *testing.T, final *goredis.Client) []string {
	t.Helper()
	ctx := context.Background()
	var missing []string
	const batch = 1000
	for i := 0; i < len(w.acked); i += batch {
		keys := w.acked[i:min(i+batch, len(w.acked))]
		vals, err := final.MGet(ctx, keys...).Result()
		if err != nil {
			t.Fatalf("MGET on the final master: %v", err)
		}
		for j, v := range vals {
			want := strings.TrimPrefix(keys[j], w.prefix+":")
			if s, ok := v.(string); !ok || s != want {
				missing = append(missing, keys[j])
			}
		}
	}
	return missing
}

// followed is how long after since the client's first acknowledged write
// through a connection it opened to addr after since came back.
func (w *ledgerWriter) followed(addr string, since time.Time) time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	var first time.Time
	for _, d := range w.dials {
		if d.addr == addr && d.at.After(since) {
			first = d.at
			break
		}
	}
	if first.IsZero() {
		return -1
	}
	i := sort.Search(len(w.ackTimes), func(i int) bool { return w.ackTimes[i].After(first) })
	if i == len(w.ackTimes) {
		return -1
	}
	return w.ackTimes[i].Sub(since)
}

func (w *ledgerWriter) summary() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return fmt.Sprintf("attempted %d, acknowledged %d, failed %d %v, longest write %s, longest gap between acks %s",
		w.attempted, len(w.acked), w.failed, w.errs, w.maxLat.Round(10*time.Microsecond), w.maxGap.Round(10*time.Microsecond))
}

func errKind(err error) string {
	s := err.Error()
	if i := strings.IndexAny(s, " :"); i > 0 {
		return s[:i]
	}
	return s
}

// dialHook records the connections the failover client opens.
type dialHook struct{ w *ledgerWriter }

func (h dialHook) DialHook(next goredis.DialHook) goredis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := next(ctx, network, addr)
		if err == nil {
			h.w.mu.Lock()
			// The failover client resolves the master itself: addr is a
			// placeholder, the connection knows where it went.
			h.w.dials = append(h.w.dials, dial{at: time.Now(), addr: c.RemoteAddr().String()})
			h.w.mu.Unlock()
		}
		return c, err
	}
}

func (h dialHook) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook { return next }

func (h dialHook) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return next
}

// gapBetween is the longest time between two acknowledgements that came
// back between from and to.
func (w *ledgerWriter) gapBetween(from, to time.Time) time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	var gap time.Duration
	last := from
	for _, at := range w.ackTimes {
		if at.Before(from) {
			continue
		}
		if at.After(to) {
			break
		}
		gap = max(gap, at.Sub(last))
		last = at
	}
	return gap
}

// failedBetween counts the writes that failed between from and to.
func (w *ledgerWriter) failedBetween(from, to time.Time) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, at := range w.failTimes {
		if !at.Before(from) && !at.After(to) {
			n++
		}
	}
	return n
}
