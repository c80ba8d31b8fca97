package traffic

import (
	"testing"
	"time"
)

func TestStallDuring(t *testing.T) {
	marks := []Mark{{10, "start a"}, {20, "passed a"}, {20, "start b"}, {50, "passed b"}}
	for _, tc := range []struct {
		at   float64
		want string
	}{
		{5, ""}, {10, "start a"}, {15, "start a"}, {20, "start b"}, {49, "start b"}, {60, "passed b"},
	} {
		if got := stallDuring(marks, tc.at); got != tc.want {
			t.Errorf("stallDuring(%v) = %q, want %q", tc.at, got, tc.want)
		}
	}
}

func TestMaxStallWithin(t *testing.T) {
	tl := newTimeline(100 * time.Millisecond)
	for _, at := range []time.Duration{1, 2, 3, 10, 11, 40, 41, 42} {
		tl.record(at*time.Millisecond, time.Millisecond, true)
	}
	r := &Report{Gaps: tl.gaps}
	for _, tc := range []struct {
		from, to, want float64
	}{
		{0, 2.5, 1},  // 0→1, 1→2, 2→3
		{5, 6, 7},    // inside the 3→10 gap: counted whole
		{12, 20, 29}, // inside 11→40
		{3, 41, 29},
		{41.5, 41.8, 1},
		{50, 60, 0},
	} {
		if got := r.MaxStallWithin(tc.from, tc.to); got != tc.want {
			t.Errorf("MaxStallWithin(%v, %v) = %v, want %v", tc.from, tc.to, got, tc.want)
		}
	}
}
