package relay

import (
	"testing"
	"time"

	"github.com/parley-im/parley/msrp"
)

// TestWriteFailureInsideRead: a reader flushes what it owes inside its
// raw socket read (sockRead); when that write fails, the connection must
// still close. Closing a net.Conn waits for the reads in progress on it,
// so a synchronous close from there waited for itself forever and the
// connection was never released (conn.close).
func TestWriteFailureInsideRead(t *testing.T) {
	s, _ := startRelay(t, Config{})
	a, b, ra, rb := pairRaw(t, s)
	// The relay's side of a's connection: make its next write fail at
	// once (deadline in the past, and the cached deadline far ahead so
	// that armWrite leaves it).
	var ac *conn
	for deadline := time.Now().Add(5 * time.Second); ac == nil; {
		s.mu.RLock()
		for c := range s.conns {
			if c.nc.RemoteAddr().String() == a.nc.LocalAddr().String() {
				ac = c
			}
		}
		s.mu.RUnlock()
		if ac == nil {
			if time.Now().After(deadline) {
				t.Fatal("the relay has no connection for a")
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	ac.wmu.Lock()
	ac.wdeadline = time.Now().Add(time.Hour)
	ac.nc.SetWriteDeadline(time.Unix(1, 0))
	ac.wmu.Unlock()
	if ac.raw == nil {
		t.Fatal("plain TCP connection without raw reads: the test would not reach sockRead's flush")
	}
	open := s.Metrics().ConnectionsOpen
	// The SEND is forwarded to b, its 200 queued for a; the reader then
	// finds a's socket empty and flushes inside the read: a's write fails.
	a.write(send([]msrp.URI{ra, rb, b.self}, a.self, "msg1", "hello"), []byte("hello"))
	if f, _ := b.read(); f.MessageID != "msg1" {
		t.Fatalf("b got %q", f.MessageID)
	}
	if _, _, err := a.tryRead(5 * time.Second); err == nil || err == errReadTimeout {
		t.Fatalf("a's connection not closed after the relay's write to it failed: %v", err)
	}
	for deadline := time.Now().Add(5 * time.Second); s.Metrics().ConnectionsOpen != open-1; {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections open, want %d: the reader of a never ended", s.Metrics().ConnectionsOpen, open-1)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
