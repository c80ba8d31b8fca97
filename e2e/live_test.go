package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/understudy/understudy/internal/redistest"
)

// liveLabel marks the servers the apply tests start themselves, as an
// operator's servers: understudy did not start them and does not own them.
const liveLabel = "org.understudy.e2e-live"

// liveServer is a server started with docker run on the host's network, so
// that every node reaches every other at 127.0.0.1:port, as production
// nodes reach each other at their addresses.
type liveServer struct {
	name, image, addr, password string
	port                        int
	// volume, when set, is a named volume mounted at /data; save is the
	// server's save setting ("" for none).
	volume, save string
}

// startLiveServer runs image (e.g. "understudy/redis:7.0") on a free port,
// with a password, no persistence, and removes it when the test ends.
func startLiveServer(t *testing.T, image, password string) *liveServer {
	t.Helper()
	port := redistest.FreePort(t)
	s := &liveServer{name: fmt.Sprintf("understudy-e2e-live-%d-%d", os.Getpid(), port), image: image, password: password, port: port, addr: fmt.Sprintf("127.0.0.1:%d", port)}
	s.run(t)
	t.Cleanup(func() { _ = exec.Command("docker", "rm", "-f", s.name).Run() })
	return s
}

func (s *liveServer) run(t *testing.T) {
	t.Helper()
	args := []string{"run", "-d", "--network", "host", "--name", s.name, "--label", liveLabel + "=1"}
	if s.volume != "" {
		args = append(args, "--volume", s.volume+":/data")
	}
	args = append(args, s.image, "redis-server", "--port", fmt.Sprint(s.port), "--bind", "127.0.0.1",
		"--requirepass", s.password, "--masterauth", s.password, "--save", s.save, "--appendonly", "no")
	out, err := exec.Command("docker", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("docker run %s: %v\n%s", s.image, err, out)
	}
	c := s.client()
	defer c.Close()
	deadline := time.Now().Add(20 * time.Second)
	for c.Ping(context.Background()).Err() != nil {
		if time.Now().After(deadline) {
			logs, _ := exec.Command("docker", "logs", s.name).CombinedOutput()
			t.Fatalf("server %s did not answer PING\n%s", s.name, logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// restart replaces the server with a fresh one on the same port: a new run
// id, an empty dataset.
func (s *liveServer) restart(t *testing.T) {
	t.Helper()
	if out, err := exec.Command("docker", "rm", "-f", s.name).CombinedOutput(); err != nil {
		t.Fatalf("docker rm: %v\n%s", err, out)
	}
	s.run(t)
}

func (s *liveServer) client() *goredis.Client {
	return goredis.NewClient(&goredis.Options{Addr: s.addr, Password: s.password})
}

// endpointFile is the file the runbook's switch command rewrites
// (switch-endpoint.sh with ENDPOINT_FILE): the application's service
// discovery.
type endpointFile string

func (f endpointFile) write(t *testing.T, addr string) {
	t.Helper()
	if err := os.WriteFile(string(f), []byte(addr+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

func (f endpointFile) read() (string, error) {
	b, err := os.ReadFile(string(f))
	return strings.TrimSpace(string(b)), err
}

// forwarder is a load balancer in front of the nodes: it sends each new
// connection to the address the endpoint file holds at that moment, and
// closes the client's side when the server closes its side, as a TCP load
// balancer does. The canary connects through it.
type forwarder struct {
	l    net.Listener
	file endpointFile
	wg   sync.WaitGroup
}

func startForwarder(t *testing.T, file endpointFile) *forwarder {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &forwarder{l: l, file: file}
	f.wg.Go(f.serve)
	t.Cleanup(func() { _ = l.Close(); f.wg.Wait() })
	return f
}

func (f *forwarder) addr() string { return f.l.Addr().String() }

func (f *forwarder) serve() {
	for {
		c, err := f.l.Accept()
		if err != nil {
			return
		}
		f.wg.Go(func() {
			defer c.Close()
			target, err := f.file.read()
			if err != nil {
				return
			}
			s, err := net.DialTimeout("tcp", target, 2*time.Second)
			if err != nil {
				return
			}
			defer s.Close()
			done := make(chan struct{}, 2)
			go func() { _, _ = io.Copy(s, c); done <- struct{}{} }()
			go func() { _, _ = io.Copy(c, s); done <- struct{}{} }()
			<-done
		})
	}
}

// fileWriter is an application independent of understudy: a go-redis
// client with default retries whose every new connection dials the address
// the endpoint file holds. It writes its own keys at a steady rate, keeps
// the highest acknowledged sequence, and measures the longest gap between
// two acknowledgements.
type fileWriter struct {
	c       *goredis.Client
	prefix  string
	stop    chan struct{}
	wg      sync.WaitGroup
	acked   atomic.Int64
	failed  atomic.Int64
	mu      sync.Mutex
	longest time.Duration
	errs    []string
}

func startFileWriter(t *testing.T, file endpointFile, password, prefix string) *fileWriter {
	t.Helper()
	w := &fileWriter{prefix: prefix, stop: make(chan struct{})}
	w.c = goredis.NewClient(&goredis.Options{
		Password: password,
		Dialer: func(ctx context.Context, network, _ string) (net.Conn, error) {
			addr, err := file.read()
			if err != nil {
				return nil, err
			}
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
	})
	w.wg.Go(w.run)
	t.Cleanup(func() { w.halt(); _ = w.c.Close() })
	return w
}

func (w *fileWriter) run() {
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	last := time.Now()
	for i := int64(1); i <= 500_000; i++ {
		select {
		case <-w.stop:
			return
		case <-tick.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := w.c.Set(ctx, fmt.Sprintf("%s%d", w.prefix, i), i, 0).Err()
		cancel()
		now := time.Now()
		if err != nil {
			w.failed.Add(1)
			w.mu.Lock()
			if len(w.errs) < 5 {
				w.errs = append(w.errs, err.Error())
			}
			w.mu.Unlock()
			continue
		}
		w.mu.Lock()
		w.longest = max(w.longest, now.Sub(last))
		w.mu.Unlock()
		last = now
		w.acked.Store(i)
	}
}

func (w *fileWriter) halt() {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	w.wg.Wait()
}

// finish stops writing and reads every acknowledged key back from final.
func (w *fileWriter) finish(t *testing.T, final *goredis.Client) (acked, lost int64) {
	t.Helper()
	w.halt()
	acked = w.acked.Load()
	ctx := context.Background()
	for i := int64(1); i <= acked; i += 500 {
		var keys []string
		for j := i; j < min(i+500, acked+1); j++ {
			keys = append(keys, fmt.Sprintf("%s%d", w.prefix, j))
		}
		vals, err := final.MGet(ctx, keys...).Result()
		if err != nil {
			t.Fatalf("read back: %v", err)
		}
		for k, v := range vals {
			if v == nil {
				lost++
				if lost <= 3 {
					t.Errorf("acknowledged write %s missing on the final master", keys[k])
				}
			}
		}
	}
	return acked, lost
}

func (w *fileWriter) stats() (time.Duration, int64, []string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.longest, w.failed.Load(), w.errs
}

// liveNodes is an operator's standalone deployment for replica-swap.hcl:
// an old master with data, an empty new server, the endpoint file, a load
// balancer reading it, and the environment the runbook reads.
type liveNodes struct {
	old, new *liveServer
	file     endpointFile
	lb       *forwarder
	env      []string
}

func startLiveNodes(t *testing.T, from, to string) *liveNodes {
	t.Helper()
	password := fmt.Sprintf("live-%d", time.Now().UnixNano())
	n := &liveNodes{file: endpointFile(t.TempDir() + "/endpoint")}
	var wg sync.WaitGroup
	wg.Go(func() { n.old = startLiveServer(t, "understudy/redis:"+from, password) })
	wg.Go(func() { n.new = startLiveServer(t, "understudy/redis:"+to, password) })
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	n.file.write(t, n.old.addr)
	n.lb = startForwarder(t, n.file)
	c := n.old.client()
	defer c.Close()
	pipe := c.Pipeline()
	for i := 0; i < 20_000; i++ {
		pipe.Set(context.Background(), fmt.Sprintf("app:data:%d", i), i, 0)
	}
	if _, err := pipe.Exec(context.Background()); err != nil {
		t.Fatal(err)
	}
	n.env = append(os.Environ(),
		"OLD_ADDRESS="+n.old.addr, "NEW_ADDRESS="+n.new.addr, "REDIS_PASSWORD="+password,
		"ENDPOINT_FILE="+string(n.file), "APP_ADDRESS="+n.lb.addr())
	return n
}

// roleOf is a server's role as ROLE says it.
func roleOf(t *testing.T, s *liveServer) string {
	t.Helper()
	c := s.client()
	defer c.Close()
	r, err := c.Do(context.Background(), "ROLE").Slice()
	if err != nil || len(r) == 0 {
		t.Fatalf("ROLE on %s: %v", s.addr, errors.Join(err, errors.New("empty reply")))
	}
	return fmt.Sprint(r[0])
}
