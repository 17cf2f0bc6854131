package relay

import (
	"bufio"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/parley-im/parley/msrp"
)

// TestReleaseAfterAuth: a connection lets go of its read and write
// buffers as soon as its AUTH has succeeded, without waiting for the
// sweeper (disabled here), and goes on working.
func TestReleaseAfterAuth(t *testing.T) {
	s, _ := startRelay(t, Config{IdleRelease: -1})
	a, b, ra, rb := pairRaw(t, s)
	conns := func() []*conn {
		s.mu.RLock()
		defer s.mu.RUnlock()
		var out []*conn
		for c := range s.conns {
			out = append(out, c)
		}
		return out
	}
	held := func() (readers, wbufs int) {
		for _, c := range conns() {
			if c.hasReader.Load() {
				readers++
			}
			c.wmu.Lock()
			if c.wbuf != nil {
				wbufs++
			}
			c.wmu.Unlock()
		}
		return
	}
	deadline := time.Now().Add(5 * time.Second)
	for r, w := held(); r != 0 || w != 0; r, w = held() {
		if time.Now().After(deadline) {
			t.Fatalf("after AUTH: %d readers, %d write buffers held", r, w)
		}
		time.Sleep(5 * time.Millisecond)
	}
	// Traffic takes a Reader and a write buffer again; the next hop's
	// buffer grows past the small one for a large chunk.
	body := make([]byte, 20000)
	for i := range body {
		body[i] = 'a' + byte(i%26)
	}
	a.write(send([]msrp.URI{ra, rb, b.self}, a.self, "after-auth", string(body)), body)
	if _, got := b.read(); string(got) != string(body) {
		t.Fatalf("%d octets", len(got))
	}
	if f, _ := a.read(); f.StatusCode != 200 {
		t.Fatal(f.StatusCode)
	}
}

// TestWriteBufferClasses: a connection's write buffer starts small and is
// upgraded to a 64 KiB one, keeping what it holds, when it needs room.
func TestWriteBufferClasses(t *testing.T) {
	var c conn
	c.wmu.Lock()
	defer c.wmu.Unlock()
	b := c.wb()
	if cap(b) != wbufSmall {
		t.Fatalf("first buffer %d", cap(b))
	}
	c.wbuf = append(b, "head"...)
	b = c.wbFor(wbufSmall)
	if cap(b) < wbufSize || string(b) != "head" {
		t.Fatalf("upgraded buffer cap %d %q", cap(b), b)
	}
	c.wbuf = c.wbuf[:0]
	c.releaseBuf()
	if c.wbuf != nil {
		t.Fatal("not released")
	}
}

// TestSessionsDieWithConnection: a connection's URLs are dropped with it
// (RFC 4976 §6.3), from its own list, leaving other connections' alone;
// an expired URL leaves the list so that it no longer counts toward
// MaxSessionsPerConn.
func TestSessionsDieWithConnection(t *testing.T) {
	now := time.Now()
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	s, _ := startRelay(t, Config{MaxSessionsPerConn: 2, IdleRelease: 20 * time.Millisecond, Now: clock})
	a, b := dialRaw(t, s), dialRaw(t, s)
	ra1 := a.auth(s, "alice")
	// An Expires of 60 s for the first, the default 3600 s for the second.
	f := authWith(t, a, s, "alice", "alice-pw", "60")
	if f.StatusCode != 200 {
		t.Fatal(f.StatusCode)
	}
	rb := b.auth(s, "bob")
	if m := s.Metrics(); m.SessionsLive != 3 {
		t.Fatalf("live %d", m.SessionsLive)
	}
	mu.Lock()
	now = now.Add(120 * time.Second)
	mu.Unlock()
	for deadline := time.Now().Add(5 * time.Second); s.Metrics().SessionsLive != 2; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("expired session still live: %d", s.Metrics().SessionsLive)
		}
	}
	// Room again for a second URL on a.
	a.auth(s, "alice")
	a.nc.Close()
	for deadline := time.Now().Add(5 * time.Second); s.Metrics().SessionsLive != 1; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("live %d after close", s.Metrics().SessionsLive)
		}
	}
	if s.grantFor(ra1.SessionID) != nil || s.grantFor(rb.SessionID) == nil {
		t.Fatal("wrong sessions dropped")
	}
}

// TestAuthAllocation: a connection's AUTHs do not allocate a 64 KiB read
// buffer each (the relay's Reader starts small and gives its buffer back
// to a pool when the connection goes idle), so a burst of new sessions
// does not leave the heap, and the process's RSS, twice its live size.
func TestAuthAllocation(t *testing.T) {
	s, _ := startRelay(t, Config{MaxConnsPerAddr: -1})
	const n = 40
	var clients []net.Conn
	var ms0, ms1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms0)
	for range n {
		nc, err := net.Dial("tcp", s.URI().HostPort())
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, nc)
		self := msrp.URI{Host: "127.0.0.1", Port: nc.LocalAddr().(*net.TCPAddr).Port, SessionID: msrp.NewSessionID(), Transport: "tcp"}
		rt := &connRT{r: msrp.NewReaderSize(nc, msrp.Limits{}, msrp.MinReaderBuffer), w: bufio.NewWriterSize(nc, 512)}
		if _, err := authenticate(rt, s, "alice", self); err != nil {
			t.Fatal(err)
		}
		rt.r.Release()
		waitReleased(t, s)
	}
	runtime.ReadMemStats(&ms1)
	per := float64(ms1.TotalAlloc-ms0.TotalAlloc) / n
	t.Logf("%.0f B allocated per connection and AUTH (both ends)", per)
	if per > 32<<10 {
		t.Errorf("%.0f B allocated per connection and AUTH, want ≤ 32 KiB (no 64 KiB read buffer)", per)
	}
	for _, nc := range clients {
		nc.Close()
	}
}

// waitReleased waits until no connection of s holds a read buffer.
func waitReleased(t *testing.T, s *Server) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; {
		held := 0
		s.mu.RLock()
		for c := range s.conns {
			if c.hasReader.Load() {
				held++
			}
		}
		s.mu.RUnlock()
		if held == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d connections hold a read buffer", held)
		}
		time.Sleep(time.Millisecond)
	}
}
