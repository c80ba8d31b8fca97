package traffic_test

import (
	"context"
	"testing"
	"time"

	"github.com/understudy/understudy/internal/redistest"
	"github.com/understudy/understudy/steps/traffic"
)

// TestWriterThroughSentinel: with a Sentinel target the writer finds the
// master through the sentinels (go-redis's failover client), every
// acknowledged write is on the master, and after a Sentinel failover it
// follows the new master and keeps writing.
func TestWriterThroughSentinel(t *testing.T) {
	set := redistest.StartSentinelSet(t)
	ctx := context.Background()
	w, err := traffic.Start(ctx, traffic.Options{
		Sentinel: &traffic.SentinelTarget{MasterName: set.Name, Addrs: set.SentinelAddrs()},
		Password: set.Password, Rate: 500, Prefix: "sentinel:",
	})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	before := w.Acked()
	sc := set.Sentinels[0].Client()
	defer sc.Close()
	if err := sc.Do(ctx, "SENTINEL", "FAILOVER", set.Name).Err(); err != nil {
		t.Fatal(err)
	}
	// Wait for the sentinel to name another master.
	var now string
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		addr, err := sc.Do(ctx, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", set.Name).StringSlice()
		if err == nil && len(addr) == 2 && addr[0]+":"+addr[1] != set.Master.Addr {
			now = addr[0] + ":" + addr[1]
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if now == "" {
		t.Fatal("the sentinel never named a new master")
	}
	// Writes go on once the client has followed.
	time.Sleep(2 * time.Second)
	mid := w.Acked()
	time.Sleep(500 * time.Millisecond)
	rep := w.Stop()
	t.Logf("through Sentinel: %d acknowledged before the failover, %d after; %d failed, longest stall %.1f ms; new master %s", before, rep.Acked-before, rep.Failed, rep.MaxStallMS, now)
	if before == 0 || rep.Acked <= mid {
		t.Errorf("the writer did not write through Sentinel before (%d) or after the failover (%d → %d)", before, mid, rep.Acked)
	}
	final := set.ServerByAddr(t, now).Client()
	defer final.Close()
	if err := w.Verify(ctx, final, rep); err != nil {
		t.Fatal(err)
	}
	// A plain SENTINEL FAILOVER loses the writes the old master took until
	// Sentinel converted it (redis-facts.md): logged, the figure the
	// lossless failover is measured against.
	t.Logf("read back from the new master: %d of %d acknowledged writes missing (plain SENTINEL FAILOVER)", rep.Lost, rep.Acked)
	if rep.Lost >= rep.Acked {
		t.Errorf("no acknowledged write is on the new master: %d lost of %d", rep.Lost, rep.Acked)
	}
}
