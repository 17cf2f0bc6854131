//go:build unix

package loadgen

import "syscall"

// setReuseAddr lets a probe connection bind a port that a previous run's
// connection left in TIME_WAIT.
func setReuseAddr(fd uintptr) error {
	return syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1)
}
