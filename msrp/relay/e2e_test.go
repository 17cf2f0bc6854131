package relay

import (
	"bytes"
	"context"
	"crypto/rand"
	"testing"
	"time"

	"github.com/parley-im/parley/msrp"
	"github.com/parley-im/parley/session"
)

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// relayedEndpoint is a Parley endpoint authenticated to a relay.
type relayedEndpoint struct {
	ep    *msrp.Endpoint
	relay *msrp.Relay
}

func newRelayedEndpoint(t testing.TB, s *Server, user string, cfg msrp.Config) *relayedEndpoint {
	t.Helper()
	ep, err := msrp.NewEndpoint(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ep.Close() })
	ctx := testCtx(t)
	rc, err := ep.Dial(ctx, s.URI())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rc.Release)
	self := msrp.URI{Host: "127.0.0.1", Port: 9, SessionID: msrp.NewSessionID(), Transport: "tcp"}
	ra, err := msrp.Authenticate(ctx, rc, s.URI(), msrp.Credentials{Username: user, Password: user + "-pw"},
		msrp.AuthOptions{From: self, RequireResponseAuth: true})
	if err != nil {
		t.Fatalf("Authenticate %s: %v", user, err)
	}
	return &relayedEndpoint{ep: ep, relay: &msrp.Relay{Conn: rc, UsePath: ra.UsePath}}
}

// relayPair opens a session between a and b, both behind relays.
func relayPair(t testing.TB, a, b *relayedEndpoint, opts session.Options) (*msrp.Session, *msrp.Session) {
	t.Helper()
	ctx := testCtx(t)
	off, err := a.ep.OfferWith(ctx, opts, msrp.SessionOptions{Relay: a.relay})
	if err != nil {
		t.Fatal(err)
	}
	ans, err := b.ep.AnswerWith(ctx, off.Media(), opts, msrp.SessionOptions{Relay: b.relay})
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan *msrp.Session, 1)
	go func() {
		s, err := ans.OpenAnswer(ctx)
		if err != nil {
			t.Error(err)
		}
		ch <- s
	}()
	sa, err := off.OpenOffer(ctx, ans.Media())
	if err != nil {
		t.Fatal(err)
	}
	sb := <-ch
	if sb == nil {
		t.FailNow()
	}
	t.Cleanup(func() { sa.Close(); sb.Close() })
	return sa, sb
}

func exchange(t *testing.T, sa, sb *msrp.Session, bodies ...[]byte) {
	t.Helper()
	ctx := testCtx(t)
	for i, body := range bodies {
		for _, dir := range []struct{ from, to *msrp.Session }{{sa, sb}, {sb, sa}} {
			d, err := dir.from.Send(ctx, &session.Outgoing{ContentType: "application/octet-stream", Body: body})
			if err != nil {
				t.Fatal(err)
			}
			in, err := dir.to.Receive(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(in.Body, body) {
				t.Fatalf("message %d: got %d bytes, want %d", i, len(in.Body), len(body))
			}
			r, err := d.Wait(ctx)
			if err != nil {
				t.Fatal(err)
			}
			// Success REPORTs were asked for: they pass end to end.
			if r.Outcome != session.Delivered {
				t.Fatalf("message %d: %+v", i, r)
			}
		}
	}
}

func randomBody(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// TestTwoHopSameRelay: A's and B's relay URIs are on the same relay; the
// second hop is delivered internally (no connection to itself).
func TestTwoHopSameRelay(t *testing.T) {
	s, _ := startRelay(t, Config{})
	cfg := msrp.Config{MaxInMemory: 16 << 20}
	a := newRelayedEndpoint(t, s, "alice", cfg)
	b := newRelayedEndpoint(t, s, "bob", cfg)
	opts := session.Options{WantReceipts: true, MaxInMemory: 16 << 20}
	sa, sb := relayPair(t, a, b, opts)
	exchange(t, sa, sb, []byte("hello through the relay"), randomBody(10<<20))
	m := s.Metrics()
	if m.Connections != 2 {
		t.Fatalf("relay opened connections of its own: %+v", m)
	}
	if m.Reports != 0 || m.Timeouts != 0 {
		t.Fatalf("failures: %+v", m)
	}
}

// TestRelayToRelay: A behind relay 1, B behind relay 2; relay 1 connects
// to relay 2.
func TestRelayToRelay(t *testing.T) {
	s1, _ := startRelay(t, Config{})
	s2, _ := startRelay(t, Config{})
	cfg := msrp.Config{MaxInMemory: 16 << 20}
	a := newRelayedEndpoint(t, s1, "alice", cfg)
	b := newRelayedEndpoint(t, s2, "bob", cfg)
	opts := session.Options{WantReceipts: true, MaxInMemory: 16 << 20}
	sa, sb := relayPair(t, a, b, opts)
	exchange(t, sa, sb, []byte("hello across two relays"), randomBody(10<<20))
	// Each relay: its client, the connection it dialed to the other relay
	// and the one the other relay dialed to it. More traffic reuses them.
	c1, c2 := s1.Metrics().Connections, s2.Metrics().Connections
	if c1 != 3 || c2 != 3 {
		t.Fatalf("connections %d %d", c1, c2)
	}
	exchange(t, sa, sb, []byte("again"))
	if m1, m2 := s1.Metrics(), s2.Metrics(); m1.Connections != c1 || m2.Connections != c2 {
		t.Fatalf("relay-to-relay connections not reused: %+v %+v", m1, m2)
	}
}

// TestOneSideRelayed: only A uses the relay; B listens directly. The
// relay connects to B (outbound) and B's frames come back inbound.
func TestOneSideRelayed(t *testing.T) {
	s, _ := startRelay(t, Config{})
	a := newRelayedEndpoint(t, s, "alice", msrp.Config{})
	eb, err := msrp.NewEndpoint(msrp.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eb.Close() })
	if _, err := eb.Listen(context.Background(), "tcp", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	opts := session.Options{WantReceipts: true}
	off, err := a.ep.OfferWith(ctx, opts, msrp.SessionOptions{Relay: a.relay})
	if err != nil {
		t.Fatal(err)
	}
	ans, err := eb.AnswerWith(ctx, off.Media(), opts, msrp.SessionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan *msrp.Session, 1)
	go func() {
		s, err := ans.OpenAnswer(ctx)
		if err != nil {
			t.Error(err)
		}
		ch <- s
	}()
	sa, err := off.OpenOffer(ctx, ans.Media())
	if err != nil {
		t.Fatal(err)
	}
	sb := <-ch
	if sb == nil {
		t.FailNow()
	}
	defer sa.Close()
	defer sb.Close()
	exchange(t, sa, sb, []byte("one side relayed"))
}
