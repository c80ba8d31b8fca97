//go:build !unix

package live

import (
	"os"
	"syscall"
)

// newProcessGroup: no process groups here; a timeout kills the command's
// own process only.
func newProcessGroup() *syscall.SysProcAttr { return nil }

// killGroup kills the process.
func killGroup(p *os.Process) error { return p.Kill() }
