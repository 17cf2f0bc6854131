package sipserver

import (
	"io"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestSlowlorisTCP (FINDINGS F8): a connection that drips a message head a
// byte at a time, and one that sends nothing, are closed once IdleTimeout
// has passed without a complete head, and their goroutines return; a
// connection that keeps sending complete requests stays open.
func TestSlowlorisTCP(t *testing.T) {
	const idle = 400 * time.Millisecond
	s := newTestServer(t, nil, Config{IdleTimeout: idle}, "bob")
	addr := s.Addr("tcp")
	g0 := runtime.NumGoroutine()

	drip, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer drip.Close()
	silent, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	closed := func(c net.Conn) <-chan time.Duration {
		ch := make(chan time.Duration, 1)
		start := time.Now()
		go func() {
			io.Copy(io.Discard, c)
			ch <- time.Since(start)
		}()
		return ch
	}
	dripDone, silentDone := closed(drip), closed(silent)
	head := "MESSAGE sip:bob@" + domain + " SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:1;branch=z9hG4bK-slow\r\n"
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(5 * time.Second)
	for i := 0; ; i++ {
		select {
		case d := <-dripDone:
			if d < idle/2 {
				t.Errorf("dripping connection closed after %v, before the idle timeout %v", d, idle)
			}
			select {
			case <-silentDone:
			case <-time.After(2 * time.Second):
				t.Error("silent connection still open")
			}
			if got := settleGoroutines(g0); got > g0 {
				t.Errorf("goroutines: %d before, %d after the slow connections closed", g0, got)
			}
			return
		case <-deadline:
			t.Fatal("dripping connection still open 5 s after the idle timeout of 400 ms")
		case <-tick.C:
			drip.Write([]byte{head[i%len(head)]})
		}
	}
}

// TestIdleTimeoutRefreshed: complete keep-alives (RFC 5626 double CRLF)
// push the idle deadline back.
func TestIdleTimeoutRefreshed(t *testing.T) {
	const idle = 300 * time.Millisecond
	s := newTestServer(t, nil, Config{IdleTimeout: idle})
	c, err := net.Dial("tcp", s.Addr("tcp"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for range 8 { // 8 × 100 ms = 800 ms > idle
		if _, err := c.Write([]byte("\r\n\r\n")); err != nil {
			t.Fatalf("keep-alive write: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	var b [64]byte
	if _, err := c.Read(b[:]); err == nil || !isTimeout(err) {
		// The server answers keep-alives with a single CRLF (pong) or
		// nothing; either way the connection must still be open.
		if err != nil {
			t.Fatalf("connection with keep-alives was closed: %v", err)
		}
	}
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

// TestMaxConnsPerIP (F8): connections beyond the per-IP cap are closed at
// once, and a slot frees when a connection closes.
func TestMaxConnsPerIP(t *testing.T) {
	s := newTestServer(t, nil, Config{MaxConnsPerIP: 2})
	addr := s.Addr("tcp")
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	dial := func() net.Conn {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		return c
	}
	open := func(c net.Conn) bool {
		c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		var b [1]byte
		_, err := c.Read(b[:])
		return isTimeout(err)
	}
	a, b := dial(), dial()
	if !open(a) || !open(b) {
		t.Fatal("connections within the cap were closed")
	}
	if third := dial(); open(third) {
		t.Fatal("a third connection from the same IP was kept with MaxConnsPerIP 2")
	}
	a.Close()
	time.Sleep(100 * time.Millisecond) // the server notices the close
	if fourth := dial(); !open(fourth) {
		t.Fatal("no slot freed after a connection closed")
	}
}

func TestSawHeadEnd(t *testing.T) {
	msg := "OPTIONS sip:x SIP/2.0\r\nVia: a\r\n\r\n"
	for _, size := range []int{1, 2, 3, 4, 5, 7, len(msg)} {
		c := &limitConn{}
		n := 0
		for i := 0; i < len(msg); i += size {
			if c.sawHeadEnd([]byte(msg[i:min(i+size, len(msg))])) {
				n++
			}
		}
		if n != 1 {
			t.Errorf("chunks of %d: head end seen %d times, want 1", size, n)
		}
	}
	c := &limitConn{}
	if c.sawHeadEnd([]byte(strings.Repeat("a\r\n", 50))) {
		t.Error("single CRLFs taken for a head end")
	}
}

// settleGoroutines waits for the goroutine count to fall to want and
// returns it.
func settleGoroutines(want int) int {
	var n int
	for range 50 {
		if n = runtime.NumGoroutine(); n <= want {
			return n
		}
		time.Sleep(50 * time.Millisecond)
	}
	return n
}
