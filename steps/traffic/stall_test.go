package traffic

import "testing"

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
