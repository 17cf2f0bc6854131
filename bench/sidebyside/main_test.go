package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		v    []float64
		want float64
	}{
		{nil, 0},
		{[]float64{3}, 3},
		{[]float64{1, 2, 9}, 2},
		{[]float64{1, 2, 4, 9}, 3},
	} {
		if got := median(tc.v); got != tc.want {
			t.Errorf("median(%v) = %v, want %v", tc.v, got, tc.want)
		}
	}
}

func TestRoundJSON(t *testing.T) {
	for _, tc := range []struct {
		path string
		i, n int
		want string
	}{
		{"", 1, 3, ""},
		{"/tmp/out.json", 1, 1, "/tmp/out.json"},
		{"/tmp/out.json", 2, 3, "/tmp/out-2.json"},
		{"out", 3, 3, "out-3"},
	} {
		if got := roundJSON(tc.path, tc.i, tc.n); got != tc.want {
			t.Errorf("roundJSON(%q, %d, %d) = %q, want %q", tc.path, tc.i, tc.n, got, tc.want)
		}
	}
}

// Three rounds of two MSRP rows and a Parley-only one: the summary keeps
// the first round's order, sorts each row's ratios and leaves the
// Parley-only row without one.
func TestSummarize(t *testing.T) {
	round := func(k1, p1, k2, p2, tls float64) []row {
		return []row{
			{Scenario: "bulk-8k-1hop", Metric: "MB/s", Better: "higher", Kamailio: k1, Parley: p1},
			{Scenario: "half-load-wire", Metric: "wire p99 µs", Better: "lower", Kamailio: k2, Parley: p2},
			{Scenario: "small-2hop-tls", Metric: "msgs/s", Better: "higher", Parley: tls, ParleyOnly: true},
		}
	}
	sums := summarize([][]row{
		round(300, 900, 90000, 9000, 50000),
		round(250, 1000, 100000, 8000, 60000),
		round(320, 960, 80000, 10000, 55000),
	})
	if len(sums) != 3 || sums[0].Scenario != "bulk-8k-1hop" || sums[2].Scenario != "small-2hop-tls" {
		t.Fatalf("summary rows: %+v", sums)
	}
	b := sums[0]
	if got := median(b.Ratios); got != 3 { // 900/300, 1000/250, 960/320 = 3, 4, 3
		t.Errorf("bulk median ratio %v, want 3 (ratios %v)", got, b.Ratios)
	}
	if b.Ratios[0] != 3 || b.Ratios[2] != 4 {
		t.Errorf("bulk ratios not sorted: %v", b.Ratios)
	}
	if median(b.Kamailio) != 300 || median(b.Parley) != 960 {
		t.Errorf("bulk medians %v / %v", median(b.Kamailio), median(b.Parley))
	}
	if tls := sums[2]; len(tls.Ratios) != 0 || len(tls.Kamailio) != 0 || median(tls.Parley) != 55000 {
		t.Errorf("Parley-only row: %+v", tls)
	}
	var out bytes.Buffer
	printSummary(&out, sums)
	for _, want := range []string{"3.00×", "3.00–4.00×", "half-load-wire", "0.10×"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, out.String())
		}
	}
}
