package loadgen

import (
	"math"
	"math/bits"
	"time"
)

// Histogram records durations in a log-linear layout in the style of
// HdrHistogram: values below 2^subBits nanoseconds are exact, above that
// each power of two is split into 2^(subBits-1) equal buckets, so any
// recorded value is reported within 1/2^(subBits-1) (about 1.6 %) of its
// true value. It is fixed-size (about 28 KiB), allocation-free when
// recording and not safe for concurrent use: each goroutine records into
// its own and Merge combines them.
type Histogram struct {
	counts   [nBuckets]uint64
	n        uint64
	sum      float64
	min, max int64
}

const (
	subBits  = 7                // 128 exact values, then 64 buckets per octave
	subCount = 1 << subBits     // values below this are exact
	half     = subCount / 2     // buckets per octave above subCount
	octaves  = 63 - subBits + 1 // enough for any positive int64
	nBuckets = subCount + octaves*half
)

// bucketOf returns the bucket index of v ≥ 0.
func bucketOf(v int64) int {
	if v < subCount {
		return int(v)
	}
	// e ≥ 1 is how far v must be shifted for its top bits to fall in
	// [half, subCount).
	e := bits.Len64(uint64(v)) - subBits
	return subCount + (e-1)*half + int(v>>e) - half
}

// bucketRange returns the smallest and largest value of bucket i.
func bucketRange(i int) (lo, hi int64) {
	if i < subCount {
		return int64(i), int64(i)
	}
	j := i - subCount
	e := j/half + 1
	m := int64(j%half + half)
	lo = m << e
	hi = lo + (int64(1) << e) - 1
	return lo, hi
}

// Record adds one observation; negative durations count as zero.
func (h *Histogram) Record(d time.Duration) {
	v := int64(d)
	if v < 0 {
		v = 0
	}
	h.counts[bucketOf(v)]++
	if h.n == 0 || v < h.min {
		h.min = v
	}
	if v > h.max {
		h.max = v
	}
	h.n++
	h.sum += float64(v)
}

// Merge adds every observation of o to h.
func (h *Histogram) Merge(o *Histogram) {
	if o.n == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	if o.max > h.max {
		h.max = o.max
	}
	h.n += o.n
	h.sum += o.sum
}

// Count returns the number of observations.
func (h *Histogram) Count() uint64 { return h.n }

// Min and Max return the exact extremes (0 when empty).
func (h *Histogram) Min() time.Duration { return time.Duration(h.min) }

// Max returns the largest observation.
func (h *Histogram) Max() time.Duration { return time.Duration(h.max) }

// Mean returns the exact mean (0 when empty).
func (h *Histogram) Mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return time.Duration(math.Round(h.sum / float64(h.n)))
}

// Quantile returns the value at quantile q in [0, 1] by the nearest-rank
// method: the smallest recorded value v such that at least q·Count
// observations are ≤ v, reported as the midpoint of v's bucket and clamped
// to [Min, Max]. It returns 0 for an empty histogram.
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	if q <= 0 {
		return time.Duration(h.min)
	}
	if q >= 1 {
		return time.Duration(h.max)
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	if rank < 1 {
		rank = 1
	}
	var cum uint64
	for i, c := range h.counts {
		cum += c
		if cum >= rank {
			lo, hi := bucketRange(i)
			v := lo + (hi-lo)/2
			v = max(v, h.min)
			v = min(v, h.max)
			return time.Duration(v)
		}
	}
	return time.Duration(h.max)
}
