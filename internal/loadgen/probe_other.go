//go:build !unix

package loadgen

// setReuseAddr does nothing here: a probe port left in TIME_WAIT by a
// previous run makes the next block be used.
func setReuseAddr(fd uintptr) error { return nil }
