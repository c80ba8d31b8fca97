//go:build unix

package container

import (
	"errors"
	"syscall"
)

// processAlive reports whether a process with this pid exists. A process
// owned by another user still exists (EPERM).
func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
