package loadgen

import (
	"os"
	"strings"
	"testing"
	"time"
)

func TestStatTicks(t *testing.T) {
	// proc(5) layout; the command name holds a space and a parenthesis.
	line := "1234 (kamailio (x)) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 1 0 42 1000 200\n"
	n, err := statTicks([]byte(line))
	if err != nil || n != 325 {
		t.Fatalf("statTicks = %d, %v; want 325", n, err)
	}
	for _, bad := range []string{"1 noparen S 1", "1 (x) S 1 2 3", "1 (x) S 1 1 1 0 -1 0 0 0 0 0 u 75 0"} {
		if _, err := statTicks([]byte(bad)); err == nil {
			t.Errorf("statTicks(%q) succeeded", bad)
		}
	}
}

func TestCPUTime(t *testing.T) {
	before, err := CPUTime([]int{os.Getpid()})
	if err != nil {
		t.Fatal(err)
	}
	for end := time.Now().Add(200 * time.Millisecond); time.Now().Before(end); {
	}
	after, err := CPUTime([]int{os.Getpid()})
	if err != nil {
		t.Fatal(err)
	}
	if after-before < 50*time.Millisecond {
		t.Errorf("200 ms of spinning counted %v", after-before)
	}
	if _, err := CPUTime([]int{1 << 30}); err == nil {
		t.Error("CPUTime of a missing process succeeded")
	}
}

// TestTargetCPU measures the generator's own process as the target of a
// direct run: its CPU time and CPU per message must be filled in.
func TestTargetCPU(t *testing.T) {
	res, err := RunMSRP(t.Context(), MSRPConfig{Scenario: Small, Mode: Direct, Sessions: 4, Duration: 400 * time.Millisecond,
		Warmup: 100 * time.Millisecond, PIDs: []int{os.Getpid()}})
	if err != nil {
		t.Fatal(err)
	}
	if res.TargetCPU <= 0 || res.TargetCPUWall < 300*time.Millisecond || res.CPUPerOp("msg") <= 0 {
		t.Fatalf("target CPU %v over %v, %v per msg", res.TargetCPU, res.TargetCPUWall, res.CPUPerOp("msg"))
	}
	var b strings.Builder
	if err := res.WriteJSON(&b); err != nil || !strings.Contains(b.String(), `"us_per_msg"`) {
		t.Errorf("JSON lacks target_cpu: %v %s", err, b.String())
	}
	res, err = RunMSRP(t.Context(), MSRPConfig{Scenario: Small, Mode: Direct, Sessions: 1, Count: 10, Warmup: time.Hour, PIDs: []int{os.Getpid()}})
	if err != nil || res.TargetCPUWall != 0 {
		t.Errorf("run ended in its warm-up: CPU wall %v, err %v", res.TargetCPUWall, err)
	}
}
