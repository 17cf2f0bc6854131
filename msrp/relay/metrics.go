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

// Metrics returns the current counters.
func (s *Server) Metrics() Metrics {
	m := &s.metrics
	return Metrics{
		Connections:     m.conns.Load(),
		ConnectionsOpen: m.connsOpen.Load(),
		RejectedConns:   m.rejectedConns.Load(),
		Sessions:        m.sessions.Load(),
		SessionsLive:    m.sessionsLive.Load(),
		AuthOK:          m.authOK.Load(),
		AuthFailures:    m.authFail.Load(),
		FramesIn:        m.framesIn.Load(),
		FramesOut:       m.framesOut.Load(),
		BytesIn:         m.bytesIn.Load(),
		BytesOut:        m.bytesOut.Load(),
		Forwarded:       m.forwarded.Load(),
		Rejected:        m.rejected.Load(),
		Timeouts:        m.timeouts.Load(),
		Reports:         m.reportsSent.Load(),
	}
}
