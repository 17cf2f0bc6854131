//go:build unix

package sipserver

import (
	"syscall"
	"time"
)

// cpuTime is the user+system CPU time this process used so far; the
// benchmarks report it per operation, which a busy machine disturbs less
// than wall time.
func cpuTime() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
