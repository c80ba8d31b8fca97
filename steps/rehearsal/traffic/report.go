package traffic

// Report is what the writer saw, and after Verify, what the final master
// kept.
type Report struct {
	RunID  string `json:"run_id"` // part of every value written
	Prefix string `json:"prefix"`
	Rate   int    `json:"rate"`

	Attempted int64 `json:"attempted"` // writes sent
	Acked     int64 `json:"acked"`     // writes answered OK
	Failed    int64 `json:"failed"`    // writes that returned an error after the client's retries
	Lost      int64 `json:"lost"`      // acknowledged writes missing or changed on the final master
	Verified  bool  `json:"verified"`  // Verify ran to the end

	// MaxStallMS is the longest time without an acknowledgement: between two
	// consecutive acknowledgements (by the time they arrived), from the start
	// to the first one, or from the last one to the end of writing.
	MaxStallMS float64 `json:"max_stall_ms"`
	// MaxStallAt is when that longest gap ended, in ms since the start.
	MaxStallAt float64 `json:"max_stall_at_ms"`
	// MaxStallDuring is the last mark (step boundary) before that gap
	// began, e.g. "start promote"; "" when it began before the first mark.
	MaxStallDuring string `json:"max_stall_during,omitempty"`

	ErrorsByKind map[string]int64 `json:"errors_by_kind"`
	Timeline     []Interval       `json:"timeline"`
	Marks        []Mark           `json:"marks"`
	LostSamples  []string         `json:"lost_samples,omitempty"` // the first lost keys
	// Gaps are the gaps between acknowledgements of a millisecond or more,
	// for MaxStallWithin; not part of the JSON report.
	Gaps       []Gap   `json:"-"`
	DurationMS float64 `json:"duration_ms"`
}

// Gap is a time without acknowledgements, in ms since the start.
type Gap struct {
	FromMS float64 `json:"from_ms"`
	ToMS   float64 `json:"to_ms"`
}

// MaxStallWithin returns the longest gap between acknowledgements that
// overlaps the window [fromMS, toMS], whole (a stall that began before the
// window or ended after it counts in full). Gaps under a millisecond are not
// kept: 0 means none of a millisecond or more.
func (r *Report) MaxStallWithin(fromMS, toMS float64) float64 {
	longest := 0.0
	for _, g := range r.Gaps {
		if g.ToMS >= fromMS && g.FromMS <= toMS {
			longest = max(longest, g.ToMS-g.FromMS)
		}
	}
	return longest
}

// Interval is one bucket of the timeline. Writes are counted in the bucket in
// which they completed, so the bucket where a stall ends shows its latency.
type Interval struct {
	StartMS int64    `json:"start_ms"`
	Ops     int64    `json:"ops"`    // writes acknowledged
	Errors  int64    `json:"errors"` // writes failed
	P50MS   float64  `json:"p50_ms"` // latency of the writes completed, acknowledged or not
	P99MS   float64  `json:"p99_ms"`
	MaxMS   float64  `json:"max_ms"`
	Marks   []string `json:"marks,omitempty"` // step boundaries in this bucket
}

// Mark is a step boundary.
type Mark struct {
	AtMS  float64 `json:"at_ms"`
	Label string  `json:"label"`
}
