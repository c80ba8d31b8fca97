package traffic_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/understudy/understudy/internal/redistest"
	"github.com/understudy/understudy/steps/traffic"
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
	w.Mark(traffic.Mark{Step: "half", Event: traffic.EventStart, AtMS: -1}) // AtMS is the writer's
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
	if r.StartedAtMS != 0 || r.Timeline[0].StartMS != 0 {
		t.Errorf("without an origin: started at %v ms, first bucket at %d ms", r.StartedAtMS, r.Timeline[0].StartMS)
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
	if !slices.Equal(marked, []string{"start half"}) || len(r.Marks) != 1 || r.Marks[0].AtMS < 450 || r.Marks[0].AtMS > 700 ||
		r.Marks[0].Step != "half" || r.Marks[0].Event != traffic.EventStart {
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
		`"errors_by_kind":`, `"timeline":[{"start_ms":0,`, `"p50_ms":`, `"p99_ms":`, `"marks":["start half"]`, `"duration_ms":`,
		`"marks":[{"at_ms":`, `"step":"half","event":"start"}]`} {
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
	if _, err := traffic.Start(ctx, traffic.Options{Addr: s.Addr, Password: s.Password, Origin: time.Now().Add(time.Hour)}); err == nil ||
		!strings.Contains(err.Error(), "origin") {
		t.Fatalf("Start with an origin in the future: %v", err)
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
	w.Mark(traffic.Mark{Step: "pause", Event: traffic.EventStart})
	if err := c.Do(ctx, "CLIENT", "PAUSE", "300", "WRITE").Err(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	w.Mark(traffic.Mark{Step: "pause", Event: traffic.EventEnd, Status: "passed"})
	time.Sleep(400 * time.Millisecond)
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

	// The stall belongs to the step that paused the writes, though it
	// lasts a little past the step's end mark.
	if len(r.Marks) != 2 {
		t.Fatalf("marks %+v", r.Marks)
	}
	windows := []traffic.Window{
		{Step: "before", FromMS: 0, ToMS: r.Marks[0].AtMS},
		{Step: "pause", FromMS: r.Marks[0].AtMS, ToMS: r.Marks[1].AtMS},
		{Step: "after", FromMS: r.Marks[1].AtMS, ToMS: r.DurationMS},
	}
	stalls := r.Attribute(windows)
	t.Logf("windows %+v: stalls %v, longest in %q", windows, stalls, r.MaxStallStep)
	if r.MaxStallStep != "pause" || math.Abs(stalls[1]-r.MaxStallMS) > 0.001 {
		t.Errorf("longest stall %.1f ms attributed to %q, step stalls %v; want pause", r.MaxStallMS, r.MaxStallStep, stalls)
	}
	if stalls[0] >= 250 || stalls[2] >= 250 {
		t.Errorf("the pause counted in another step too: %v", stalls)
	}
}

// With an origin before the start, every time in the report is measured
// from it and the buckets are aligned on it; the first stall still counts
// from the writer's start.
func TestWriterOrigin(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s := redistest.Start(t)
	origin := time.Now().Add(-500 * time.Millisecond)
	w := startWriter(t, ctx, traffic.Options{Addr: s.Addr, Password: s.Password, Rate: 1000, Origin: origin})
	w.Mark(traffic.Mark{Step: "s", Event: traffic.EventStart})
	time.Sleep(300 * time.Millisecond)
	w.Mark(traffic.Mark{Step: "s", Event: traffic.EventEnd, Status: "passed"})
	r := w.Stop()
	t.Logf("started at %.1f ms, max stall %.2f ms at %.1f ms, first bucket %d ms, %d gaps, marks %+v",
		r.StartedAtMS, r.MaxStallMS, r.MaxStallAt, r.Timeline[0].StartMS, len(r.Gaps), r.Marks)

	if r.StartedAtMS < 500 || r.StartedAtMS > 1500 {
		t.Errorf("started at %.1f ms since an origin 500 ms before Start", r.StartedAtMS)
	}
	if r.Acked == 0 {
		t.Fatal("no write acknowledged")
	}
	for _, m := range r.Marks {
		if m.AtMS < r.StartedAtMS {
			t.Errorf("mark %+v before the start at %.1f ms", m, r.StartedAtMS)
		}
	}
	if first := r.Timeline[0].StartMS; first < 500 || first%100 != 0 || float64(first) > r.StartedAtMS || float64(first)+100 <= r.StartedAtMS {
		t.Errorf("first bucket at %d ms: not the 100 ms bucket since the origin that holds the start at %.1f ms", first, r.StartedAtMS)
	}
	for i, iv := range r.Timeline {
		if iv.StartMS != r.Timeline[0].StartMS+int64(i)*100 {
			t.Errorf("bucket %d starts at %d ms", i, iv.StartMS)
		}
	}
	if ops := r.Timeline[0].Ops + r.Timeline[1].Ops; ops == 0 {
		t.Errorf("first acknowledgements not in the first buckets: %+v", r.Timeline[:2])
	}
	if len(r.Gaps) > 0 && r.Gaps[0].FromMS < r.StartedAtMS {
		t.Errorf("first gap %+v begins before the writer's start", r.Gaps[0])
	}
	// The wait for the first acknowledgement counts from the writer's
	// start, not from the origin 500 ms earlier.
	if r.MaxStallMS >= 500 || r.MaxStallAt < r.StartedAtMS {
		t.Errorf("max stall %.1f ms ending at %.1f ms", r.MaxStallMS, r.MaxStallAt)
	}
	if fmt.Sprint(r.Timeline[0].Marks) != "[start s]" {
		t.Errorf("first bucket's marks %q", r.Timeline[0].Marks)
	}
	var end []string
	for _, iv := range r.Timeline {
		if slices.Contains(iv.Marks, "end s (passed)") {
			end = append(end, fmt.Sprint(iv.StartMS))
		}
	}
	if want := fmt.Sprint(int64(r.Marks[1].AtMS) / 100 * 100); len(end) != 1 || end[0] != want {
		t.Errorf("end mark at %.1f ms rendered in buckets %v, want [%s]", r.Marks[1].AtMS, end, want)
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
