package traffic

import (
	"math"
	"slices"
	"time"
)

// timeline buckets completed writes by completion time and tracks the gaps
// between acknowledgements. Times are durations since the origin; bucket i
// covers [i×interval, (i+1)×interval). Only the bucket being filled keeps its
// latencies; earlier ones are reduced to percentiles. Not safe for
// concurrent use.
type timeline struct {
	interval time.Duration
	first    int64 // index of the first bucket: the one the writer started in
	done     []Interval
	cur      int64 // index of the bucket being filled
	ops      int64
	errs     int64
	lat      []float64 // ms, current bucket

	acks       int64
	lastAck    time.Duration
	maxStall   time.Duration
	maxStallAt time.Duration

	marks []Mark
	// gaps are the gaps between acknowledgements of at least gapFloor, so
	// that the longest stall within any window can be told afterwards.
	gaps []Gap
}

// gapFloor is the shortest gap kept in Report.Gaps; at 1 000 writes/s most
// gaps are shorter. maxGaps bounds their memory (16 bytes each).
const (
	gapFloor = time.Millisecond
	maxGaps  = 1 << 20
)

// newTimeline starts a timeline for a writer that started at begin (since
// the origin, >= 0). The buckets before begin's are absent, and the first
// gap counts from begin.
func newTimeline(interval, begin time.Duration) *timeline {
	begin = max(begin, 0)
	i := int64(begin / interval)
	return &timeline{interval: interval, first: i, cur: i, lastAck: begin, maxStallAt: begin}
}

// record adds a write that completed at (since the origin) after lat.
func (t *timeline) record(at, lat time.Duration, ok bool) {
	t.advance(int64(at / t.interval))
	t.lat = append(t.lat, ms(lat))
	if !ok {
		t.errs++
		return
	}
	t.ops++
	t.gap(at)
	t.lastAck = at
	t.acks++
}

// gap counts the time from the last acknowledgement (or the writer's start)
// to at.
func (t *timeline) gap(at time.Duration) {
	g := at - t.lastAck
	if g > t.maxStall {
		t.maxStall, t.maxStallAt = g, at
	}
	if g >= gapFloor && len(t.gaps) < maxGaps {
		t.gaps = append(t.gaps, Gap{FromMS: ms(t.lastAck), ToMS: ms(at)})
	}
}

func (t *timeline) mark(at time.Duration, m Mark) {
	m.AtMS = ms(at)
	t.marks = append(t.marks, m)
}

// advance closes the buckets before index i.
func (t *timeline) advance(i int64) {
	for t.cur < i {
		iv := Interval{StartMS: (time.Duration(t.cur) * t.interval).Milliseconds(), Ops: t.ops, Errors: t.errs}
		if len(t.lat) > 0 {
			slices.Sort(t.lat)
			iv.P50MS = percentile(t.lat, 0.50)
			iv.P99MS = percentile(t.lat, 0.99)
			iv.MaxMS = t.lat[len(t.lat)-1]
		}
		t.done = append(t.done, iv)
		t.cur++
		t.ops, t.errs, t.lat = 0, 0, t.lat[:0]
	}
}

// finish closes the timeline at end, the time writing stopped (since the
// origin), and returns the buckets with the marks rendered in them.
func (t *timeline) finish(end time.Duration) []Interval {
	t.gap(end)
	t.advance(max(int64(end/t.interval), t.cur) + 1)
	out := slices.Clone(t.done)
	for _, m := range t.marks {
		i := int(math.Floor(m.AtMS/ms(t.interval))) - int(t.first)
		i = min(max(i, 0), len(out)-1)
		out[i].Marks = append(out[i].Marks, m.Label())
	}
	return out
}

// percentile of sorted values, nearest rank.
func percentile(sorted []float64, p float64) float64 {
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
