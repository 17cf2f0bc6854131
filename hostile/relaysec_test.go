package hostile

import (
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-im/parley/msrp"
	"github.com/parley-im/parley/msrp/relay"
)

// outsideTarget is a listener the relay must never connect to unless an
// authenticated client routes through its own URL; it counts connections.
type outsideTarget struct {
	l       net.Listener
	reached atomic.Int64
	uri     msrp.URI
	wg      sync.WaitGroup
}

func newOutsideTarget(t *testing.T) *outsideTarget {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	o := &outsideTarget{l: l, uri: msrp.URI{Host: "127.0.0.1", Port: l.Addr().(*net.TCPAddr).Port, SessionID: msrp.NewSessionID(), Transport: "tcp"}}
	o.wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			o.reached.Add(1)
			c.Close()
		}
	})
	t.Cleanup(func() { l.Close(); o.wg.Wait() })
	return o
}

// fakeClock is a relay clock the test moves forward.
type fakeClock struct{ off atomic.Int64 }

func (c *fakeClock) now() time.Time      { return time.Now().Add(time.Duration(c.off.Load())) }
func (c *fakeClock) add(d time.Duration) { c.off.Add(int64(d)) }

// sender is a raw peer or an authenticated client's connection.
type sender struct {
	self  msrp.URI
	write func(*msrp.Frame, []byte)
	resp  func(string, time.Duration) (*msrp.Frame, error)
}

func fromPeer(p *peer) sender { return sender{p.self, p.writeFrame, p.response} }
func fromClient(c *relayClient) sender {
	return sender{c.p.self, c.p.writeFrame, c.response}
}

func evilSend(to []msrp.URI, from msrp.URI) (*msrp.Frame, []byte) {
	return &msrp.Frame{TID: hxTID, Method: msrp.MethodSEND, ToPath: to, FromPath: []msrp.URI{from},
		MessageID: "evil" + msrp.NewMessageID()[:8], ContentType: "text/plain",
		ByteRange: msrp.ByteRange{Start: 1, End: 4, Total: 4}, HasByteRange: true, Flag: msrp.FlagEnd}, []byte("evil")
}

// TestRelaySecurity checks RFC 4976 §6 from outside: who may send what
// through whose URL. Nothing refused may reach a client or leave the relay.
func TestRelaySecurity(t *testing.T) {
	clock := &fakeClock{}
	s := startRelay(t, relay.Config{Now: clock.now})
	alice := authClient(t, s, "alice")
	bob := authClient(t, s, "bob")
	out := newOutsideTarget(t)

	altered := alice.usePath
	altered.SessionID = flipCase(alice.usePath.SessionID)
	guessed := alice.usePath
	guessed.SessionID = msrp.NewSessionID()

	mallory := dialPeer(t, s.URI().HostPort()) // never authenticates
	for _, tc := range []struct {
		name string
		from sender
		to   []msrp.URI
		code int // 0: forwarded toward alice only (answered 200)
	}{
		{"peer toward alice's URL", fromPeer(mallory), alice.path(), 0},
		{"peer uses alice's URL to go outside", fromPeer(mallory), []msrp.URI{alice.usePath, out.uri}, 0},
		{"peer uses alice's URL to reach bob", fromPeer(mallory), []msrp.URI{alice.usePath, bob.usePath, bob.p.self}, 403},
		{"bob uses alice's URL as first hop", fromClient(bob), []msrp.URI{alice.usePath, bob.usePath, bob.p.self}, 403},
		{"bob uses alice's URL to go outside", fromClient(bob), []msrp.URI{alice.usePath, out.uri}, 0},
		{"guessed URL", fromPeer(mallory), []msrp.URI{guessed, alice.p.self}, 481},
		{"case-altered URL", fromPeer(mallory), []msrp.URI{altered, alice.p.self}, 481},
		{"relay as destination", fromPeer(mallory), []msrp.URI{alice.usePath}, 403},
		{"alice's URL then a guessed one of the relay", fromClient(alice), []msrp.URI{alice.usePath, guessed, bob.p.self}, 481},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(alice.received())
			f, body := evilSend(tc.to, tc.from.self)
			tc.from.write(f, body)
			resp, err := tc.from.resp(hxTID, reactionTimeout)
			if tc.code != 0 {
				if err != nil || resp.StatusCode != tc.code {
					t.Fatalf("want %d, got %v %v", tc.code, resp, err)
				}
				time.Sleep(50 * time.Millisecond)
				if n := len(alice.received()); n != before {
					t.Fatalf("a refused request reached alice: %+v", alice.received()[n-1])
				}
				return
			}
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("want 200 (forwarded to alice), got %v %v", resp, err)
			}
			deadline := time.Now().Add(reactionTimeout)
			for len(alice.received()) == before && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			got := alice.received()
			if len(got) != before+1 || got[before].MessageID != f.MessageID {
				t.Fatalf("not delivered to alice: %d frames", len(got)-before)
			}
			if b := alice.body(before); string(b) != string(body) {
				t.Fatalf("alice got body %q, sent %q", b, body)
			}
		})
	}
	if n := len(bob.received()); n != 0 {
		t.Errorf("bob received %d frames through alice's URL", n)
	}
	if n := out.reached.Load(); n != 0 {
		t.Errorf("the relay connected outside %d times for someone who may not", n)
	}

	// Positive control: alice's own connection may go outside through her
	// URL (RFC 4976 §6.4 case 2), so the target can be reached at all.
	f, body := evilSend([]msrp.URI{alice.usePath, out.uri}, alice.p.self)
	alice.p.writeFrame(f, body)
	deadline := time.Now().Add(reactionTimeout)
	for out.reached.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if out.reached.Load() == 0 {
		t.Fatal("control: alice could not route outside through her own URL")
	}

	// A URL dies with the connection that obtained it: after alice's
	// connection closes, nobody can use it, not even alice re-authenticated.
	oldURL := alice.usePath
	alice.p.close()
	alice2 := authClient(t, s, "alice")
	if alice2.usePath.Equal(oldURL) {
		t.Fatal("the relay handed out the same URL again")
	}
	for _, from := range []sender{fromClient(alice2), fromPeer(dialPeer(t, s.URI().HostPort()))} {
		f, body := evilSend([]msrp.URI{oldURL, alice2.p.self}, from.self)
		from.write(f, body)
		resp, err := from.resp(hxTID, reactionTimeout)
		if err != nil || resp.StatusCode != 481 {
			t.Fatalf("old URL after its connection closed: want 481, got %v %v", resp, err)
		}
	}

	// An expired URL is refused (RFC 4976 §6.3): move the relay's clock
	// past the grant.
	clock.add(2 * relay.DefaultMaxExpires)
	p := dialPeer(t, s.URI().HostPort())
	f, body = evilSend(alice2.path(), p.self)
	p.writeFrame(f, body)
	resp, err := p.response(hxTID, reactionTimeout)
	if err != nil || resp.StatusCode != 481 {
		t.Fatalf("expired URL: want 481, got %v %v", resp, err)
	}
	time.Sleep(50 * time.Millisecond)
	if n := len(alice2.received()); n != 0 {
		t.Fatalf("expired URL delivered %d frames", n)
	}
}
