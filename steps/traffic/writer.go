package traffic

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"maps"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Writer writes unique values at a steady rate and keeps a ledger of the
// writes the server acknowledged.
type Writer struct {
	opts   Options
	client redis.UniversalClient
	runID  string
	start  time.Time // the writer's start: write k is due k/Rate seconds after it
	origin time.Time // the report's times are since this: Options.Origin or start
	cancel context.CancelFunc
	jobs   chan int64
	wg     sync.WaitGroup // dispatcher and workers
	done   chan struct{}  // closed when the dispatcher stops

	attempted, acked, failed atomic.Int64
	ledger                   ledger

	mu   sync.Mutex
	tl   *timeline
	errs map[string]int64
	end  time.Duration // when dispatching stopped, since the origin

	stopOnce sync.Once
	report   *Report
}

// Start connects to o.Addr (or the master o.Sentinel names, or the cluster
// o.Cluster names) with go-redis's default options (retries and timeouts
// as an application has them), checks the connection with PING and starts
// writing. Writing stops at Stop, when ctx ends, or at o.MaxDuration
// or o.MaxWrites, whichever comes first. An o.Origin after the start is an
// error.
func Start(ctx context.Context, o Options) (*Writer, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	if now := time.Now(); o.Origin.After(now) {
		return nil, fmt.Errorf("traffic: origin %s is in the future (%s from now)", o.Origin.Format(time.RFC3339Nano), o.Origin.Sub(now))
	}
	client, target := newClient(o)
	if err := client.Ping(ctx).Err(); err != nil {
		client.Close()
		return nil, fmt.Errorf("traffic: connect to %s: %w", target, err)
	}
	id := make([]byte, 8)
	if _, err := rand.Read(id); err != nil {
		client.Close()
		return nil, fmt.Errorf("traffic: run id: %w", err)
	}
	start, origin := time.Now(), o.Origin
	if origin.IsZero() {
		origin = start
	}
	w := &Writer{
		opts:   o,
		client: client,
		runID:  hex.EncodeToString(id),
		start:  start,
		origin: origin,
		jobs:   make(chan int64),
		done:   make(chan struct{}),
		tl:     newTimeline(o.Interval, start.Sub(origin)),
		errs:   make(map[string]int64),
	}
	dctx, cancel := context.WithTimeout(ctx, o.MaxDuration)
	w.cancel = cancel
	// In-flight writes finish on Stop; go-redis's own timeouts bound them.
	wctx := context.WithoutCancel(ctx)
	w.wg.Add(1 + o.Workers)
	go w.dispatch(dctx)
	for range o.Workers {
		go w.work(wctx)
	}
	return w, nil
}

// newClient is the writer's client: to Addr, to the master the sentinels
// name, or to the cluster, with go-redis's default retries in every case.
// target names where it connects, for errors.
func newClient(o Options) (_ redis.UniversalClient, target string) {
	pool := 0
	if o.Workers > 10*runtime.GOMAXPROCS(0) { // go-redis's default pool size
		pool = o.Workers
	}
	if o.Cluster != nil {
		return newClusterClient(o, pool)
	}
	if s := o.Sentinel; s != nil {
		return redis.NewFailoverClient(&redis.FailoverOptions{
			MasterName: s.MasterName, SentinelAddrs: s.Addrs,
			SentinelUsername: s.Username, SentinelPassword: s.Password,
			Username: o.Username, Password: o.Password, DB: o.DB, TLSConfig: o.TLSConfig, PoolSize: pool,
		}), fmt.Sprintf("master %q through sentinels %s", s.MasterName, strings.Join(s.Addrs, ", "))
	}
	return redis.NewClient(&redis.Options{Addr: o.Addr, Username: o.Username, Password: o.Password, DB: o.DB, TLSConfig: o.TLSConfig, PoolSize: pool}), o.Addr
}

// Key returns the key of write number seq.
func (w *Writer) Key(seq int64) string { return w.opts.Prefix + strconv.FormatInt(seq, 10) }

// value is unique to one write of one run.
func (w *Writer) value(seq int64) string { return w.runID + ":" + strconv.FormatInt(seq, 10) }

