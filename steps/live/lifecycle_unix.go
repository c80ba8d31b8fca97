//go:build unix

package live

import (
	"os"
	"syscall"
)

// newProcessGroup puts a lifecycle command in a process group of its own,
// so that a timeout reaches every program it started (docker, kubectl, ssh).
func newProcessGroup() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

// killGroup sends SIGKILL to the process group p leads.
func killGroup(p *os.Process) error { return syscall.Kill(-p.Pid, syscall.SIGKILL) }
