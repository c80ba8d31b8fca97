package clientmix_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/understudy/understudy/internal/clientmix"
	"github.com/understudy/understudy/internal/redistest"
)

// TestMixAgainstOneServer runs the whole mix against one server for a
// moment: every check holds and every client did something.
func TestMixAgainstOneServer(t *testing.T) {
	s := redistest.Start(t)
	m, err := clientmix.Start(context.Background(), clientmix.Options{Addr: s.Addr, Password: s.Password, Bench: clientmix.Bench{Requests: 2000}})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	p := m.Progress()
	r := m.Stop()
	t.Logf("%s", r)
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	if p.StreamAdded == 0 || p.Published == 0 || p.Transactions == 0 || p.RESP3Writes == 0 || p.BenchRun == 0 {
		t.Errorf("a client did nothing: %+v", p)
	}
	if r.Jobs.Pushed == 0 || r.Stream.Read == 0 || r.Tx.Acked == 0 || r.RESP3.Writes == 0 || r.Bench.Requests == 0 {
		t.Errorf("a client did nothing: %s", r)
	}
	for _, sub := range r.PubSub.Subscribers {
		if sub.Received != sub.Published || sub.Disconnects != 0 {
			t.Errorf("%s without a switchover: %s", sub.Name, sub)
		}
	}
}

// TestMixWithoutServer: the clients fail, the result says so, and Stop
// returns within its bounds.
func TestMixWithoutServer(t *testing.T) {
	addr := "127.0.0.1:" + strconv.Itoa(redistest.FreePort(t))
	m, err := clientmix.Start(context.Background(), clientmix.Options{Addr: addr, MaxDuration: 2 * time.Second, Bench: clientmix.Bench{Disabled: true}})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	start := time.Now()
	r := m.Stop()
	if r.Err() == nil {
		t.Fatalf("no error without a server: %s", r)
	}
	t.Logf("stopped in %v: %v", time.Since(start), r.Err())
}

func TestExcludeFromVerify(t *testing.T) {
	src := "step \"assert\" \"a\" {\n}\n\nstep \"verify\" \"same\" {\n  a = node.new\n}\n  step \"verify\" \"back\" {\n  }\n"
	out, n, err := clientmix.ExcludeFromVerify([]byte(src), "clientmix:")
	if err != nil || n != 2 {
		t.Fatalf("%d, %v", n, err)
	}
	want := "step \"assert\" \"a\" {\n}\n\nstep \"verify\" \"same\" {\n  exclude = [\"clientmix:*\"]\n  a = node.new\n}\n  step \"verify\" \"back\" {\n    exclude = [\"clientmix:*\"]\n  }\n"
	if string(out) != want {
		t.Fatalf("got\n%s", out)
	}
	if _, _, err := clientmix.ExcludeFromVerify([]byte("step \"assert\" \"a\" {\n}\n"), "x"); err == nil {
		t.Fatal("no error without a verify step")
	}
}
