package relay

import "sync/atomic"

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
	Forwarded       uint64 // requests forwarded
	Rejected        uint64 // requests refused (4xx)
	Timeouts        uint64 // 408s generated for silent next hops
	Reports         uint64 // failure REPORTs generated
}

type counters struct {
	conns, rejectedConns, sessions                       atomic.Uint64
	connsOpen, sessionsLive                              atomic.Int64
	authOK, authFail, framesIn, framesOut, bytesIn       atomic.Uint64
	bytesOut, forwarded, rejected, timeouts, reportsSent atomic.Uint64
}

// connStats are the per-frame counters, kept per connection so that
// readers on different cores do not share cache lines; they are summed
// by Metrics and folded into the Server's totals when a connection ends.
type connStats struct {
	framesIn, framesOut, bytesIn, bytesOut, forwarded atomic.Uint64
}

func (cs *connStats) addTo(m *counters) {
	m.framesIn.Add(cs.framesIn.Load())
	m.framesOut.Add(cs.framesOut.Load())
	m.bytesIn.Add(cs.bytesIn.Load())
	m.bytesOut.Add(cs.bytesOut.Load())
	m.forwarded.Add(cs.forwarded.Load())
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
		Forwarded:       m.forwarded.Load() + live.forwarded.Load(),
		Rejected:        m.rejected.Load(),
		Timeouts:        m.timeouts.Load(),
		Reports:         m.reportsSent.Load(),
	}
}
