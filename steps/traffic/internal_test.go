package traffic

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

type redisErr string

func (e redisErr) Error() string { return string(e) }
func (redisErr) RedisError()     {}

var _ redis.Error = redisErr("")

func TestErrorKind(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want string
	}{
		{redisErr("READONLY You can't write against a read only replica."), "READONLY"},
		{redisErr("NOREPLICAS Not enough good replicas to write."), "NOREPLICAS"},
		{redisErr("LOADING Redis is loading the dataset in memory"), "LOADING"},
		{redisErr("ERR unknown command"), "ERR"},
		{redisErr("weird error"), "other"},
		{io.EOF, "EOF"},
		{fmt.Errorf("read: %w", io.ErrUnexpectedEOF), "EOF"},
		{context.DeadlineExceeded, "timeout"},
		{&net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}, "timeout"},
		{&net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, "connection"},
		{errors.New("write tcp 127.0.0.1:1->127.0.0.1:2: write: broken pipe"), "connection"},
		{redis.ErrClosed, "closed"},
		{redis.ErrPoolTimeout, "pool_timeout"},
		{errors.New("something"), "other"},
	} {
		if got := errorKind(tt.err); got != tt.want {
			t.Errorf("errorKind(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}

func TestLedger(t *testing.T) {
	var l ledger
	for _, s := range []int64{0, 63, 64, 1_000_000, 5, 63} {
		l.add(s)
	}
	if l.len() != 5 {
		t.Fatalf("len %d, want 5", l.len())
	}
	var got []int64
	l.each(func(s int64) bool { got = append(got, s); return true })
	if fmt.Sprint(got) != "[0 5 63 64 1000000]" {
		t.Fatalf("each: %v", got)
	}
	if n := len(l.bits) * 8; n > 130_000 {
		t.Fatalf("a million writes take %d bytes", n)
	}
}

func TestTimeline(t *testing.T) {
	tl := newTimeline(100*time.Millisecond, 0)
	ms := time.Millisecond
	tl.record(10*ms, 1*ms, true)
	tl.record(20*ms, 3*ms, true)
	tl.mark(50*ms, Mark{Step: "a", Event: EventStart})
	tl.record(30*ms, 2*ms, false)
	// nothing for 250 ms
	tl.record(280*ms, 200*ms, true)
	tl.mark(350*ms, Mark{Step: "a", Event: EventEnd, Status: "passed"})
	iv := tl.finish(400 * ms)
	if len(iv) != 5 {
		t.Fatalf("%d intervals, want 5: %+v", len(iv), iv)
	}
	if iv[0].Ops != 2 || iv[0].Errors != 1 || iv[0].P50MS != 2 || iv[0].P99MS != 3 || iv[0].MaxMS != 3 {
		t.Errorf("first interval %+v", iv[0])
	}
	if iv[1].Ops != 0 || iv[2].Ops != 1 || iv[2].StartMS != 200 || iv[2].P99MS != 200 {
		t.Errorf("intervals %+v", iv[1:3])
	}
	if fmt.Sprintf("%q %q", iv[0].Marks, iv[3].Marks) != `["start a"] ["end a (passed)"]` {
		t.Errorf("marks %v %v", iv[0].Marks, iv[3].Marks)
	}
	// gaps: 10 (start), 10, 260, 120 (to the end)
	if tl.maxStall != 260*ms || tl.maxStallAt != 280*ms {
		t.Errorf("max stall %v at %v", tl.maxStall, tl.maxStallAt)
	}
}

// With an origin before the writer's start, the buckets are aligned on the
// origin and begin with the one the writer started in; the first gap counts
// from the writer's start.
func TestTimelineOrigin(t *testing.T) {
	ms := time.Millisecond
	tl := newTimeline(100*ms, 530*ms)
	tl.mark(540*ms, Mark{Step: "s", Event: EventStart})
	tl.record(560*ms, 2*ms, true)
	tl.record(720*ms, 1*ms, true)
	tl.mark(730*ms, Mark{Step: "s", Event: EventEnd})
	iv := tl.finish(750 * ms)
	var starts []int64
	for _, i := range iv {
		starts = append(starts, i.StartMS)
	}
	if fmt.Sprint(starts) != "[500 600 700]" {
		t.Fatalf("bucket starts %v, want [500 600 700]", starts)
	}
	if fmt.Sprint(iv[0].Marks, iv[2].Marks) != "[start s] [end s]" || iv[0].Ops != 1 || iv[2].Ops != 1 {
		t.Errorf("intervals %+v", iv)
	}
	// gaps: 30 (from the writer's start, not 560 from the origin), 160, 30
	if tl.maxStall != 160*ms || tl.maxStallAt != 720*ms {
		t.Errorf("max stall %v at %v", tl.maxStall, tl.maxStallAt)
	}
	if len(tl.gaps) != 3 || tl.gaps[0] != (Gap{530, 560}) {
		t.Errorf("gaps %v", tl.gaps)
	}

	// No acknowledgement at all: the stall is the writer's whole run.
	tl = newTimeline(100*ms, 530*ms)
	tl.finish(600 * ms)
	if tl.maxStall != 70*ms || tl.maxStallAt != 600*ms {
		t.Errorf("no acks: max stall %v at %v", tl.maxStall, tl.maxStallAt)
	}
}
