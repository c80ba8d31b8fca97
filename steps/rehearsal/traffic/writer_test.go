package traffic_test

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/understudy/understudy/internal/redistest"
	"github.com/understudy/understudy/steps/rehearsal/traffic"
)

func startWriter(t *testing.T, ctx context.Context, o traffic.Options) *traffic.Writer {
	t.Helper()
	w, err := traffic.Start(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Stop() })
	return w
}

func TestWriterVerify(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s := redistest.Start(t)
	w := startWriter(t, ctx, traffic.Options{Addr: s.Addr, Password: s.Password, Rate: 1000})
	time.Sleep(500 * time.Millisecond)
	w.Mark("half")
	time.Sleep(500 * time.Millisecond)
	r := w.Stop()
	t.Logf("attempted %d acked %d failed %d max stall %.2f ms at %.0f ms, %d intervals",
		r.Attempted, r.Acked, r.Failed, r.MaxStallMS, r.MaxStallAt, len(r.Timeline))

	if r.Attempted < 800 || r.Attempted > 1200 { // bounds loose enough for a busy machine
		t.Errorf("attempted %d writes in 1 s at 1000/s", r.Attempted)
	}
	if r.Acked != r.Attempted || r.Failed != 0 || len(r.ErrorsByKind) != 0 {
		t.Errorf("acked %d of %d, failed %d %v", r.Acked, r.Attempted, r.Failed, r.ErrorsByKind)
	}
	if r.MaxStallMS <= 0 || r.MaxStallMS > 1000 {
		t.Errorf("max stall %.2f ms with nothing in the way", r.MaxStallMS)
	}
	if n := len(r.Timeline); n < 9 || n > 12 {
		t.Errorf("%d intervals of 100 ms in about 1 s", n)
	}
	var ops int64
	var marked []string
	for _, iv := range r.Timeline {
		ops += iv.Ops
		marked = append(marked, iv.Marks...)
		if iv.Ops > 0 && (iv.P50MS <= 0 || iv.P99MS < iv.P50MS) {
			t.Errorf("interval at %d ms: p50 %.3f p99 %.3f", iv.StartMS, iv.P50MS, iv.P99MS)
		}
	}
	if ops != r.Acked {
		t.Errorf("timeline holds %d acknowledged writes, report %d", ops, r.Acked)
	}
	if !slices.Equal(marked, []string{"half"}) || len(r.Marks) != 1 || r.Marks[0].AtMS < 450 || r.Marks[0].AtMS > 700 {
		t.Errorf("marks in timeline %q, marks %+v", marked, r.Marks)
	}

	c := s.Client()
	defer c.Close()
	if err := w.Verify(ctx, c, r); err != nil {
		t.Fatal(err)
	}
	if r.Lost != 0 || !r.Verified {
		t.Fatalf("lost %d of %d writes on an untouched server: %v", r.Lost, r.Acked, r.LostSamples)
	}
	if n, err := c.DBSize(ctx).Result(); err != nil || n != r.Acked {
		t.Fatalf("DBSIZE %d, %v; want %d", n, err, r.Acked)
	}

	// Verify must be able to fail: lose three writes, change a fourth.
	gone := []string{w.Key(10), w.Key(500), w.Key(r.Acked - 1)}
	if err := c.Del(ctx, gone...).Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.Set(ctx, w.Key(20), "someone else", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := w.Verify(ctx, c, r); err != nil {
		t.Fatal(err)
	}
	if r.Lost != 4 {
		t.Fatalf("lost %d, want 4 (3 deleted, 1 changed): %v", r.Lost, r.LostSamples)
	}
	want := []string{w.Key(10), w.Key(20), w.Key(500), w.Key(r.Acked - 1)}
	if !slices.Equal(r.LostSamples, want) {
		t.Fatalf("lost samples %q, want %q", r.LostSamples, want)
	}

	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	for _, field := range []string{`"attempted":`, `"acked":`, `"failed":`, `"lost":4`, `"max_stall_ms":`,
		`"errors_by_kind":`, `"timeline":[{"start_ms":0,`, `"p50_ms":`, `"p99_ms":`, `"marks":["half"]`, `"duration_ms":`} {
		if !strings.Contains(string(b), field) {
			t.Errorf("JSON report lacks %s", field)
		}
	}
}

func TestWriterBounds(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s := redistest.Start(t)

	w := startWriter(t, ctx, traffic.Options{Addr: s.Addr, Password: s.Password, Rate: 2000, MaxWrites: 50})
	select {
	case <-w.Done():
	case <-time.After(2 * time.Second):
		t.Fatal("MaxWrites 50 at 2000/s: still writing after 2 s")
	}
	if r := w.Stop(); r.Attempted != 50 || r.Acked != 50 {
		t.Fatalf("MaxWrites 50: attempted %d acked %d", r.Attempted, r.Acked)
	}

	start := time.Now()
	w = startWriter(t, ctx, traffic.Options{Addr: s.Addr, Password: s.Password, Prefix: "bounded:", Rate: 1000, MaxDuration: 200 * time.Millisecond})
	select {
	case <-w.Done():
	case <-time.After(2 * time.Second):
		t.Fatal("MaxDuration 200ms: still writing after 2 s")
	}
	r := w.Stop()
	if d := time.Since(start); d > time.Second || r.Attempted > 260 {
		t.Fatalf("MaxDuration 200ms: ran %v, %d writes", d, r.Attempted)
	}

	// The caller's context bounds it too.
	cctx, ccancel := context.WithCancel(ctx)
	w = startWriter(t, cctx, traffic.Options{Addr: s.Addr, Password: s.Password, Prefix: "canceled:"})
	ccancel()
	select {
	case <-w.Done():
	case <-time.After(2 * time.Second):
		t.Fatal("context canceled: still writing after 2 s")
	}

	if _, err := traffic.Start(ctx, traffic.Options{Addr: s.Addr, Password: "wrong"}); err == nil {
		t.Fatal("Start with a wrong password succeeded")
	}
}

// A write pause shows as a stall where it happened, and slots missed during
// it are not made up with a burst.
func TestWriterStall(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s := redistest.Start(t)
	c := s.Client()
	defer c.Close()
	w := startWriter(t, ctx, traffic.Options{Addr: s.Addr, Password: s.Password, Rate: 1000})
	time.Sleep(300 * time.Millisecond)
	w.Mark("pause")
	if err := c.Do(ctx, "CLIENT", "PAUSE", "300", "WRITE").Err(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(700 * time.Millisecond)
	r := w.Stop()
	t.Logf("attempted %d acked %d max stall %.1f ms ending at %.0f ms", r.Attempted, r.Acked, r.MaxStallMS, r.MaxStallAt)
	if r.MaxStallMS < 250 || r.MaxStallMS > 1500 {
		t.Errorf("max stall %.1f ms across a 300 ms write pause", r.MaxStallMS)
	}
	if r.MaxStallAt < 550 || r.MaxStallAt > 1500 {
		t.Errorf("longest stall ended at %.0f ms, want about 600", r.MaxStallAt)
	}
	// ~1000 slots, 300 of them during the pause; only Workers of those are sent.
	if r.Attempted > 800 {
		t.Errorf("attempted %d: the pause was made up with a burst", r.Attempted)
	}
	if r.Failed != 0 || r.Acked != r.Attempted {
		t.Errorf("acked %d of %d, failed %d", r.Acked, r.Attempted, r.Failed)
	}
	var worst float64
	for _, iv := range r.Timeline {
		worst = max(worst, iv.P99MS)
	}
	if worst < 200 {
		t.Errorf("no interval shows the pause in its p99 (worst %.1f ms)", worst)
	}
}

// Writes to a replica fail with READONLY after go-redis's retries; the
// report counts them by kind.
func TestWriterErrorsByKind(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	pw := redistest.RandomPassword()
	master := redistest.Start(t, redistest.WithPassword(pw))
	replica := redistest.Start(t, redistest.WithPassword(pw))
	rc := replica.Client()
	defer rc.Close()
	if err := rc.ReplicaOf(ctx, master.Host, strconv.Itoa(master.Port)).Err(); err != nil {
		t.Fatal(err)
	}
	w := startWriter(t, ctx, traffic.Options{Addr: replica.Addr, Password: pw, Rate: 200})
	time.Sleep(500 * time.Millisecond)
	r := w.Stop()
	t.Logf("attempted %d acked %d failed %d %v", r.Attempted, r.Acked, r.Failed, r.ErrorsByKind)
	if r.Acked != 0 || r.Failed == 0 || r.ErrorsByKind["READONLY"] != r.Failed {
		t.Fatalf("writes to a replica: acked %d failed %d by kind %v", r.Acked, r.Failed, r.ErrorsByKind)
	}
	var errs int64
	for _, iv := range r.Timeline {
		errs += iv.Errors
	}
	if errs != r.Failed {
		t.Fatalf("timeline counts %d errors, report %d", errs, r.Failed)
	}
}
