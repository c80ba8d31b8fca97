package traffic

import (
	"fmt"
	"testing"
	"time"
)

func TestAttribute(t *testing.T) {
	a := Window{Step: "a", FromMS: 0, ToMS: 100}
	b := Window{Step: "b", FromMS: 100, ToMS: 300}
	c := Window{Step: "c", FromMS: 300, ToMS: 400}
	abc := []Window{a, b, c}
	for _, tc := range []struct {
		name     string
		gap      Gap
		windows  []Window
		wantStep string // "" for none
	}{
		{"inside one step", Gap{10, 20}, abc, "a"},
		{"starts in a, mostly in b", Gap{90, 200}, abc, "b"},
		{"ends in b, mostly in a", Gap{20, 110}, abc, "a"},
		{"spans three steps, most in b", Gap{50, 350}, abc, "b"},
		{"spans three steps, most in c", Gap{95, 400}, []Window{a, {Step: "b", FromMS: 100, ToMS: 200}, {Step: "c", FromMS: 200, ToMS: 400}}, "c"},
		{"covers a whole step and parts of others", Gap{80, 1000}, abc, "b"},
		{"tie goes to the earlier step", Gap{80, 120}, abc, "a"},
		{"tie goes to the earlier step, listed later", Gap{80, 120}, []Window{c, b, a}, "a"},
		{"touches a step only at its end", Gap{400, 450}, abc, ""},
		{"after every step", Gap{500, 600}, abc, ""},
		{"between steps", Gap{120, 180}, []Window{a, c}, ""},
		{"no windows", Gap{10, 20}, nil, ""},
		{"overlapping windows: the longer overlap", Gap{50, 150}, []Window{{Step: "outer", FromMS: 0, ToMS: 400}, {Step: "inner", FromMS: 100, ToMS: 120}}, "outer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := ""
			if i := attribute(tc.gap, tc.windows); i >= 0 {
				got = tc.windows[i].Step
			}
			if got != tc.wantStep {
				t.Errorf("gap %v attributed to %q, want %q", tc.gap, got, tc.wantStep)
			}

			// The same through the report: the one gap is the longest
			// stall and the only stall of its step.
			r := &Report{Gaps: []Gap{tc.gap}, MaxStallMS: tc.gap.ToMS - tc.gap.FromMS, MaxStallAt: tc.gap.ToMS}
			stalls := r.Attribute(tc.windows)
			if r.MaxStallStep != tc.wantStep {
				t.Errorf("MaxStallStep %q, want %q", r.MaxStallStep, tc.wantStep)
			}
			if len(stalls) != len(tc.windows) {
				t.Fatalf("%d stalls for %d windows", len(stalls), len(tc.windows))
			}
			for i, w := range tc.windows {
				want := 0.0
				if w.Step == tc.wantStep {
					want = tc.gap.ToMS - tc.gap.FromMS
				}
				if stalls[i] != want {
					t.Errorf("stall of %s %v, want %v", w.Step, stalls[i], want)
				}
			}
		})
	}
}

// A step's stall is the longest gap attributed to it, not the longest gap
// that touches it.
func TestStepStalls(t *testing.T) {
	windows := []Window{{"a", 0, 100}, {"b", 100, 300}, {"c", 300, 400}}
	r := &Report{Gaps: []Gap{
		{10, 20},   // a: 10
		{90, 200},  // b: 110, though it began in a
		{250, 260}, // b: 10
		{350, 360}, // c: 10
		{380, 700}, // c: 320, though mostly after every step
		{800, 900}, // none
	}, MaxStallMS: 320, MaxStallAt: 700}
	stalls := r.Attribute(windows)
	if fmt.Sprint(stalls) != "[10 110 320]" || r.MaxStallStep != "c" {
		t.Fatalf("stalls %v, longest in %q; want [10 110 320] in c", stalls, r.MaxStallStep)
	}
	if got := r.StepStalls(nil); len(got) != 0 {
		t.Fatalf("StepStalls(nil) = %v", got)
	}

	// The longest stall counts even when it is under the 1 ms floor of
	// Gaps, and Attribute clears a step set before.
	r = &Report{MaxStallMS: 0.8, MaxStallAt: 150, MaxStallStep: "old"}
	if r.Attribute(windows); r.MaxStallStep != "b" {
		t.Fatalf("MaxStallStep %q, want b", r.MaxStallStep)
	}
	if r.Attribute(nil); r.MaxStallStep != "" {
		t.Fatalf("MaxStallStep %q without windows", r.MaxStallStep)
	}
}

// Gaps recorded by the timeline attribute as they should.
func TestTimelineGapsAttribute(t *testing.T) {
	tl := newTimeline(100*time.Millisecond, 0)
	for _, at := range []time.Duration{1, 2, 3, 10, 11, 40, 41, 42} {
		tl.record(at*time.Millisecond, time.Millisecond, true)
	}
	r := &Report{Gaps: tl.gaps}
	// gaps 0→1, 1→2, 2→3, 3→10, 10→11, 11→40, 40→41, 41→42
	stalls := r.StepStalls([]Window{{"x", 0, 2.5}, {"y", 5, 6}, {"z", 12, 41.5}})
	if fmt.Sprint(stalls) != "[1 7 29]" {
		t.Fatalf("stalls %v, want [1 7 29]", stalls)
	}
}
