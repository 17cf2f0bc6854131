//go:build unix

package relay

import "syscall"

// readFD is one read(2) on a socket descriptor (see conn.tryRead).
func readFD(fd uintptr, p []byte) (int, error) { return syscall.Read(int(fd), p) }
