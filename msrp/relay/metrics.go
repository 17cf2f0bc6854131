package relay

import (
	"math"
	"sync/atomic"
	"time"
)

// Metrics is a snapshot of a Server's counters. Totals only grow; the
// *Open and *Live figures are current values.
type Metrics struct {
	Connections     uint64 // accepted or dialed
	ConnectionsOpen int64
	RejectedConns   uint64 // refused by MaxConnsPerAddr or while closing
	Sessions        uint64 // Use-Path URIs handed out
	SessionsLive    int64
	AuthOK          uint64
	AuthFailures    uint64 // AUTH with wrong or unusable credentials
	FramesIn        uint64 // frames read
	FramesOut       uint64 // frames written (forwarded or generated)
	BytesIn         uint64 // octets read from sockets
	BytesOut        uint64 // octets written to sockets
	Writes          uint64 // socket writes: BytesOut/Writes is the coalescing achieved
	Forwarded       uint64 // requests forwarded
	Rejected        uint64 // requests refused (4xx)
	Timeouts        uint64 // 408s generated for silent next hops
	Reports         uint64 // failure REPORTs generated
	// ForwardLatency is the time forwarded requests spent inside the
	// relay, from the head parsed to the last byte handed to the next
	// hop's socket (each SEND chunk counts on its own).
	ForwardLatency Histogram
}

type counters struct {
	conns, rejectedConns, sessions                       atomic.Uint64
	connsOpen, sessionsLive                              atomic.Int64
	authOK, authFail, framesIn, framesOut, bytesIn       atomic.Uint64
	bytesOut, forwarded, rejected, timeouts, reportsSent atomic.Uint64
	writes                                               atomic.Uint64
	lat                                                  latencyHist
}

// connStats are the per-frame counters, kept per connection so that
// readers on different cores do not share cache lines; they are summed
// by Metrics and folded into the Server's totals when a connection ends.
type connStats struct {
	framesIn, framesOut, bytesIn, bytesOut, forwarded atomic.Uint64
	writes                                            atomic.Uint64
	lat                                               atomic.Pointer[latencyHist] // set on the first forwarded request
}

func (cs *connStats) addTo(m *counters) {
	m.framesIn.Add(cs.framesIn.Load())
	m.framesOut.Add(cs.framesOut.Load())
	m.bytesIn.Add(cs.bytesIn.Load())
	m.bytesOut.Add(cs.bytesOut.Load())
	m.writes.Add(cs.writes.Load())
	m.forwarded.Add(cs.forwarded.Load())
	if h := cs.lat.Load(); h != nil {
		h.addTo(&m.lat)
	}
}

// Metrics returns the current counters.
func (s *Server) Metrics() Metrics {
	var live counters
	s.mu.RLock()
	for c := range s.conns {
		c.stats.addTo(&live)
	}
	s.mu.RUnlock()
	m := &s.metrics
	m.lat.addTo(&live.lat)
	return Metrics{
		Connections:     m.conns.Load(),
		ConnectionsOpen: m.connsOpen.Load(),
		RejectedConns:   m.rejectedConns.Load(),
		Sessions:        m.sessions.Load(),
		SessionsLive:    m.sessionsLive.Load(),
		AuthOK:          m.authOK.Load(),
		AuthFailures:    m.authFail.Load(),
		FramesIn:        m.framesIn.Load() + live.framesIn.Load(),
		FramesOut:       m.framesOut.Load() + live.framesOut.Load(),
		BytesIn:         m.bytesIn.Load() + live.bytesIn.Load(),
		BytesOut:        m.bytesOut.Load() + live.bytesOut.Load(),
		Writes:          m.writes.Load() + live.writes.Load(),
		Forwarded:       m.forwarded.Load() + live.forwarded.Load(),
		Rejected:        m.rejected.Load(),
		Timeouts:        m.timeouts.Load(),
		Reports:         m.reportsSent.Load(),
		ForwardLatency:  live.lat.snapshot(),
	}
}

// Histogram is a snapshot of a latency distribution.
type Histogram struct {
	Bounds []time.Duration // upper bounds of the buckets, ascending; a last implicit +Inf bucket
	Counts []uint64        // len(Bounds)+1, NON-cumulative counts per bucket
	Count  uint64
	Sum    time.Duration
}

// Quantile returns the upper bound of the bucket holding quantile q
// (0 ≤ q ≤ 1), or 0 for an empty histogram. A quantile that falls in the
// +Inf bucket reports the largest finite bound, as Prometheus'
// histogram_quantile does.
func (h Histogram) Quantile(q float64) time.Duration {
	var total uint64
	for _, n := range h.Counts {
		total += n
	}
	if total == 0 || len(h.Bounds) == 0 {
		return 0
	}
	q = min(max(q, 0), 1)
	rank := max(uint64(math.Ceil(q*float64(total))), 1)
	var cum uint64
	for i, n := range h.Counts {
		cum += n
		if cum >= rank && i < len(h.Bounds) {
			return h.Bounds[i]
		}
	}
	return h.Bounds[len(h.Bounds)-1]
}

// latencyBounds are the ForwardLatency buckets: 1-2-5 steps from 10 µs to
// 10 s.
var latencyBounds = [...]time.Duration{
	10 * time.Microsecond, 20 * time.Microsecond, 50 * time.Microsecond,
	100 * time.Microsecond, 200 * time.Microsecond, 500 * time.Microsecond,
	time.Millisecond, 2 * time.Millisecond, 5 * time.Millisecond,
	10 * time.Millisecond, 20 * time.Millisecond, 50 * time.Millisecond,
	100 * time.Millisecond, 200 * time.Millisecond, 500 * time.Millisecond,
	time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second,
}

// latencyHist is a fixed-bucket histogram with atomic counters, one per
// connection (written by its reader only, read by Metrics), so the hot
// path takes no lock and allocates nothing.
type latencyHist struct {
	counts [len(latencyBounds) + 1]atomic.Uint64
	sum    atomic.Int64 // nanoseconds
}

func (h *latencyHist) observe(d time.Duration) {
	i := 0
	for i < len(latencyBounds) && d > latencyBounds[i] {
		i++
	}
	h.counts[i].Add(1)
	h.sum.Add(int64(d))
}

func (h *latencyHist) addTo(o *latencyHist) {
	for i := range h.counts {
		if n := h.counts[i].Load(); n != 0 {
			o.counts[i].Add(n)
		}
	}
	o.sum.Add(h.sum.Load())
}

func (h *latencyHist) snapshot() Histogram {
	out := Histogram{Bounds: latencyBounds[:], Counts: make([]uint64, len(h.counts)), Sum: time.Duration(h.sum.Load())}
	for i := range h.counts {
		out.Counts[i] = h.counts[i].Load()
		out.Count += out.Counts[i]
	}
	return out
}

// epoch anchors monoNow: time.Since reads the monotonic clock.
var epoch = time.Now()

// monoNow returns monotonic nanoseconds since epoch.
func monoNow() int64 { return int64(time.Since(epoch)) }
