package dataset

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// writeBigKeys writes a hash of fields fields and a string of bytes bytes,
// 1 000 fields per HSET and 256 KB per APPEND.
func writeBigKeys(t *testing.T, c *redis.Client, fields, bytes int) {
	t.Helper()
	ctx := context.Background()
	pipe := c.Pipeline()
	for i := 0; i < fields; i += 1000 {
		args := []interface{}{"HSET", "big:hash"}
		for j := i; j < min(i+1000, fields); j++ {
			args = append(args, fmt.Sprintf("field:%d", j), fmt.Sprintf("value:%d", j))
		}
		pipe.Do(ctx, args...)
		if pipe.Len() == 20 {
			if _, err := pipe.Exec(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	chunk := strings.Repeat("0123456789abcdef", 16<<10)
	for n := 0; n < bytes; n += len(chunk) {
		pipe.Append(ctx, "big:string", chunk[:min(len(chunk), bytes-n)])
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
}

// stallMeter runs TestStallMeterProcess in a process of its own, so that
// the comparison's CPU and garbage collection in this process do not show
// as the writer's stalls: it sends PING and SET one after another and
// prints the longest gap between two replies whenever it reads a line on
// its standard input.
type stallMeter struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Scanner
}

func startStallMeter(t *testing.T, addr, password string) *stallMeter {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestStallMeterProcess$")
	cmd.Env = append(os.Environ(), "STALL_METER_ADDR="+addr, "STALL_METER_PASSWORD="+password)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	m := &stallMeter{cmd: cmd, in: in, out: bufio.NewScanner(out)}
	t.Cleanup(func() {
		_ = in.Close()
		_ = cmd.Wait()
	})
	return m
}

// reset returns the longest gap since the last reset and the number of
// commands, and starts over.
func (m *stallMeter) reset(t *testing.T) (time.Duration, int) {
	t.Helper()
	if _, err := io.WriteString(m.in, "reset\n"); err != nil {
		t.Fatal(err)
	}
	for m.out.Scan() {
		var gap time.Duration
		var n int
		if _, err := fmt.Sscanf(m.out.Text(), "stall %d %d", &gap, &n); err == nil {
			return gap, n
		}
	}
	t.Fatalf("stall meter: %v", m.out.Err())
	return 0, 0
}

// TestStallMeterProcess is the stall meter's process; it does nothing in a
// normal test run.
func TestStallMeterProcess(t *testing.T) {
	addr := os.Getenv("STALL_METER_ADDR")
	if addr == "" {
		return
	}
	c := redis.NewClient(&redis.Options{Addr: addr, Password: os.Getenv("STALL_METER_PASSWORD"), ReadTimeout: 10 * time.Second})
	defer c.Close()
	var mu sync.Mutex
	var longest time.Duration
	n := 0
	go func() {
		ctx := context.Background()
		last := time.Now()
		for i := 0; ; i++ {
			var err error
			if i%2 == 0 {
				err = c.Ping(ctx).Err()
			} else {
				err = c.Set(ctx, fmt.Sprintf("probe:%d", i%1000), i, 0).Err()
			}
			now := time.Now()
			if err == nil {
				mu.Lock()
				longest = max(longest, now.Sub(last))
				n++
				mu.Unlock()
			}
			last = now
		}
	}()
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		mu.Lock()
		fmt.Printf("stall %d %d\n", longest, n)
		longest, n = 0, 0
		mu.Unlock()
	}
	os.Exit(0)
}

// TestCompareStall compares a master and its replica holding a 1M-field
// hash and a 10 MB string while a client writes to the master, and logs
// the longest gap between the client's replies: during Compare, during a
// snapshot and its check, and while nothing else runs. It asserts no
// timing (the machine is shared); make bench prints the figures.
func TestCompareStall(t *testing.T) {
	ctx := context.Background()
	srvA, a := server(t, fastSync, samePassword)
	srvB, b := server(t, samePassword)
	start := time.Now()
	writeBigKeys(t, a, 1_000_000, 10<<20)
	if _, err := Seed(ctx, a, SeedOptions{Keys: 5000, Seed: 5, SkipBigKeys: true}); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote the big keys and 5000 keys in %v", time.Since(start).Round(time.Millisecond))
	replicate(t, hostNode(srvA, a), hostNode(srvB, b))
	copyUsers(t, a, b)

	m := startStallMeter(t, srvA.Addr, testPassword)
	m.reset(t)
	time.Sleep(time.Second)
	idle, n := m.reset(t)
	t.Logf("idle: longest gap %v in %d commands over 1 s", idle, n)

	for _, c := range []*redis.Client{a, b} {
		do(t, c, "CONFIG", "SET", "slowlog-log-slower-than", "5000")
		do(t, c, "CONFIG", "SET", "slowlog-max-len", "10000")
	}
	opts := CompareOptions{Exclude: []string{"probe:*"}}
	slowlogReset(t, a, b)
	res, err := Compare(ctx, a, b, opts)
	if err != nil {
		t.Fatal(err)
	}
	stall, n := m.reset(t)
	t.Logf("Compare: %d keys in %.0f ms, equal %v, longest gap of the writer %v in %d commands; %s", res.KeysA, res.DurationMS, res.Equal, stall, n, slowlog(t, a, b))
	if !res.Equal || res.KeysA != 5002 {
		t.Errorf("compare: %+v", res)
	}

	start = time.Now()
	slowlogReset(t, a, b)
	snap, err := TakeSnapshot(ctx, a, opts)
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	stall, n = m.reset(t)
	t.Logf("TakeSnapshot: %d keys in %v, longest gap of the writer %v in %d commands; %s", snap.Keys, took.Round(time.Millisecond), stall, n, slowlog(t, a, b))
	slowlogReset(t, a, b)
	cres, err := CheckSnapshot(ctx, a, snap, CompareOptions{})
	if err != nil {
		t.Fatal(err)
	}
	stall, n = m.reset(t)
	t.Logf("CheckSnapshot: %.0f ms, equal %v, longest gap of the writer %v in %d commands; %s", cres.DurationMS, cres.Equal, stall, n, slowlog(t, a, b))
	if !cres.Equal {
		t.Errorf("check: %+v", cres)
	}
}

func slowlogReset(t *testing.T, cs ...*redis.Client) {
	t.Helper()
	for _, c := range cs {
		do(t, c, "SLOWLOG", "RESET")
	}
}

// slowlog summarizes the commands that took 5 ms or more on the servers
// (SLOWLOG, with slowlog-log-slower-than 5000): on a loaded machine, O(1)
// commands show up too, when the server waited for a CPU.
func slowlog(t *testing.T, cs ...*redis.Client) string {
	t.Helper()
	var parts []string
	for i, c := range cs {
		entries, err := c.SlowLogGet(context.Background(), -1).Result()
		if err != nil {
			t.Fatal(err)
		}
		var slowest redis.SlowLog
		for _, e := range entries {
			if e.Duration > slowest.Duration {
				slowest = e
			}
		}
		p := fmt.Sprintf("server %c: %d commands of 5 ms or more", 'a'+i, len(entries))
		if len(entries) > 0 {
			p += fmt.Sprintf(", the slowest %v %v", slowest.Duration, slowest.Args[:min(len(slowest.Args), 4)])
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, "; ")
}

// testWorker runs comparisons in TestWorkerProcess, a child process of the
// test binary, the way understudy runs them in "understudy internal-compare".
func testWorker() *Worker {
	return &Worker{
		Command: []string{os.Args[0], "-test.run=^TestWorkerProcess$"},
		Nice:    10,
		Env:     []string{"DATASET_WORKER=1"},
	}
}

// TestWorkerProcess is the comparison worker's process; it does nothing in
// a normal test run.
func TestWorkerProcess(t *testing.T) {
	if os.Getenv("DATASET_WORKER") == "" {
		return
	}
	if err := ServeWorker(context.Background(), os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}

// inProcessMeter writes to addr from a goroutine of this process, as the
// rehearsal's write probe does, and returns a function that gives the
// longest gap between two replies since its last call.
func inProcessMeter(t *testing.T, addr, password string) func() time.Duration {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, Password: password})
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	var longest time.Duration
	done := make(chan struct{})
	go func() {
		defer close(done)
		last := time.Now()
		for i := 0; ctx.Err() == nil; i++ {
			err := c.Set(ctx, fmt.Sprintf("probe:%d", i%1000), i, 0).Err()
			now := time.Now()
			if err == nil {
				mu.Lock()
				longest = max(longest, now.Sub(last))
				mu.Unlock()
			}
			last = now
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		_ = c.Close()
	})
	return func() time.Duration {
		mu.Lock()
		defer mu.Unlock()
		l := longest
		longest = 0
		return l
	}
}

// TestWorkerStall compares a master and its replica holding the big keys
// while a goroutine of this process writes to the master, once in this
// process and once in a worker process, and logs the writer's longest gap
// for each. The two results must agree; timings are logged, not asserted.
func TestWorkerStall(t *testing.T) {
	ctx := context.Background()
	srvA, a := server(t, fastSync, samePassword)
	srvB, b := server(t, samePassword)
	writeBigKeys(t, a, 1_000_000, 10<<20)
	if _, err := Seed(ctx, a, SeedOptions{Keys: 5000, Seed: 5, SkipBigKeys: true}); err != nil {
		t.Fatal(err)
	}
	replicate(t, hostNode(srvA, a), hostNode(srvB, b))
	copyUsers(t, a, b)
	gap := inProcessMeter(t, srvA.Addr, testPassword)
	time.Sleep(time.Second)
	t.Logf("idle: longest gap %v over 1 s", gap())
	opts := CompareOptions{Exclude: []string{"probe:*"}}
	for _, c := range []struct {
		name string
		cmp  Comparer
	}{{"in process", InProcess{}}, {"worker", testWorker()}, {"in process", InProcess{}}, {"worker", testWorker()}} {
		gap()
		res, err := c.cmp.Compare(ctx, a, b, opts)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		t.Logf("%s: %d keys in %.0f ms, equal %v, longest gap of the writer %v", c.name, res.KeysA, res.DurationMS, res.Equal, gap())
		if !res.Equal || res.KeysA != 5002 {
			t.Errorf("%s: %+v", c.name, res)
		}
	}
}
