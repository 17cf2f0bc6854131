//go:build unix

package relay

import "syscall"

// rawReads: plain TCP connections are read through their descriptor
// (conn.sockRead).
const rawReads = true

// readFD is one read(2) on a non-blocking socket descriptor, retried on
// EINTR; wouldBlock reports EAGAIN.
func readFD(fd uintptr, p []byte) (n int, wouldBlock bool, err error) {
	for {
		n, err = syscall.Read(int(fd), p)
		switch err {
		case nil:
			return n, false, nil
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return 0, true, nil
		}
		return 0, false, err
	}
}
