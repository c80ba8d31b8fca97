package clientmix

import (
	"testing"
	"time"
)

func TestBenchCovered(t *testing.T) {
	at := time.Unix(1000, 0)
	ms := func(n int) time.Time { return at.Add(time.Duration(n) * time.Millisecond) }
	for _, tc := range []struct {
		name string
		runs []BenchRun
		want bool
	}{
		{"one run spans it", []BenchRun{{Start: ms(-500), End: ms(900)}}, true},
		{"back-to-back runs", []BenchRun{{Start: ms(-500), End: ms(50)}, {Start: ms(50), End: ms(900)}}, true},
		{"still running", []BenchRun{{Start: ms(-500)}}, true},
		{"stopped while running", []BenchRun{{Start: ms(-500), End: ms(100), Stopped: true}}, true},
		{"a gap inside", []BenchRun{{Start: ms(-500), End: ms(50)}, {Start: ms(150), End: ms(900)}}, false},
		{"started after it", []BenchRun{{Start: ms(10), End: ms(900)}}, false},
		{"ended inside, nothing after", []BenchRun{{Start: ms(-500), End: ms(100)}}, false},
		{"failed run", []BenchRun{{Start: ms(-500), End: ms(900), Failed: true}}, false},
		{"a failed run in between", []BenchRun{{Start: ms(-500), End: ms(50)}, {Start: ms(50), End: ms(60), Failed: true}, {Start: ms(60), End: ms(900)}}, false},
	} {
		if got := BenchCovered(tc.runs, at, 200*time.Millisecond); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}
