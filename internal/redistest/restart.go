package redistest

import (
	"os/exec"
	"testing"
)

// Restart kills the server and starts it again with the same arguments, on
// the same port: a new process (a new run_id) that, started without
// persistence, comes back empty.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	if s.cmd == nil {
		t.Fatalf("redistest: restart %s: the server is stopped", s.Addr)
	}
	args := s.cmd.Args
	s.Stop()
	cmd := exec.Command(args[0], args[1:]...)
	if err := cmd.Start(); err != nil {
		t.Fatalf("redistest: restart %s: %v", s.Addr, err)
	}
	s.cmd = cmd
	cl := s.Client()
	defer cl.Close()
	waitPing(t, "restarted server", s.Addr, cl, nil)
}
