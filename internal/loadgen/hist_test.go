package loadgen

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestBucketRoundTrip(t *testing.T) {
	// Every value falls in a bucket whose range holds it, the ranges are
	// contiguous and the relative width stays within 1/64.
	var prevHi int64 = -1
	for i := range nBuckets - half { // the last octave overflows int64
		lo, hi := bucketRange(i)
		if lo != prevHi+1 {
			t.Fatalf("bucket %d starts at %d, previous ended at %d", i, lo, prevHi)
		}
		if bucketOf(lo) != i || bucketOf(hi) != i {
			t.Fatalf("bucket %d [%d, %d]: bucketOf gives %d, %d", i, lo, hi, bucketOf(lo), bucketOf(hi))
		}
		if lo >= subCount && float64(hi-lo+1)/float64(lo) > 1.0/64+1e-12 {
			t.Fatalf("bucket %d [%d, %d] wider than 1/64", i, lo, hi)
		}
		prevHi = hi
	}
}

func TestQuantiles(t *testing.T) {
	for _, tc := range []struct {
		name   string
		values []time.Duration
	}{
		{"one value", []time.Duration{1234 * time.Microsecond}},
		{"exact small", []time.Duration{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}},
		{"uniform", uniform(100000, 10*time.Millisecond)},
		{"bimodal", append(uniform(9900, 100*time.Microsecond), slices.Repeat([]time.Duration{50 * time.Millisecond}, 100)...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var h Histogram
			for _, v := range tc.values {
				h.Record(v)
			}
			sorted := slices.Clone(tc.values)
			slices.Sort(sorted)
			if h.Count() != uint64(len(sorted)) || h.Min() != sorted[0] || h.Max() != sorted[len(sorted)-1] {
				t.Fatalf("count %d min %v max %v", h.Count(), h.Min(), h.Max())
			}
			for _, q := range []float64{0.5, 0.9, 0.99, 0.999} {
				// Nearest rank on the sorted samples.
				k := int(float64(len(sorted))*q+0.999999) - 1
				want := sorted[max(k, 0)]
				got := h.Quantile(q)
				if d := float64(got-want) / float64(want); d > 1.0/64 || d < -1.0/64 {
					t.Errorf("q%.3f = %v, sorted samples say %v", q, got, want)
				}
			}
			if h.Quantile(0) != h.Min() || h.Quantile(1) != h.Max() {
				t.Errorf("q0 %v q1 %v", h.Quantile(0), h.Quantile(1))
			}
		})
	}
}

func uniform(n int, max time.Duration) []time.Duration {
	r := rand.New(rand.NewPCG(1, 2))
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = time.Duration(r.Int64N(int64(max))) + 1
	}
	return out
}

func TestMergeAndEmpty(t *testing.T) {
	var a, b, empty Histogram
	if empty.Quantile(0.5) != 0 || empty.Mean() != 0 {
		t.Fatal("empty histogram not zero")
	}
	for i := 1; i <= 100; i++ {
		a.Record(time.Duration(i) * time.Microsecond)
		b.Record(time.Duration(i+100) * time.Microsecond)
	}
	a.Merge(&b)
	a.Merge(&empty)
	if a.Count() != 200 || a.Min() != time.Microsecond || a.Max() != 200*time.Microsecond {
		t.Fatalf("merged: count %d min %v max %v", a.Count(), a.Min(), a.Max())
	}
	if m := a.Mean(); m != 100500*time.Nanosecond {
		t.Errorf("mean %v, want 100.5µs", m)
	}
	if p := a.Quantile(0.5); p < 99*time.Microsecond || p > 101*time.Microsecond {
		t.Errorf("median %v, want ≈100µs", p)
	}
	a.Record(-time.Second) // clock oddities count as zero
	if a.Min() != 0 {
		t.Errorf("negative value: min %v", a.Min())
	}
}

func TestSendTime(t *testing.T) {
	p := &pair{ids: idGen{prefix: "abcdefgh"}, body: []byte("x"),
		head: []byte("To-Path: msrp://127.0.0.1:9/abcd;tcp\r\nFrom-Path: msrp://127.0.0.1:8/efgh;tcp\r\n")}
	b := p.appendSend(nil, 123456789*time.Nanosecond)
	// The frame must parse with package msrp and carry the time back.
	f := parseOne(t, b)
	if got, ok := sendTime(f.MessageID); !ok || got != 123456789 {
		t.Errorf("sendTime(%q) = %v, %v", f.MessageID, got, ok)
	}
	for _, bad := range []string{"", "m", "x12.3", "m.5", "mzz!.1"} {
		if _, ok := sendTime(bad); ok {
			t.Errorf("sendTime(%q) accepted", bad)
		}
	}
}
