package msrp

import (
	"runtime"
	"testing"

	"github.com/parley-im/parley/session"
)

func liveHeap() uint64 {
	var ms runtime.MemStats
	for range 2 {
		runtime.GC()
	}
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// TestEndedSessionsRetainLittle: an application that keeps ended sessions
// (a chat history), or the connections they ran on, does not keep each
// connection's 64 KiB read buffer and write scratch alive (FINDINGS F9):
// 300 of them stay within 16 KiB each, where the buffers alone take
// more than 64 KiB.
func TestEndedSessionsRetainLittle(t *testing.T) {
	const n = 300
	const perItem = 16 << 10
	b := newTestEndpoint(t, Config{}, true)
	// ended opens a session on its own connection, has the peer close it,
	// and returns the ended session and its connection once both are done.
	ended := func() (*Session, *Conn) {
		p, s := newRawPassive(t, b, session.Options{})
		c := s.Conn()
		p.nc.Close()
		<-s.Done()
		<-c.Done()
		s.Close()
		if s.Conn() != nil {
			t.Fatal("an ended session still returns its connection")
		}
		return s, c
	}
	ended() // warm up
	for _, keep := range []string{"sessions", "conns"} {
		t.Run(keep, func(t *testing.T) {
			h0 := liveHeap()
			var sessions []*Session
			var conns []*Conn
			for range n {
				s, c := ended()
				if keep == "sessions" {
					sessions = append(sessions, s)
				} else {
					conns = append(conns, c)
				}
			}
			h1 := liveHeap()
			grew := int64(h1) - int64(h0)
			t.Logf("%d ended %s retain %d octets (%d each)", n, keep, grew, grew/n)
			if grew > n*perItem {
				t.Errorf("%d ended %s retain %d octets, over %d each", n, keep, grew, perItem)
			}
			runtime.KeepAlive(sessions)
			runtime.KeepAlive(conns)
		})
	}
}
