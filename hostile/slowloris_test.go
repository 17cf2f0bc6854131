package hostile

import (
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/parley-im/parley/cpimtransport"
	"github.com/parley-im/parley/internal/server"
	"github.com/parley-im/parley/msrp"
	"github.com/parley-im/parley/msrp/relay"
)

// drip opens n connections to addr that each send one byte of prefix every
// interval and never finish a frame, and returns a channel that yields
// each connection's lifetime once the other side has closed it (or
// limit if it never did).
func drip(t *testing.T, addr string, n int, prefix string, interval, limit time.Duration) <-chan time.Duration {
	t.Helper()
	out := make(chan time.Duration, n)
	for range n {
		nc, err := net.DialTimeout("tcp", addr, reactionTimeout)
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			defer nc.Close()
			start := time.Now()
			closed := make(chan struct{})
			go func() {
				var b [512]byte
				for {
					if _, err := nc.Read(b[:]); err != nil {
						close(closed)
						return
					}
				}
			}()
			tick := time.NewTicker(interval)
			defer tick.Stop()
			for i := 0; ; i++ {
				select {
				case <-closed:
					out <- time.Since(start)
					return
				case <-tick.C:
					if time.Since(start) > limit {
						nc.Close()
						<-closed
						out <- limit
						return
					}
					nc.SetWriteDeadline(time.Now().Add(time.Second))
					nc.Write([]byte{prefix[i%len(prefix)]})
				}
			}
		}()
	}
	return out
}

// checkDripClosed waits for n drip connections and requires each to have
// been closed by the server within max.
func checkDripClosed(t *testing.T, ch <-chan time.Duration, n int, max time.Duration) {
	t.Helper()
	for range n {
		if d := <-ch; d >= max {
			t.Errorf("a slow connection was still open after %v", d)
		}
	}
}

const slowPrefix = "MSRP hx1234ab SEND\r\nTo-Path: msrp://127.0.0.1:1/abcd;tcp\r\n"

// TestSlowlorisMSRPEndpoint: connections that trickle a frame head one
// byte at a time, never binding a session, are closed by the endpoint's
// IdleTimeout, and their goroutines go away.
func TestSlowlorisMSRPEndpoint(t *testing.T) {
	ep, addr := newEndpoint(t, msrp.Config{IdleTimeout: time.Second})
	g0 := runtime.NumGoroutine()
	const n = 8
	ch := drip(t, addr, n, slowPrefix, 200*time.Millisecond, 8*time.Second)
	checkDripClosed(t, ch, n, 8*time.Second)
	// The endpoint still serves sessions.
	rs := openRawSession(t, ep, addr, answerOpts)
	if err := probe(rs.peer, []msrp.URI{rs.to}); err != nil {
		t.Fatal(err)
	}
	rs.sess.Close()
	rs.peer.close()
	if got := settleGoroutines(g0 + 1); got > g0+1 {
		t.Errorf("goroutines: %d before, %d after the slow connections closed", g0, got)
	}
}

// TestSlowlorisRelay: the relay's probation timer (RFC 4976 §6.1) closes
// connections that have made no successful request.
func TestSlowlorisRelay(t *testing.T) {
	s := startRelay(t, relay.Config{ProbationTimeout: time.Second})
	g0 := runtime.NumGoroutine()
	const n = 8
	ch := drip(t, s.URI().HostPort(), n, slowPrefix, 200*time.Millisecond, 8*time.Second)
	checkDripClosed(t, ch, n, 8*time.Second)
	alice := authClient(t, s, "alice")
	p := dialPeer(t, s.URI().HostPort())
	if err := probe(p, alice.path()); err != nil {
		t.Fatal(err)
	}
	p.close()
	if got := settleGoroutines(g0 + 4); got > g0+4 {
		t.Errorf("goroutines: %d before, %d after the slow connections closed", g0, got)
	}
}

// TestSlowlorisSeed: the seed endpoint closes accepted connections that
// carry no session after IdleTimeout, trickle or not.
func TestSlowlorisSeed(t *testing.T) {
	_, addr := newSeedEndpoint(t, cpimtransport.Config{IdleTimeout: time.Second})
	g0 := runtime.NumGoroutine()
	const n = 8
	ch := drip(t, addr, n, "Content-Type: message/cpim\r\nContent-Length: 10", 200*time.Millisecond, 8*time.Second)
	checkDripClosed(t, ch, n, 8*time.Second)
	if got := settleGoroutines(g0); got > g0 {
		t.Errorf("goroutines: %d before, %d after the slow connections closed", g0, got)
	}
}

// TestSlowConnectionsSIPServer (FINDINGS.md F8, fixed): SIP over TCP
// closes connections that drip a message head once the idle timeout
// passes without a complete head, keeps answering others meanwhile, and
// the connections' goroutines go away.
func TestSlowConnectionsSIPServer(t *testing.T) {
	s := startServerWith(t, func(c *server.Config) { c.SIPIdleTimeout = 500 * time.Millisecond })
	addr := sipAddr(s, "tcp")
	g0 := runtime.NumGoroutine()
	const n = 8
	ch := drip(t, addr, n, "MESSAGE sip:bob@localhost SIP/2.0\r\nVia: ", 200*time.Millisecond, 3*time.Second)
	sc := dialSIP(t, addr)
	sc.nc.Write([]byte(sipProbe("slow")))
	if code, err := sc.final(reactionTimeout); err != nil || code != 200 {
		t.Fatalf("server does not answer while slow connections are open: %d %v", code, err)
	}
	sc.nc.Close()
	checkDripClosed(t, ch, n, 3*time.Second)
	if got := settleGoroutines(g0 + 2); got > g0+2 {
		t.Errorf("goroutines: %d before, %d after the slow connections closed", g0, got)
	}
}