// Mark records a step boundary at this instant: m.AtMS is set to the time
// since the origin (whatever the caller put there). It is kept in
// Report.Marks and rendered in the timeline bucket it fell in.
//
//	w.Mark(traffic.Mark{Step: "promote", Event: traffic.EventStart})
//	w.Mark(traffic.Mark{Step: "promote", Event: traffic.EventEnd, Status: "passed"})
func (w *Writer) Mark(m Mark) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.tl.mark(time.Since(w.origin), m)
}

// Done is closed when the writer stops sending writes: after Stop, when the
// context given to Start ends, or at MaxDuration or MaxWrites.
func (w *Writer) Done() <-chan struct{} { return w.done }

// Acked returns the number of writes acknowledged so far.
func (w *Writer) Acked() int64 { return w.acked.Load() }

// Stop stops writing, waits for the writes in flight and returns the report.
// Later calls return the same report.
func (w *Writer) Stop() *Report {
	w.stopOnce.Do(func() {
		w.cancel()
		w.wg.Wait()
		w.report = w.buildReport()
		w.client.Close()
	})
	return w.report
}

// dispatch hands out write numbers at the rate. Write k is due k/Rate seconds
// after the start. When every worker is stuck, slots pass unused: after a
// stall at most Workers writes go out at once (one per worker), then the
// writer continues at the rate. It does not make up for the stall, so a stall
// shows as a dip in the timeline, not as a later burst.
func (w *Writer) dispatch(ctx context.Context) {
	defer w.wg.Done()
	defer func() {
		w.mu.Lock()
		w.end = time.Since(w.origin)
		w.mu.Unlock()
		close(w.jobs)
		close(w.done)
	}()
	rate := float64(w.opts.Rate)
	burst := int64(w.opts.Workers)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var seq, slot int64
	for seq < w.opts.MaxWrites {
		due := int64(time.Since(w.start).Seconds()*rate) + 1 // slots due by now
		if due-slot > burst {
			slot = due - burst
		}
		if slot >= due {
			next := w.start.Add(time.Duration(float64(slot) / rate * float64(time.Second)))
			timer.Reset(time.Until(next))
			select {
			case <-timer.C:
			case <-ctx.Done():
				return
			}
			continue
		}
		select {
		case w.jobs <- seq:
			seq++
			slot++
		case <-ctx.Done():
			return
		}
	}
}

func (w *Writer) work(ctx context.Context) {
	defer w.wg.Done()
	for seq := range w.jobs {
		w.attempted.Add(1)
		t0 := time.Now()
		res, err := w.client.Set(ctx, w.Key(seq), w.value(seq), 0).Result()
		if err == nil && res != "OK" {
			err = fmt.Errorf("traffic: SET answered %q", res)
		}
		if err == nil {
			w.ledger.add(seq)
			w.acked.Add(1)
		} else {
			w.failed.Add(1)
		}
		w.mu.Lock()
		now := time.Now() // under the lock: acknowledgements are recorded in time order
		w.tl.record(now.Sub(w.origin), now.Sub(t0), err == nil)
		if err != nil {
			w.errs[errorKind(err)]++
		}
		w.mu.Unlock()
	}
}

func (w *Writer) buildReport() *Report {
	w.mu.Lock()
	defer w.mu.Unlock()
	tl := w.tl.finish(w.end)
	r := &Report{
		RunID:        w.runID,
		Prefix:       w.opts.Prefix,
		Rate:         w.opts.Rate,
		Attempted:    w.attempted.Load(),
		Acked:        w.acked.Load(),
		Failed:       w.failed.Load(),
		StartedAtMS:  ms(w.start.Sub(w.origin)),
		MaxStallMS:   ms(w.tl.maxStall),
		MaxStallAt:   ms(w.tl.maxStallAt),
		ErrorsByKind: errorsByKind(w.errs),
		Timeline:     tl,
		Marks:        append([]Mark(nil), w.tl.marks...),
		Gaps:         append([]Gap(nil), w.tl.gaps...),
		DurationMS:   ms(time.Since(w.start)),
	}
	return r
}

// errorsByKind copies the error counts; never nil, so the report says {}.
func errorsByKind(m map[string]int64) map[string]int64 {
	out := make(map[string]int64, len(m))
	maps.Copy(out, m)
	return out
}
