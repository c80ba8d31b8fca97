package traffic

import "strings"

// Report is what the writer saw, and after Verify, what the final master
// kept.
//
// Every instant in the report (StartedAtMS, MaxStallAt, Marks, Gaps and the
// timeline's buckets) is in milliseconds since the origin: Options.Origin
// when set, so that the caller's own times (a rehearsal's step start times)
// share it, else the writer's start.
type Report struct {
	RunID  string `json:"run_id"` // part of every value written
	Prefix string `json:"prefix"`
	Rate   int    `json:"rate"`

	Attempted int64 `json:"attempted"` // writes sent
	Acked     int64 `json:"acked"`     // writes answered OK
	Failed    int64 `json:"failed"`    // writes that returned an error after the client's retries
	Lost      int64 `json:"lost"`      // acknowledged writes missing or changed on the final master
	Verified  bool  `json:"verified"`  // Verify ran to the end

	// StartedAtMS is when the writer started, since the origin: 0 without
	// Options.Origin.
	StartedAtMS float64 `json:"started_at_ms"`
	// MaxStallMS is the longest time without an acknowledgement: between two
	// consecutive acknowledgements (by the time they arrived), from the
	// writer's start (not the origin) to the first one, or from the last one
	// to the end of writing.
	MaxStallMS float64 `json:"max_stall_ms"`
	// MaxStallAt is when that longest gap ended, in ms since the origin.
	MaxStallAt float64 `json:"max_stall_at_ms"`
	// MaxStallStep is the step the longest gap is attributed to by
	// Attribute (see StepStalls for the rule); "" until Attribute is called,
	// or when the gap overlaps no step's window.
	MaxStallStep string `json:"max_stall_step,omitempty"`

	ErrorsByKind map[string]int64 `json:"errors_by_kind"`
	Timeline     []Interval       `json:"timeline"`
	Marks        []Mark           `json:"marks"`
	LostSamples  []string         `json:"lost_samples,omitempty"` // the first lost keys
	// Gaps are the gaps between acknowledgements of a millisecond or more,
	// in time order, for StepStalls and Attribute; not part of the JSON
	// report.
	Gaps []Gap `json:"-"`
	// DurationMS is how long the writer ran, from its start (not the
	// origin) to Stop.
	DurationMS float64 `json:"duration_ms"`
}

// Gap is a time without acknowledgements, in ms since the origin.
type Gap struct {
	FromMS float64 `json:"from_ms"`
	ToMS   float64 `json:"to_ms"`
}

// Window is the time a step ran, in ms since the same origin as the
// report's (Options.Origin).
type Window struct {
	Step   string  // the step's name
	FromMS float64 // when it started
	ToMS   float64 // when it ended
}

// StepStalls returns the longest write stall of each window, in the order
// of windows: each gap between acknowledgements in r.Gaps (those of a
// millisecond or more) is attributed to the one window it overlaps most,
// counted in ms of overlap; on a tie, to the window that starts first (then
// the one listed first). A gap that overlaps no window by a positive length
// is attributed to none. A window's stall is the longest gap attributed to
// it, whole (also the part outside the window); 0 when none is.
//
// A stall is thus counted for one step only: a pause that began in the last
// millisecond of one step and lasted through the next is the next step's.
func (r *Report) StepStalls(windows []Window) []float64 {
	stalls := make([]float64, len(windows))
	for _, g := range r.Gaps {
		if i := attribute(g, windows); i >= 0 {
			stalls[i] = max(stalls[i], g.ToMS-g.FromMS)
		}
	}
	return stalls
}

// Attribute returns StepStalls(windows) and sets r.MaxStallStep to the step
// the longest stall (MaxStallMS, ending at MaxStallAt) is attributed to by
// the same rule, or "" when it overlaps no window.
func (r *Report) Attribute(windows []Window) []float64 {
	r.MaxStallStep = ""
	longest := Gap{FromMS: r.MaxStallAt - r.MaxStallMS, ToMS: r.MaxStallAt}
	if i := attribute(longest, windows); i >= 0 {
		r.MaxStallStep = windows[i].Step
	}
	return r.StepStalls(windows)
}

// attribute returns the index of the window g overlaps most (ties: the
// earliest start, then the first listed), or -1 when it overlaps none.
func attribute(g Gap, windows []Window) int {
	best, bestOverlap := -1, 0.0
	for i, w := range windows {
		overlap := min(g.ToMS, w.ToMS) - max(g.FromMS, w.FromMS)
		if overlap <= 0 {
			continue
		}
		if best < 0 || overlap > bestOverlap || overlap == bestOverlap && w.FromMS < windows[best].FromMS {
			best, bestOverlap = i, overlap
		}
	}
	return best
}

// Interval is one bucket of the timeline. Writes are counted in the bucket in
// which they completed, so the bucket where a stall ends shows its latency.
type Interval struct {
	// StartMS is the start of the bucket, in ms since the origin: bucket
	// i covers [i×Interval, (i+1)×Interval). The timeline begins with the
	// bucket in which the writer started, which holds less than a full
	// Interval of writing when the origin is not the writer's start.
	StartMS int64   `json:"start_ms"`
	Ops     int64   `json:"ops"`    // writes acknowledged
	Errors  int64   `json:"errors"` // writes failed
	P50MS   float64 `json:"p50_ms"` // latency of the writes completed, acknowledged or not
	P99MS   float64 `json:"p99_ms"`
	MaxMS   float64 `json:"max_ms"`
	// Marks renders the marks that fell in this bucket for a reader, e.g.
	// "start promote" or "end promote (passed)" (see Mark.Label). Programs
	// read Report.Marks instead.
	Marks []string `json:"marks,omitempty"`
}

// Events of a Mark.
const (
	EventStart = "start" // the step started
	EventEnd   = "end"   // the step ended; Status says how
)

// Mark is a step boundary.
type Mark struct {
	AtMS   float64 `json:"at_ms"`            // ms since the origin; set by Writer.Mark
	Step   string  `json:"step"`             // the step's name
	Event  string  `json:"event"`            // EventStart or EventEnd
	Status string  `json:"status,omitempty"` // the step's status at EventEnd, e.g. "passed"
}

// Label renders the mark for the timeline: "start promote",
// "end promote (passed)"; the step alone when Event is empty.
func (m Mark) Label() string {
	var b strings.Builder
	if m.Event != "" {
		b.WriteString(m.Event)
		b.WriteByte(' ')
	}
	b.WriteString(m.Step)
	if m.Status != "" {
		b.WriteString(" (" + m.Status + ")")
	}
	return b.String()
}
