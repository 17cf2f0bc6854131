package loadgen

import (
	"os"
	"strings"
	"testing"
)

// TestLarge runs the endpoint-to-endpoint scenario with a 64 MiB message:
// both throughputs and the peak RSS must be measured and the verdicts
// follow from them.
func TestLarge(t *testing.T) {
	const size = 64 << 20
	res, err := RunLarge(t.Context(), LargeConfig{Size: size})
	if err != nil {
		t.Fatal(err)
	}
	l := res.Large
	if l == nil || l.Size != size || l.RawMBps[0] <= 0 || l.RawMBps[1] <= 0 || l.MSRPMBps <= 0 || l.PeakRSS <= 0 {
		t.Fatalf("large result %+v", l)
	}
	if want := l.MSRPMBps / max(l.RawMBps[0], l.RawMBps[1]); l.Ratio != want || l.RatioMet != (want >= 0.5) {
		t.Errorf("ratio %v (met %v), want %v", l.Ratio, l.RatioMet, want)
	}
	if l.RawCPU[0] <= 0 || l.MSRPCPU <= 0 || l.CPURatio <= 0 {
		t.Errorf("CPU figures %v %v %v", l.RawCPU, l.MSRPCPU, l.CPURatio)
	}
	if l.RSSMet != (l.PeakRSS <= 64<<20) {
		t.Errorf("RSS verdict %v for %d", l.RSSMet, l.PeakRSS)
	}
	if c := res.Class("msg"); c == nil || c.Count != 1 || c.Bytes != size {
		t.Errorf("classes %+v", res.Classes)
	}
	var b strings.Builder
	res.WriteTable(&b)
	if !strings.Contains(b.String(), "raw loopback TCP") || !strings.Contains(b.String(), "peak RSS") {
		t.Errorf("table:\n%s", b.String())
	}
	if testing.Verbose() {
		os.Stderr.WriteString(b.String())
	}
}
