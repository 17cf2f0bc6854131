package server

import (
	"bytes"
	"context"
	"net"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/parley-im/parley/cpim"
	"github.com/parley-im/parley/cpimtransport"
	"github.com/parley-im/parley/internal/store"
	"github.com/parley-im/parley/session"
	"github.com/parley-im/parley/sipua"
)

func cpimEndpoint(t *testing.T) *cpimtransport.Endpoint {
	t.Helper()
	ep, err := cpimtransport.NewEndpoint(cpimtransport.Config{Host: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ep.Listen("tcp", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ep.Close() })
	return ep
}

// TestCPIMSessionThroughRelay: with a CPIM relay configured, the proxy
// rewrites the cpim/tcp offer and answer (seed draft §7) so that the
// session's messages pass through the relay, not endpoint to endpoint.
func TestCPIMSessionThroughRelay(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.CPIMRelay = "127.0.0.1:0"
	s := startServer(t, cfg, "alice", "bob")
	addr := s.sipAddr("tcp")
	calls := make(chan *sipua.Call, 1)
	aliceEP, bobEP := cpimEndpoint(t), cpimEndpoint(t)
	alice, _, err := newUA(t, addr, "alice", "alice-pw", true, func(c *sipua.Config) { c.Endpoints = []session.Endpoint{aliceEP} })
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := newUA(t, addr, "bob", "bob-pw", true, func(c *sipua.Config) {
		c.Endpoints = []session.Endpoint{bobEP}
		c.AutoAnswer = true
		c.OnCall = func(c *sipua.Call) { calls <- c }
	}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	ac, err := alice.Invite(ctx, "sip:bob@"+domain, sipua.InviteOptions{})
	if err != nil {
		t.Fatalf("Invite: %v", err)
	}
	var bc *sipua.Call
	select {
	case bc = <-calls:
	case <-time.After(10 * time.Second):
		t.Fatal("no call")
	}
	if r := ac.Session().Remote(); r.Proto != "cpim/tcp" || net.JoinHostPort(r.Address, strconv.Itoa(r.Port)) != s.Addrs().CPIMRelay {
		t.Errorf("caller's remote media %s %s:%d, want the relay %s", r.Proto, r.Address, r.Port, s.Addrs().CPIMRelay)
	}
	defer func() { t.Logf("relay stats %+v", s.cpim.Stats()) }()
	// The caller speaks first, before the callee has sent anything on
	// the connection it opened to the relay (it answered active): the
	// relay delivers on it without waiting to hear from the callee.
	exchange(t, ac, bc, "through the cpim relay")
	exchange(t, bc, ac, "and back")
	if st := s.cpim.Stats(); st.Forwarded < 2 {
		t.Errorf("relay forwarded %d messages, want 2", st.Forwarded)
	}
	if err := ac.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	<-bc.Done()
}

// sayNested sends text from → to over a CPIM transport session as a
// nested message/cpim naming fromAOR and toAOR (docs/seed-choices.md §1:
// the transport's own From/To are session tokens).
func sayNested(t *testing.T, from, to *sipua.Call, fromAOR, toAOR, text string) {
	t.Helper()
	m := cpim.New()
	if err := m.SetFrom(cpim.Address{URI: fromAOR}); err != nil {
		t.Fatal(err)
	}
	if err := m.AddTo(cpim.Address{URI: toAOR}); err != nil {
		t.Fatal(err)
	}
	if err := m.SetContent("text/plain", []byte(text)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if _, err := from.Session().Send(ctx, &session.Outgoing{ContentType: "message/cpim", Body: m.Bytes()}); err != nil {
		t.Fatalf("Send: %v", err)
	}
	got, err := to.Session().Receive(ctx)
	if err != nil {
		t.Fatalf("Receive: %v", err)
	}
	if _, b := got.Content(); !bytes.Equal(b, m.Bytes()) {
		t.Fatalf("Receive: %q", b)
	}
}

// sayPlain sends text as text/plain (no nested CPIM) from one call's
// session and receives it on the other's.
func sayPlain(t *testing.T, from, to *sipua.Call, text string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if _, err := from.Session().Send(ctx, &session.Outgoing{ContentType: "text/plain", Body: []byte(text)}); err != nil {
		t.Fatalf("Send: %v", err)
	}
	got, err := to.Session().Receive(ctx)
	if err != nil {
		t.Fatalf("Receive: %v", err)
	}
	if _, b := got.Content(); string(b) != text {
		t.Fatalf("Receive: %q", b)
	}
}

// TestCPIMSessionHistory: the messages of a CPIM transport session
// through the relay land in both users' history. The proxy names the
// parties to the relay (sipserver calls InstallFor with the INVITE's From
// and To), so a plain-text message is recorded even before the callee has
// spoken, and what the nested CPIM From/To claim (another sender, a
// recipient outside the server's accounts) does not move an entry.
func TestCPIMSessionHistory(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.CPIMRelay = "127.0.0.1:0"
	s := startServer(t, cfg, "alice", "bob")
	ac, bc := sessionCall(t, s.sipAddr("tcp"), "alice", "bob", cpimEndpoint(t), cpimEndpoint(t))
	if r := ac.Session().Remote(); r.Proto != "cpim/tcp" || net.JoinHostPort(r.Address, strconv.Itoa(r.Port)) != s.Addrs().CPIMRelay {
		t.Fatalf("caller's remote media %s %s:%d, want the relay", r.Proto, r.Address, r.Port)
	}
	alice, bob := aorT("alice"), aorT("bob")
	sayPlain(t, ac, bc, "alice 0") // no nested CPIM, bob has not spoken yet
	sayNested(t, ac, bc, alice, bob, "alice 1")
	sayNested(t, bc, ac, bob, alice, "bob 1")
	sayNested(t, ac, bc, bob, alice, "alice 2") // claims to be bob: still alice's
	sayNested(t, bc, ac, bob, aorT("nobody"), "bob 2")
	check := func(owner string, want []histLine) {
		t.Helper()
		if got := sessionHistoryOf(t, s.Store(), aorT(owner), len(want)); !slices.Equal(got, want) {
			t.Errorf("%s's session history:\n got %v\nwant %v", owner, got, want)
		}
	}
	check("alice", []histLine{{bob, store.Outgoing, "alice 0"}, {bob, store.Outgoing, "alice 1"}, {bob, store.Incoming, "bob 1"},
		{bob, store.Outgoing, "alice 2"}, {bob, store.Incoming, "bob 2"}})
	check("bob", []histLine{{alice, store.Incoming, "alice 0"}, {alice, store.Incoming, "alice 1"}, {alice, store.Outgoing, "bob 1"},
		{alice, store.Incoming, "alice 2"}, {alice, store.Outgoing, "bob 2"}})
	if hs, err := s.Store().History(t.Context(), aorT("nobody"), "", store.Cursor{}, 10); err != nil || len(hs) != 0 {
		t.Errorf("nobody's history: %v %v", hs, err)
	}
	if st := s.HistoryStats(); st.Recorded != 10 || st.Unresolved != 0 || st.Dropped != 0 {
		t.Errorf("stats %+v, want 10 recorded", st)
	}
}
