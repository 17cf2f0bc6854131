package cpimtransport

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/parley-im/parley/messagesdp"
	"github.com/parley-im/parley/session"
)

// waitConns waits until e has n connections.
func waitConns(t *testing.T, e *Endpoint, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		e.mu.Lock()
		got := len(e.conns)
		e.mu.Unlock()
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d connections, want %d", got, n)
		}
		time.Sleep(time.Millisecond)
	}
}

// silent asserts that nothing arrives on nc within d.
func silent(t *testing.T, who string, nc net.Conn, d time.Duration) {
	t.Helper()
	nc.SetReadDeadline(time.Now().Add(d))
	var b [256]byte
	n, err := nc.Read(b[:])
	nc.SetReadDeadline(time.Time{})
	var ne net.Error
	if n > 0 || !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("%s read %q (%v), want nothing", who, b[:n], err)
	}
}

// readBody reads one message from r (on nc) and returns its payload.
func readBody(t *testing.T, who string, nc net.Conn, r *Reader) string {
	t.Helper()
	nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	defer nc.SetReadDeadline(time.Time{})
	b, err := r.ReadMessage(nil)
	if err != nil {
		t.Fatalf("%s: %v", who, err)
	}
	return string(b[bytes.LastIndex(b, []byte("\r\n\r\n"))+4:])
}

func rawMsg(from, to string, id int, body string) []byte {
	return AppendFrame(nil, []byte(fmt.Sprintf("From: <%s>\r\nTo: <%s>\r\nMsgID: %d\r\n\r\nContent-Type: text/plain\r\n\r\n%s", from, to, id, body)))
}

// captureEndpoint returns an endpoint with a short AddressBindDelay and
// the address to dial it.
func captureEndpoint(t *testing.T) (*Endpoint, string) {
	t.Helper()
	e, err := NewEndpoint(Config{Host: "127.0.0.1", AddressBindDelay: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	l, err := e.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return e, l.Addr().String()
}

// answerActive answers an active offer from a peer at 127.0.0.1 and opens
// the (passive) session; it returns the session and the peer's a=uri.
func answerActive(t *testing.T, e *Endpoint) (session.Session, string) {
	t.Helper()
	peerURI := NewSessionURI("127.0.0.1")
	offer := &messagesdp.Media{Proto: "cpim/tcp", Port: 9, Address: "127.0.0.1",
		Formats: []string{"text/plain"}, URI: peerURI, Direction: "active", Setup: "active"}
	ans, err := e.Answer(context.Background(), offer, session.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := ans.Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return s, peerURI
}

func dialT(t *testing.T, addr string) net.Conn {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return nc
}

// TestPassiveCapture is the regression test of FINDINGS.md F4: a host
// sharing the peer's address (here, two connections from 127.0.0.1) cannot
// capture a passive session by connecting first, nor by connecting
// alongside the peer, nor end it by closing.
func TestPassiveCapture(t *testing.T) {
	ctx := context.Background()
	t.Run("attacker connected before the session", func(t *testing.T) {
		// The reproducer of F4: the attacker's silent connection exists
		// when the session is answered and opened.
		e, addr := captureEndpoint(t)
		mal := dialT(t, addr)
		waitConns(t, e, 1)
		s, peerURI := answerActive(t, e)
		send(t, s, "secret")
		silent(t, "attacker", mal, 200*time.Millisecond)
		// The real peer connects: the only connection accepted since the
		// session was created, so the passive side's message goes to it.
		peer := dialT(t, addr)
		pr := NewReader(peer, nil)
		if got := readBody(t, "peer", peer, pr); got != "secret" {
			t.Fatalf("peer got %q", got)
		}
		silent(t, "attacker", mal, 100*time.Millisecond)
		// The attacker leaving does not end the session.
		mal.Close()
		peer.Write(rawMsg(peerURI, s.Local().URI, 1, "proof"))
		if m := recv(t, s); string(m.Body) != "proof" {
			t.Fatalf("got %q", m.Body)
		}
		send(t, s, "still here")
		if got := readBody(t, "peer", peer, pr); got != "still here" {
			t.Fatalf("peer got %q", got)
		}
		select {
		case <-s.Done():
			t.Fatalf("session ended: %v", s.Err())
		default:
		}
	})
	t.Run("attacker connected alongside the peer", func(t *testing.T) {
		e, addr := captureEndpoint(t)
		s, peerURI := answerActive(t, e)
		mal := dialT(t, addr)
		peer := dialT(t, addr)
		waitConns(t, e, 2)
		send(t, s, "secret")
		// Two candidates: the message waits for proof.
		silent(t, "attacker", mal, 200*time.Millisecond)
		silent(t, "peer", peer, 10*time.Millisecond)
		peer.Write(rawMsg(peerURI, s.Local().URI, 1, "proof"))
		pr := NewReader(peer, nil)
		if got := readBody(t, "peer", peer, pr); got != "secret" {
			t.Fatalf("peer got %q", got)
		}
		recv(t, s)
		silent(t, "attacker", mal, 100*time.Millisecond)
	})
	t.Run("second connection makes a guess ambiguous", func(t *testing.T) {
		e, addr := captureEndpoint(t)
		s, peerURI := answerActive(t, e)
		peer := dialT(t, addr)
		pr := NewReader(peer, nil)
		send(t, s, "first")
		if got := readBody(t, "peer", peer, pr); got != "first" {
			t.Fatalf("peer got %q", got)
		}
		mal := dialT(t, addr)
		waitConns(t, e, 2)
		send(t, s, "second")
		silent(t, "attacker", mal, 200*time.Millisecond)
		silent(t, "peer", peer, 10*time.Millisecond)
		// The guessed connection closing sends the session back to
		// waiting; it does not end it.
		mal.Close()
		peer.Write(rawMsg(peerURI, s.Local().URI, 1, "proof"))
		if got := readBody(t, "peer", peer, pr); got != "second" {
			t.Fatalf("peer got %q", got)
		}
		recv(t, s)
	})
	t.Run("unproven backlog times out", func(t *testing.T) {
		e := newLoopback(t, Config{Host: "127.0.0.1", AddressBindDelay: -1, ReceiptTimeout: 100 * time.Millisecond})
		offer := &messagesdp.Media{Proto: "cpim/tcp", Port: 9, Address: "127.0.0.1",
			Formats: []string{"text/plain"}, URI: NewSessionURI("127.0.0.1"), Direction: "active", Setup: "active"}
		ans, err := e.Answer(ctx, offer, session.Options{})
		if err != nil {
			t.Fatal(err)
		}
		s, err := ans.Open(ctx)
		if err != nil {
			t.Fatal(err)
		}
		dialT(t, net.JoinHostPort("127.0.0.1", strconv.Itoa(ans.Media().Port)))
		d := send(t, s, "nobody proved")
		if r := wait(t, d); r.Outcome != session.TimedOut {
			t.Fatalf("outcome %+v", r)
		}
	})
}
