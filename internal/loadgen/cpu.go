package loadgen

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// userHZ is the unit of the CPU times in /proc/PID/stat (USER_HZ, 100 on
// every Linux architecture Go supports; proc(5)).
const userHZ = 100

// CPUTime sums the user and system CPU time (/proc/PID/stat utime and
// stime) of pids, at 10 ms resolution. Processes that have exited are
// skipped. Comparing the target's CPU time per operation stays meaningful
// when the load generator, not the target, limits the rate.
func CPUTime(pids []int) (time.Duration, error) {
	var ticks int64
	read := 0
	for _, pid := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		n, err := statTicks(b)
		if err != nil {
			return 0, fmt.Errorf("loadgen: /proc/%d/stat: %w", pid, err)
		}
		ticks += n
		read++
	}
	if read == 0 && len(pids) > 0 {
		return 0, fmt.Errorf("loadgen: CPU time: none of pids %v is running", pids)
	}
	return time.Duration(ticks) * time.Second / userHZ, nil
}

// statTicks returns utime+stime from the contents of /proc/PID/stat.
func statTicks(b []byte) (int64, error) {
	// The command name is parenthesised and may hold spaces; fields after
	// it start with state (field 3); utime and stime are fields 14, 15.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("no command name")
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("%d fields", len(f)+2)
	}
	u, err := strconv.ParseInt(f[11], 10, 64)
	if err != nil {
		return 0, err
	}
	s, err := strconv.ParseInt(f[12], 10, 64)
	if err != nil {
		return 0, err
	}
	return u + s, nil
}

// cpuMeter measures the target's CPU time from the end of the warm-up to
// the end of sending (the window the rates are measured over).
type cpuMeter struct {
	pids  []int
	timer *time.Timer
	done  chan struct{} // closed once the first reading is taken
	t0    time.Time
	c0    time.Duration
	err   error
}

// startCPU arms a meter reading the CPU time of pids and their
// descendants after warmup; nil without pids.
func startCPU(pids []int, warmup time.Duration) *cpuMeter {
	if len(pids) == 0 {
		return nil
	}
	m := &cpuMeter{pids: pids, done: make(chan struct{})}
	m.timer = time.AfterFunc(warmup, func() {
		m.t0 = time.Now()
		m.c0, m.err = CPUTime(WithDescendants(m.pids))
		close(m.done)
	})
	return m
}

// stop takes the second reading and returns the target's CPU time and
// the wall time it was measured over (zero when the run ended within the
// warm-up or /proc could not be read).
func (m *cpuMeter) stop() (cpu, wall time.Duration) {
	if m == nil {
		return 0, 0
	}
	if m.timer.Stop() {
		return 0, 0 // the warm-up never ended
	}
	<-m.done
	if m.err != nil {
		return 0, 0
	}
	c1, err := CPUTime(WithDescendants(m.pids))
	if err != nil {
		return 0, 0
	}
	return c1 - m.c0, time.Since(m.t0)
}
