package sipserver

import (
	"net"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// TestCompletedTxs: entries are found until they expire, a newer entry
// for the same key replaces the older, and the bound drops the oldest.
func TestCompletedTxs(t *testing.T) {
	res := func(code int) *sip.Response {
		r := sip.NewResponse(code, "x")
		r.SetDestination("127.0.0.1:5999")
		return r
	}
	k1, k2, k3 := makeTxKey("a"), makeTxKey("b"), makeTxKey("c")
	if k1 == k2 {
		t.Fatal("keys collide")
	}
	c := newCompletedTxs(time.Second, 2) // long enough for the checks below on a busy machine
	defer c.stop()
	c.add(k1, res(200))
	c.add(k1, res(202)) // a newer answer for the same key wins
	c.add(k2, res(200))
	if raw, dest, ok := c.get(k1); !ok || dest != "127.0.0.1:5999" || string(raw[:12]) != "SIP/2.0 202 " {
		t.Fatalf("k1: %q %q %v", raw, dest, ok)
	}
	c.add(k3, res(200)) // over the bound of 2: the oldest (k1) goes
	if _, _, ok := c.get(k1); ok {
		t.Fatal("k1 kept over the bound")
	}
	if _, _, ok := c.get(k3); !ok {
		t.Fatal("k3 missing")
	}
	// The sweeper empties the table once everything has expired.
	deadline := time.Now().Add(10 * time.Second)
	for c.len() > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d entries left after expiry", c.len())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, _, ok := c.get(k2); ok {
		t.Fatal("k2 found after expiry")
	}
}

// TestRetransmittedMessageAnsweredOnce: a MESSAGE retransmitted over UDP
// after its transaction answered gets the same response again, byte for
// byte, and is not handled (stored) a second time (RFC 3261 §17.2.2),
// although the server ended sipgo's transaction at once (retrans.go).
func TestRetransmittedMessageAnsweredOnce(t *testing.T) {
	s := newTestServer(t, nil, Config{}, "alice")
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	srv, err := net.ResolveUDPAddr("udp", s.Addr("udp"))
	if err != nil {
		t.Fatal(err)
	}
	me := pc.LocalAddr().String()
	msg := "MESSAGE sip:alice@" + domain + " SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP " + me + ";branch=z9hG4bK-retrans-1;rport\r\n" +
		"Max-Forwards: 70\r\n" +
		"From: <sip:carol@elsewhere.example>;tag=c1\r\n" +
		"To: <sip:alice@" + domain + ">\r\n" +
		"Call-ID: retrans-test-1\r\n" +
		"CSeq: 1 MESSAGE\r\n" +
		"Content-Type: text/plain\r\n" +
		"Content-Length: 5\r\n\r\nhello"
	exchange := func() string {
		t.Helper()
		if _, err := pc.WriteTo([]byte(msg), srv); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 4096)
		for {
			pc.SetReadDeadline(time.Now().Add(5 * time.Second))
			n, _, err := pc.ReadFrom(buf)
			if err != nil {
				t.Fatal(err)
			}
			if r := string(buf[:n]); len(r) > 12 && r[8] != '1' { // skip provisionals
				return r
			}
		}
	}
	first := exchange()
	stored := s.Metrics().MessagesStored.Load()
	if first[:12] != "SIP/2.0 202 " || stored != 1 {
		t.Fatalf("first answer %q, %d stored", first, stored)
	}
	// The record is added just before sipgo's transaction is ended, so
	// once it is there nearly every retransmission is answered from it;
	// the first may still meet sipgo's transaction in that instant (and
	// be answered the same by it: counted below as not ours).
	for deadline := time.Now().Add(5 * time.Second); s.done.len() != 1; {
		if time.Now().After(deadline) {
			t.Fatalf("%d completed transactions held, want 1", s.done.len())
		}
		time.Sleep(time.Millisecond)
	}
	for i := range 3 {
		if again := exchange(); again != first {
			t.Fatalf("retransmission %d answered\n%q\nnot\n%q", i+1, again, first)
		}
	}
	if n := s.Metrics().MessagesStored.Load(); n != 1 {
		t.Fatalf("stored %d times", n)
	}
	if n := s.Metrics().Retransmissions.Load(); n < 2 || n > 3 {
		t.Fatalf("%d retransmissions answered from the record, want 2 or 3 of 3", n)
	}
}
