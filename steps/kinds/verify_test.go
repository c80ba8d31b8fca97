package kinds_test

import (
	"context"
	"fmt"
	goredis "github.com/redis/go-redis/v9"
	"github.com/understudy/understudy/dsl"
	"github.com/zclconf/go-cty/cty"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/understudy/understudy/internal/runtest"
	"github.com/understudy/understudy/steps"
)

// verify between a master and its replica while an application adds keys
// in bursts: a key read on the master a moment before the replica applied
// it differs only in flight. verify compares such keys again once the
// replica has reached the master's offset, and passes; a key that really
// differs still fails it, named.
func TestVerifyUnderLiveWrites(t *testing.T) {
	srv := runtest.StartShared(t, 2)
	master, replica := srv[0], srv[1]
	mc, rc := master.Client(), replica.Client()
	defer mc.Close()
	defer rc.Close()
	ctx := context.Background()
	for i := range 20000 {
		if i%1000 == 0 {
			pipe := mc.Pipeline()
			for j := i; j < i+1000; j++ {
				pipe.Set(ctx, fmt.Sprintf("seed:%d", j), j, 0)
			}
			if _, err := pipe.Exec(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	// The replica follows the master through a link that delays every
	// byte by 20 ms, so that writes are in flight while verify reads.
	lag := delayedLink(t, master.Addr, 20*time.Millisecond)
	host, port, _ := net.SplitHostPort(lag)
	if err := rc.ConfigSet(ctx, "masterauth", master.Password).Err(); err != nil {
		t.Fatal(err)
	}
	if err := rc.Do(ctx, "REPLICAOF", host, port).Err(); err != nil {
		t.Fatal(err)
	}
	rb := runtest.Load(t, runtest.TwoNodes+`
step "wait" "sync" {
  until = node.b.info.master_link_status == "up" && node.b.info.master_sync_in_progress == "0"
}
step "verify" "same" {
  a      = node.a
  b      = node.b
  method = "scan"
}
`, runtest.TwoNodeVars(master, replica)...)

	// The application: bursts of new keys while the verify step runs.
	app := &burstWriter{c: mc}
	res := runtest.RunLive(t, rb, app)
	if app.bursts < 10 {
		t.Fatalf("the application wrote only %d bursts during verify", app.bursts)
	}
	if n := res.Steps[1].Output.GetAttr("rechecked"); res.Status == steps.StatusPassed && n.RawEquals(cty.NumberIntVal(0)) {
		t.Fatal("no key differed in flight: the test did not exercise the recheck")
	}
	if res.Status != steps.StatusPassed {
		t.Fatalf("verify under live writes: %s: %v", res.Status, res.Diagnostics)
	}
	t.Logf("%d bursts of 100 keys during verify; output %s", app.bursts, res.Steps[1].Output.GoString())

	// A real difference is still found and named.
	if err := rc.Do(ctx, "CONFIG", "SET", "replica-read-only", "no").Err(); err != nil {
		t.Fatal(err)
	}
	if err := rc.Set(ctx, "seed:7", "changed on the replica", 0).Err(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond)
	rb = runtest.Load(t, runtest.TwoNodes+`
step "verify" "same" {
  a      = node.a
  b      = node.b
  method = "scan"
}
`, runtest.TwoNodeVars(master, replica)...)
	res = runtest.RunLive(t, rb)
	if res.Status != steps.StatusFailed || !strings.Contains(res.Steps[0].Diag.Detail, `db0 "seed:7": value differs`) {
		t.Errorf("a real difference: %s: %v", res.Status, res.Steps[0].Diag)
	}
}

// burstWriter adds keys in pipelined bursts of 100 on the master while the
// step "same" runs.
type burstWriter struct {
	steps.NilHook
	c      *goredis.Client
	stop   chan struct{}
	wg     sync.WaitGroup
	bursts int
}

func (w *burstWriter) PreStep(s *dsl.Step) (steps.HookAction, error) {
	if s.Name != "same" {
		return steps.HookContinue, nil
	}
	w.stop = make(chan struct{})
	w.wg.Go(func() {
		ctx := context.Background()
		for n := 0; n < 5000; n++ {
			select {
			case <-w.stop:
				return
			default:
			}
			pipe := w.c.Pipeline()
			for j := range 100 {
				pipe.Set(ctx, fmt.Sprintf("app:%d:%d", n, j), j, 0)
			}
			if _, err := pipe.Exec(ctx); err != nil {
				return
			}
			w.bursts++
			time.Sleep(time.Millisecond)
		}
	})
	return steps.HookContinue, nil
}

func (w *burstWriter) PostStep(r *steps.StepResult) (steps.HookAction, error) {
	if r.Step.Name == "same" && w.stop != nil {
		close(w.stop)
		w.wg.Wait()
	}
	return steps.HookContinue, nil
}

// delayedLink forwards TCP connections to addr, delaying every chunk of
// bytes from addr by d; it returns its own address.
func delayedLink(t *testing.T, addr string, d time.Duration) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", addr)
			if err != nil {
				_ = in.Close()
				continue
			}
			t.Cleanup(func() { _ = in.Close(); _ = out.Close() })
			go func() { _, _ = io.Copy(out, in) }()
			go func() {
				type chunk struct {
					at time.Time
					b  []byte
				}
				q := make(chan chunk, 1<<16)
				go func() {
					for c := range q {
						time.Sleep(time.Until(c.at.Add(d)))
						if _, err := in.Write(c.b); err != nil {
							return
						}
					}
				}()
				defer close(q)
				buf := make([]byte, 64<<10)
				for {
					n, err := out.Read(buf)
					if n > 0 {
						q <- chunk{time.Now(), append([]byte(nil), buf[:n]...)}
					}
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// A counter incremented every two milliseconds never reads the same on a
// master and a replica 20 ms behind it: rechecks after a catch-up still
// differ, so verify compares it once more with the master's writes paused
// for a few milliseconds, and passes; the log says so.
func TestVerifyHotKey(t *testing.T) {
	srv := runtest.StartShared(t, 2)
	master, replica := srv[0], srv[1]
	mc, rc := master.Client(), replica.Client()
	defer mc.Close()
	defer rc.Close()
	ctx := context.Background()
	lag := delayedLink(t, master.Addr, 20*time.Millisecond)
	host, port, _ := net.SplitHostPort(lag)
	if err := rc.ConfigSet(ctx, "masterauth", master.Password).Err(); err != nil {
		t.Fatal(err)
	}
	if err := rc.Do(ctx, "REPLICAOF", host, port).Err(); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for n := 0; n < 20000; n++ {
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
			_ = mc.Incr(ctx, "app:orders").Err()
		}
	})
	defer func() { close(stop); wg.Wait() }()
	rb := runtest.Load(t, runtest.TwoNodes+`
step "wait" "sync" {
  until = node.b.info.master_link_status == "up" && node.b.info.master_sync_in_progress == "0"
}
step "verify" "same" {
  a = node.a
  b = node.b
}
`, runtest.TwoNodeVars(master, replica)...)
	var log strings.Builder
	res := runtest.RunLive(t, rb, steps.NewProgress(&log, rb))
	if res.Status != steps.StatusPassed {
		t.Fatalf("verify of a hot key: %s: %v\n%s", res.Status, res.Diagnostics, log.String())
	}
	if !strings.Contains(log.String(), "with the master's writes paused for") {
		t.Fatalf("verify passed without settling the hot key:\n%s", log.String())
	}
}
