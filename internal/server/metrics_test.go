package server

import (
	"bufio"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parley-im/parley/msrp/relay"
)

func TestWriteHistogram(t *testing.T) {
	for _, c := range []struct {
		name string
		h    relay.Histogram
		want string
	}{
		{"empty", relay.Histogram{}, `# HELP x_seconds help
# TYPE x_seconds histogram
x_seconds_bucket{le="+Inf"} 0
x_seconds_sum 0
x_seconds_count 0
`},
		{"cumulative", relay.Histogram{
			Bounds: []time.Duration{10 * time.Microsecond, time.Millisecond, 2 * time.Second},
			Counts: []uint64{1, 0, 3, 2}, Count: 6, Sum: 4500 * time.Millisecond,
		}, `# HELP x_seconds help
# TYPE x_seconds histogram
x_seconds_bucket{le="1e-05"} 1
x_seconds_bucket{le="0.001"} 1
x_seconds_bucket{le="2"} 4
x_seconds_bucket{le="+Inf"} 6
x_seconds_sum 4.5
x_seconds_count 6
`},
	} {
		t.Run(c.name, func(t *testing.T) {
			var b strings.Builder
			writeHistogram(&b, "x_seconds", "help", c.h)
			if b.String() != c.want {
				t.Errorf("got\n%s\nwant\n%s", b.String(), c.want)
			}
		})
	}
}

func TestMergeHistograms(t *testing.T) {
	bounds := []time.Duration{time.Millisecond, time.Second}
	a := relay.Histogram{Bounds: bounds, Counts: []uint64{1, 2, 3}, Count: 6, Sum: time.Second}
	b := relay.Histogram{Bounds: bounds, Counts: []uint64{0, 1, 0}, Count: 1, Sum: time.Millisecond}
	m := mergeHistograms(mergeHistograms(relay.Histogram{}, a), b)
	if m.Count != 7 || m.Sum != time.Second+time.Millisecond || m.Counts[1] != 3 {
		t.Errorf("merged %+v", m)
	}
	if a.Counts[1] != 2 {
		t.Error("merging changed its first argument's source")
	}
	other := relay.Histogram{Bounds: []time.Duration{time.Minute}, Counts: []uint64{5, 5}, Count: 10}
	if got := mergeHistograms(m, other); got.Count != 7 {
		t.Errorf("a histogram with other bounds was mixed in: %+v", got)
	}
}

// checkHistogram parses the Prometheus histogram name in the text
// exposition body: bucket bounds ascending and ending with +Inf, counts
// non-decreasing, +Inf equal to _count. It returns _count.
func checkHistogram(t *testing.T, body, name string) uint64 {
	t.Helper()
	var (
		les    []float64
		counts []uint64
		count  = int64(-1)
		sum    = -1.0
		typed  bool
	)
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "# TYPE "+name+" histogram":
			typed = true
		case strings.HasPrefix(line, name+"_bucket{le=\""):
			rest := strings.TrimPrefix(line, name+"_bucket{le=\"")
			le, v, ok := strings.Cut(rest, "\"} ")
			if !ok {
				t.Fatalf("bad bucket line %q", line)
			}
			f, err := strconv.ParseFloat(le, 64) // accepts "+Inf"
			if err != nil {
				t.Fatalf("bucket line %q: %v", line, err)
			}
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				t.Fatalf("bucket line %q: %v", line, err)
			}
			les, counts = append(les, f), append(counts, n)
		case strings.HasPrefix(line, name+"_count "):
			n, err := strconv.ParseInt(strings.TrimPrefix(line, name+"_count "), 10, 64)
			if err != nil {
				t.Fatalf("%q: %v", line, err)
			}
			count = n
		case strings.HasPrefix(line, name+"_sum "):
			f, err := strconv.ParseFloat(strings.TrimPrefix(line, name+"_sum "), 64)
			if err != nil {
				t.Fatalf("%q: %v", line, err)
			}
			sum = f
		}
	}
	if !typed || len(les) == 0 || count < 0 || sum < 0 {
		t.Fatalf("histogram %s missing or incomplete (TYPE %v, %d buckets, count %d, sum %g):\n%s", name, typed, len(les), count, sum, body)
	}
	for i := 1; i < len(les); i++ {
		if les[i] <= les[i-1] {
			t.Errorf("%s: bucket bounds not ascending: %v", name, les)
		}
		if counts[i] < counts[i-1] {
			t.Errorf("%s: bucket counts decrease: %v", name, counts)
		}
	}
	if last := les[len(les)-1]; !(last > 1e308) {
		t.Errorf("%s: last bucket is le=%g, want +Inf", name, last)
	}
	if counts[len(counts)-1] != uint64(count) {
		t.Errorf("%s: +Inf bucket %d != _count %d", name, counts[len(counts)-1], count)
	}
	if count > 0 && sum <= 0 {
		t.Errorf("%s: _count %d with _sum %g", name, count, sum)
	}
	return uint64(count)
}
