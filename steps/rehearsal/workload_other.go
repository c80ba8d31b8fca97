//go:build !unix

package rehearsal

import (
	"os"
	"syscall"
)

// newProcessGroup: no process groups here; stopping reaches the workload's
// own process only.
func newProcessGroup() *syscall.SysProcAttr { return nil }

// terminateGroup cannot send SIGTERM here: it kills the process.
func terminateGroup(p *os.Process) error { return p.Kill() }

// killGroup kills the process.
func killGroup(p *os.Process) error { return p.Kill() }

// exitStatus is the process's exit code.
func exitStatus(st *os.ProcessState) (code int, signal string) { return st.ExitCode(), "" }
