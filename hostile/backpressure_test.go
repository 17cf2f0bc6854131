package hostile

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/parley-im/parley/cpimtransport"
	"github.com/parley-im/parley/messagesdp"
	"github.com/parley-im/parley/msrp"
	"github.com/parley-im/parley/msrp/relay"
	"github.com/parley-im/parley/session"
)

// floodMax is the number of requests after which a peer that never reads
// must have been back-pressured: their responses (≥ 150 octets each) are
// far more than loopback socket buffers hold.
const floodMax = 200000

// flood writes frames produced by next to nc, never reading, until a
// write blocks for 2 s, floodMax frames are written or d passes. It
// returns how many were written and whether a write blocked.
func flood(nc net.Conn, d time.Duration, next func(i int) []byte) (n int, blocked bool) {
	start := time.Now()
	for n = 0; n < floodMax && time.Since(start) < d; n++ {
		nc.SetWriteDeadline(time.Now().Add(2 * time.Second))
		if _, err := nc.Write(next(n)); err != nil {
			return n, true
		}
	}
	return n, false
}

// TestNeverReadingPeerRelay: a peer that floods SENDs toward a client's
// URL and never reads the relay's 200s is back-pressured (its writes
// block) and costs the relay bounded memory.
func TestNeverReadingPeerRelay(t *testing.T) {
	s := startRelay(t, relay.Config{WriteTimeout: 2 * time.Second})
	alice := authClient(t, s, "alice")
	alice.noKeep.Store(true)
	p := dialPeer(t, s.URI().HostPort())
	close(p.done) // never read
	h0 := heapAlloc()
	var buf []byte
	n, blocked := flood(p.nc, 15*time.Second, func(i int) []byte {
		f := &msrp.Frame{TID: fmt.Sprintf("fl%08d", i), Method: msrp.MethodSEND, ToPath: alice.path(),
			FromPath: []msrp.URI{p.self}, MessageID: fmt.Sprintf("m%08d", i), ContentType: "text/plain", Flag: msrp.FlagEnd}
		buf = msrp.AppendFrame(buf[:0], f, []byte("x"))
		return buf
	})
	h1 := heapAlloc()
	t.Logf("wrote %d requests (blocked: %v); heap +%d KiB; alice got %d", n, blocked, int64(h1-h0)>>10, alice.count.Load())
	if !blocked && n >= floodMax {
		t.Errorf("the relay read %d requests from a peer that reads nothing", n)
	}
	if h1 > h0+32<<20 {
		t.Errorf("heap grew from %d to %d", h0, h1)
	}
}

// TestNeverReadingPeerEndpoint: a peer that floods SENDs at an MSRP
// endpoint and never reads the answers costs bounded memory (FINDINGS F10,
// fixed): with no session the connection is closed after a few 481s; on a
// bound session asking for success REPORTs the endpoint stops reading once
// its write queue is full (the peer's writes block) and the write deadline
// then closes the connection.
func TestNeverReadingPeerEndpoint(t *testing.T) {
	// TransactionTimeout (the write deadline) outlasts the flood's 2 s
	// block detection, so that back-pressure, not the deadline, is tested.
	ep, addr := newEndpoint(t, msrp.Config{TransactionTimeout: 8 * time.Second})
	rs := openRawSession(t, ep, addr, answerOpts)
	frame := func(to, from msrp.URI, success string) func(int) []byte {
		var buf []byte
		return func(i int) []byte {
			f := &msrp.Frame{TID: fmt.Sprintf("fl%08d", i), Method: msrp.MethodSEND, ToPath: []msrp.URI{to},
				FromPath: []msrp.URI{from}, MessageID: fmt.Sprintf("m%08d", i), SuccessReport: success,
				ContentType: "text/plain", Flag: msrp.FlagEnd}
			buf = msrp.AppendFrame(buf[:0], f, []byte("x"))
			return buf
		}
	}
	t.Run("unknown session", func(t *testing.T) {
		to := rs.to
		to.SessionID = msrp.NewSessionID() // each SEND gets a 481
		p := dialPeer(t, addr)
		close(p.done) // never read
		defer p.nc.Close()
		h0 := heapAlloc()
		n, blocked := flood(p.nc, 10*time.Second, frame(to, p.self, ""))
		h1 := heapAlloc()
		t.Logf("wrote %d requests (blocked or closed: %v); heap +%d KiB", n, blocked, int64(h1-h0)>>10)
		if !blocked {
			t.Errorf("the endpoint read %d requests for no session from a peer that reads nothing", n)
		}
		if h1 > h0+32<<20 {
			t.Errorf("heap grew from %d to %d", h0, h1)
		}
	})
	t.Run("bound session", func(t *testing.T) {
		p := rs.peer
		close(p.done) // never read from now on
		defer p.nc.Close()
		h0 := heapAlloc()
		n, blocked := flood(p.nc, 15*time.Second, frame(rs.to, p.self, "yes"))
		h1 := heapAlloc()
		t.Logf("wrote %d requests (blocked or closed: %v); heap +%d KiB; delivered %d", n, blocked, int64(h1-h0)>>10, rs.received.Load())
		if !blocked && n >= floodMax {
			t.Errorf("the endpoint read %d requests from a peer that reads nothing", n)
		}
		if h1 > h0+32<<20 {
			t.Errorf("heap grew from %d to %d", h0, h1)
		}
		// The write deadline ends the connection, and with it the session.
		select {
		case <-rs.sess.Done():
		case <-time.After(20 * time.Second):
			t.Error("the session of a peer that reads nothing is still open")
		}
	})
}

// TestNeverReadingPeerSeed: a seed session peer that asks for delivery
// reports (§6.3), floods messages and never reads the reports is
// back-pressured, in bounded memory.
func TestNeverReadingPeerSeed(t *testing.T) {
	ep, addr := newSeedEndpoint(t, cpimtransport.Config{})
	ctx := testCtx(t)
	mine := cpimtransport.NewSessionURI("127.0.0.1")
	offer := &messagesdp.Media{Proto: messagesdp.ProtoCPIMTCP, Port: 9, Address: "127.0.0.1",
		Formats: []string{"text/plain", cpimtransport.TypeDeliveryStatus}, URI: mine,
		Direction: messagesdp.DirectionActive, Setup: messagesdp.SetupActive}
	ans, err := ep.Answer(ctx, offer, session.Options{})
	if err != nil {
		t.Fatal(err)
	}
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	theirs := ans.Media().URI
	msg := func(i int) []byte {
		m := "From: <" + mine + ">\r\nTo: <" + theirs + ">\r\nMsgID: " + strconv.Itoa(i+1) + "\r\n\r\nContent-Type: text/plain\r\n\r\nx"
		return cpimtransport.AppendFrame(nil, []byte(m))
	}
	nc.Write(msg(0))
	s, err := ans.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	recvDone := make(chan struct{})
	go func() {
		defer close(recvDone)
		for {
			if _, err := s.Receive(context.Background()); err != nil {
				return
			}
		}
	}()
	h0 := heapAlloc()
	n, blocked := flood(nc, 15*time.Second, func(i int) []byte { return msg(i + 1) })
	h1 := heapAlloc()
	t.Logf("wrote %d messages (blocked: %v); heap +%d KiB; stats %+v", n, blocked, int64(h1-h0)>>10, ep.Stats())
	if !blocked && n >= floodMax {
		t.Errorf("the endpoint read %d messages from a peer that reads nothing", n)
	}
	if h1 > h0+32<<20 {
		t.Errorf("heap grew from %d to %d", h0, h1)
	}
	s.Close()
	nc.Close()
	<-recvDone
}
