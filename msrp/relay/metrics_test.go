package relay

import (
	"testing"
	"time"

	"github.com/parley-im/parley/msrp"
)

func TestHistogramQuantile(t *testing.T) {
	b := latencyBounds[:]
	counts := make([]uint64, len(b)+1)
	counts[0] = 50 // ≤ 10 µs
	counts[3] = 40 // ≤ 100 µs
	counts[9] = 9  // ≤ 10 ms
	counts[19] = 1 // +Inf
	h := Histogram{Bounds: b, Counts: counts, Count: 100}
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{
		{0, 10 * time.Microsecond},
		{0.5, 10 * time.Microsecond},
		{0.51, 100 * time.Microsecond},
		{0.9, 100 * time.Microsecond},
		{0.95, 10 * time.Millisecond},
		{0.99, 10 * time.Millisecond},
		{0.999, 10 * time.Second}, // +Inf bucket: the largest finite bound
		{1, 10 * time.Second},
		{2, 10 * time.Second},
	} {
		if got := h.Quantile(tc.q); got != tc.want {
			t.Errorf("Quantile(%v) = %v, want %v", tc.q, got, tc.want)
		}
	}
	if got := (Histogram{Bounds: b, Counts: make([]uint64, len(b)+1)}).Quantile(0.99); got != 0 {
		t.Errorf("empty: %v", got)
	}
}

func TestLatencyHistObserve(t *testing.T) {
	var h latencyHist
	for _, d := range []time.Duration{0, 10 * time.Microsecond, 10*time.Microsecond + 1, 3 * time.Millisecond, time.Minute} {
		h.observe(d)
	}
	s := h.snapshot()
	want := map[int]uint64{0: 2, 1: 1, 8: 1, 19: 1}
	for i, n := range s.Counts {
		if n != want[i] {
			t.Errorf("bucket %d (≤ %v): %d, want %d", i, s.Bounds[min(i, len(s.Bounds)-1)], n, want[i])
		}
	}
	if s.Count != 5 || s.Sum != 20*time.Microsecond+1+3*time.Millisecond+time.Minute {
		t.Errorf("count %d sum %v", s.Count, s.Sum)
	}
	for i := 1; i < len(s.Bounds); i++ {
		if s.Bounds[i] <= s.Bounds[i-1] {
			t.Fatalf("bounds not ascending at %d", i)
		}
	}
}

// TestForwardLatencyMetric: every forwarded request is in ForwardLatency,
// also after its connection is gone (folded into the Server's totals).
func TestForwardLatencyMetric(t *testing.T) {
	s, _ := startRelay(t, Config{})
	a, b, ra, rb := pairRaw(t, s)
	before := s.Metrics().ForwardLatency
	if before.Count != 0 || len(before.Counts) != len(before.Bounds)+1 {
		t.Fatalf("before: %+v", before)
	}
	const n = 5
	for i := range n {
		body := "hello"
		req := send([]msrp.URI{ra, rb, b.self}, a.self, "lat"+string(rune('a'+i)), body)
		a.write(req, []byte(body))
		if f, _ := a.read(); f.StatusCode != 200 {
			t.Fatal(f.StatusCode)
		}
		if f, _ := b.read(); f.Method != msrp.MethodSEND {
			t.Fatal(f.Method)
		}
	}
	// The last frame is observed just after its flush, which the
	// receiver may see first.
	m := s.Metrics()
	for deadline := time.Now().Add(2 * time.Second); m.ForwardLatency.Count < n && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
		m = s.Metrics()
	}
	h := m.ForwardLatency
	if h.Count != n || h.Count != m.Forwarded || h.Sum <= 0 {
		t.Fatalf("count %d (forwarded %d) sum %v", h.Count, m.Forwarded, h.Sum)
	}
	if q := h.Quantile(0.5); q <= 0 || q > 10*time.Second {
		t.Fatalf("p50 %v", q)
	}
	a.nc.Close()
	for s.Metrics().ConnectionsOpen > 1 {
		time.Sleep(5 * time.Millisecond)
	}
	if got := s.Metrics().ForwardLatency.Count; got != n {
		t.Fatalf("after close: %d", got)
	}
}
