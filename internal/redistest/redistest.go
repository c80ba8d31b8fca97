package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Server is one running redis-server.
type Server struct {
	Addr     string
	Host     string
	Port     int
	Password string
	Dir      string
	cmd      *exec.Cmd
}

// Option changes how a server starts.
type Option func(*config)

type config struct {
	password string
	args     []string
}

// WithPassword sets requirepass and masterauth (default: a random password).
func WithPassword(p string) Option { return func(c *config) { c.password = p } }

// WithArgs appends server arguments, e.g. "--enable-debug-command", "no".
func WithArgs(args ...string) Option { return func(c *config) { c.args = append(c.args, args...) } }

// serverPath is the server binary: $REDISTEST_SERVER, else redis-server,
// looked up on PATH.
func serverPath(t testing.TB) string {
	t.Helper()
	bin := os.Getenv("REDISTEST_SERVER")
	if bin == "" {
		bin = "redis-server"
	}
	path, err := exec.LookPath(bin)
	if err != nil {
		t.Fatalf("redistest: %s not found (apt-get install redis-server): %v", bin, err)
	}
	return path
}

// waitPing polls c until the server at addr answers PING, for at most 10
// s; then the test fails naming what, with the server's log when log is
// not nil.
func waitPing(t testing.TB, what, addr string, c *redis.Client, log func() string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			text := ""
			if log != nil {
				text = "\n" + log()
			}
			t.Fatalf("redistest: %s on %s did not answer: %v%s", what, addr, err, text)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// readLog is a log file's content, "" when it cannot be read.
func readLog(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}

// Start runs a redis-server on 127.0.0.1 and a free port, waits until it
// answers PING, and stops it when t ends.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	c := config{password: RandomPassword()}
	for _, o := range opts {
		o(&c)
	}
	path := serverPath(t)
	port := FreePort(t)
	dir := t.TempDir()
	args := []string{
		"--bind", "127.0.0.1", "--port", strconv.Itoa(port), "--dir", dir,
		"--save", "", "--appendonly", "no", "--daemonize", "no", "--logfile", filepath.Join(dir, "server.log"),
	}
	if c.password != "" {
		args = append(args, "--requirepass", c.password, "--masterauth", c.password)
	}
	if supportsDebugFlag(path) {
		args = append(args, "--enable-debug-command", "yes")
	}
	args = append(args, c.args...)
	cmd := exec.Command(path, args...)
	if err := cmd.Start(); err != nil {
		t.Fatalf("redistest: start %s: %v", path, err)
	}
	s := &Server{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), Host: "127.0.0.1", Port: port, Password: c.password, Dir: dir, cmd: cmd}
	t.Cleanup(s.Stop)
	cl := s.Client()
	defer cl.Close()
	waitPing(t, "server", s.Addr, cl, func() string { return readLog(filepath.Join(dir, "server.log")) })
	return s
}

// Client returns a new go-redis client for the server; the caller closes it.
func (s *Server) Client() *redis.Client {
	return redis.NewClient(&redis.Options{Addr: s.Addr, Password: s.Password})
}

// Stop kills the server; it is safe to call twice.
func (s *Server) Stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Kill()
		_, _ = s.cmd.Process.Wait()
		s.cmd = nil
	}
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("redistest: free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// RandomPassword returns 32 hex characters from crypto/rand.
func RandomPassword() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("redistest: random: %v", err))
	}
	return hex.EncodeToString(b)
}

// supportsDebugFlag reports whether the server knows enable-debug-command (7.0+).
func supportsDebugFlag(path string) bool {
	out, err := exec.Command(path, "--version").Output()
	if err != nil {
		return false
	}
	var maj int
	for _, f := range []string{"v=", "version "} {
		if i := strings.Index(string(out), f); i >= 0 {
			fmt.Sscanf(string(out)[i+len(f):], "%d", &maj)
			break
		}
	}
	return maj >= 7
}
