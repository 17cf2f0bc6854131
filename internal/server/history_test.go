package server

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parley-im/parley/cpim"
	"github.com/parley-im/parley/cpimtransport"
	"github.com/parley-im/parley/internal/store"
	"github.com/parley-im/parley/msrp"
	"github.com/parley-im/parley/msrp/relay"
	"github.com/parley-im/parley/session"
	"github.com/parley-im/parley/sipua"
)

// sessionCall opens a session from a to b (b auto-answers), registered
// at addr with the given endpoints, and returns both calls.
func sessionCall(t *testing.T, addr, a, b string, epA, epB session.Endpoint) (*sipua.Call, *sipua.Call) {
	t.Helper()
	return sessionCallVia(t, addr, addr, a, b, epA, epB, sipua.InviteOptions{})
}

// sessionCallVia is sessionCall with a registered at addrA and b at addrB
// (two nodes) and the INVITE's options. The caller's call is hung up when
// the test ends, if it has not been before.
func sessionCallVia(t *testing.T, addrA, addrB, a, b string, epA, epB session.Endpoint, opts sipua.InviteOptions) (*sipua.Call, *sipua.Call) {
	t.Helper()
	calls := make(chan *sipua.Call, 1)
	ua, _, err := newUA(t, addrA, a, a+"-pw", true, func(c *sipua.Config) { c.Endpoints = []session.Endpoint{epA} })
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := newUA(t, addrB, b, b+"-pw", true, func(c *sipua.Config) {
		c.Endpoints = []session.Endpoint{epB}
		c.AutoAnswer = true
		c.OnCall = func(c *sipua.Call) { calls <- c }
	}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	ac, err := ua.Invite(ctx, "sip:"+b+"@"+domain, opts)
	if err != nil {
		t.Fatalf("Invite: %v", err)
	}
	select {
	case bc := <-calls:
		t.Cleanup(func() { ac.Hangup(context.Background()) })
		return ac, bc
	case <-time.After(10 * time.Second):
		t.Fatal("no call")
		return nil, nil
	}
}

// exchangeCPIM sends text from → to wrapped in CPIM with From/To headers.
func exchangeCPIM(t *testing.T, from, to *sipua.Call, fromAOR, toAOR, text string) {
	t.Helper()
	m := cpim.New()
	if err := m.SetFrom(cpim.Address{URI: fromAOR}); err != nil {
		t.Fatal(err)
	}
	if err := m.AddTo(cpim.Address{URI: toAOR}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	d, err := from.Session().Send(ctx, &session.Outgoing{ContentType: "text/plain", Body: []byte(text), CPIM: m})
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	got, err := to.Session().Receive(ctx)
	if err != nil {
		t.Fatalf("Receive: %v", err)
	}
	if _, b := got.Content(); string(b) != text {
		t.Fatalf("Receive: %q, want %q", b, text)
	}
	if _, err := d.Wait(ctx); err != nil {
		t.Fatal(err)
	}
}

type histLine struct {
	peer string
	dir  store.Direction
	body string
}

// sessionHistoryOf waits until owner's session-mode history has n
// entries (or 10 s passed) and returns them oldest first.
func sessionHistoryOf(t *testing.T, st store.Store, owner string, n int) []histLine {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		hs, err := st.History(t.Context(), owner, "", store.Cursor{}, 100)
		if err != nil {
			t.Fatal(err)
		}
		var out []histLine
		for _, h := range slices.Backward(hs) {
			if h.Mode == store.SessionMode {
				if h.ContentType != "text/plain" {
					t.Errorf("%s: entry of type %q, want the inner text/plain", owner, h.ContentType)
				}
				out = append(out, histLine{h.Peer, h.Direction, string(h.Body)})
			}
		}
		if len(out) >= n || time.Now().After(deadline) {
			return out
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func aorT(u string) string { return "sip:" + u + "@" + domain }

// TestSessionHistory: with History on, the session messages the relays
// forward land in the history of their local parties (store.SessionMode),
// with the right peer and direction: both parties on one relay; one on
// the TLS relay and one on the plain relay (the peer learned from the
// other relay's endpoint); one party on no relay with CPIM From/To
// (the peer from the CPIM headers); an opted-out user; and without CPIM
// or relay on the far side, the message stays unresolved, not recorded.
func TestSessionHistory(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir)
	cfg.MSRPRelayTLS = "127.0.0.1:0"
	cfg.HistoryOptOut = []string{aorT("bob")}
	users := []string{"alice", "bob", "carol", "frank", "dave", "erin", "grace", "heidi"}
	s := startServer(t, cfg, users...)
	addr := s.sipAddr("tcp")
	pool := devTrust(t, dir)
	tlsEP := func(user string) relayedEndpoint {
		t.Helper()
		ep, err := relayedVia(t, "msrps://"+s.Addrs().MSRPRelayTLS+";tcp", msrpTLSConfig(pool), user, user+"-pw")
		if err != nil {
			t.Fatal(err)
		}
		return ep
	}
	// plainEP: an endpoint of the plain relay; tlsToo lets it take a
	// TCP/TLS/MSRP offer (from a client of the TLS relay).
	plainEP := func(user string, tlsToo bool) relayedEndpoint {
		t.Helper()
		mc := msrp.Config{}
		if tlsToo {
			mc = msrpTLSConfig(pool)
		}
		ep, err := relayedVia(t, "msrp://"+s.Addrs().MSRPRelay+";tcp", mc, user, user+"-pw")
		if err != nil {
			t.Fatal(err)
		}
		return ep
	}
	// want is the history of the caller a talking with b; answered that
	// of the answerer b talking with a (a speaks first).
	want := func(a, b string) []histLine {
		return []histLine{
			{aorT(b), store.Outgoing, a + " 1"}, {aorT(b), store.Incoming, b + " 1"},
			{aorT(b), store.Outgoing, a + " 2"}, {aorT(b), store.Incoming, b + " 2"},
		}
	}
	answered := func(b, a string) []histLine {
		return []histLine{
			{aorT(a), store.Incoming, a + " 1"}, {aorT(a), store.Outgoing, b + " 1"},
			{aorT(a), store.Incoming, a + " 2"}, {aorT(a), store.Outgoing, b + " 2"},
		}
	}
	check := func(owner string, want []histLine) {
		t.Helper()
		got := sessionHistoryOf(t, s.Store(), aorT(owner), len(want))
		if !slices.Equal(got, want) {
			t.Errorf("%s's session history:\n got %v\nwant %v", owner, got, want)
		}
	}
	talk := func(ac, bc *sipua.Call, a, b string) {
		for i := 1; i <= 2; i++ {
			exchange(t, ac, bc, fmt.Sprintf("%s %d", a, i))
			exchange(t, bc, ac, fmt.Sprintf("%s %d", b, i))
		}
	}

	t.Run("one relay, bob opted out", func(t *testing.T) {
		ac, bc := sessionCall(t, addr, "alice", "bob", plainEP("alice", false), plainEP("bob", false))
		talk(ac, bc, "alice", "bob")
		check("alice", want("alice", "bob"))
		check("bob", nil)
	})
	t.Run("TLS relay to plain relay", func(t *testing.T) {
		ac, bc := sessionCall(t, addr, "frank", "carol", tlsEP("frank"), plainEP("carol", true))
		talk(ac, bc, "frank", "carol")
		check("frank", want("frank", "carol"))
		check("carol", answered("carol", "frank"))
	})
	t.Run("far side on no relay, CPIM", func(t *testing.T) {
		ac, bc := sessionCall(t, addr, "dave", "erin", plainEP("dave", false), plainEndpoint(t))
		for i := 1; i <= 2; i++ {
			exchangeCPIM(t, ac, bc, aorT("dave"), aorT("erin"), fmt.Sprintf("dave %d", i))
			exchangeCPIM(t, bc, ac, aorT("erin"), aorT("dave"), fmt.Sprintf("erin %d", i))
		}
		check("dave", want("dave", "erin"))
		check("erin", nil) // erin used no relay of ours
	})
	t.Run("far side on no relay, no CPIM", func(t *testing.T) {
		before := s.HistoryStats().Unresolved
		ac, bc := sessionCall(t, addr, "grace", "heidi", plainEP("grace", false), plainEndpoint(t))
		talk(ac, bc, "grace", "heidi")
		deadline := time.Now().Add(historyResolveWait + 5*time.Second)
		for s.HistoryStats().Unresolved-before < 4 && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		if n := s.HistoryStats().Unresolved - before; n != 4 {
			t.Errorf("%d unresolved, want 4", n)
		}
		check("grace", nil)
	})
	if st := s.HistoryStats(); st.Dropped != 0 || st.Failed != 0 || st.Recorded != 16 {
		t.Errorf("stats %+v, want 16 recorded, none dropped or failed", st)
	}
	var b strings.Builder
	s.WriteMetrics(t.Context(), &b)
	for _, m := range []string{"parley_session_history_recorded_total 16\n", "parley_session_history_dropped_total 0\n", "parley_session_history_unresolved_total 4\n"} {
		if !strings.Contains(b.String(), m) {
			t.Errorf("metrics lack %q", m)
		}
	}
}

// blockingStore is a store whose AppendHistory waits for release.
type blockingStore struct {
	store.Store
	release chan struct{}
	calls   chan struct{}
}

func (b blockingStore) AppendHistory(ctx context.Context, e store.HistoryEntry) (int64, error) {
	select {
	case b.calls <- struct{}{}:
	default:
	}
	<-b.release
	return 1, nil
}

// TestSessionHistoryQueueFull: a store that does not answer never makes
// the relay's read path wait; what the queue cannot take is dropped and
// counted (and shown in /metrics).
func TestSessionHistoryQueueFull(t *testing.T) {
	st, err := store.Open(t.Context(), "file:"+t.TempDir()+"/h.db")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	bs := blockingStore{Store: st, release: make(chan struct{}), calls: make(chan struct{}, 1)}
	h := newSessionHistory(bs, domain, nil, testLogger())
	ev := relay.MessageEvent{FromUser: "alice", ToUser: "bob", MessageID: "m", ContentType: "text/plain", Body: []byte("x"), Size: 1}
	h.observe(ev)
	<-bs.calls // the writer is stuck in the store
	const extra = 100
	start := time.Now()
	for range historyQueue + extra {
		h.observe(ev)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("%d observe calls took %v with the store stuck", historyQueue+extra, d)
	}
	if n := h.Stats().Dropped; n != extra {
		t.Errorf("dropped %d, want %d", n, extra)
	}
	close(bs.release)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	h.close(ctx)
	// Each event writes the sender's and the recipient's copy.
	if st := h.Stats(); st.Recorded != 2*(historyQueue+1) {
		t.Errorf("after release: %+v, want %d recorded", st, 2*(historyQueue+1))
	}
	h.observe(ev) // after close: ignored, no panic
}

// TestSessionHistoryChunked: a message sent in three chunks is recorded
// once with its whole body; one of 1 MiB (over ObserveMaxBody) is recorded
// with its type and size and without its body.
func TestSessionHistoryChunked(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir)
	s := startServer(t, cfg, "alice", "bob")
	ep := func(user string) relayedEndpoint {
		t.Helper()
		e, err := relayedVia(t, "msrp://"+s.Addrs().MSRPRelay+";tcp", msrp.Config{MaxChunkSize: 4096}, user, user+"-pw")
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	ac, bc := sessionCall(t, s.sipAddr("tcp"), "alice", "bob", ep("alice"), ep("bob"))
	three := strings.Repeat("0123456789", 1000) // 10000 octets: 4096+4096+1808
	exchange(t, ac, bc, three)
	big := strings.Repeat("x", 1<<20)
	exchange(t, bc, ac, big)
	for _, c := range []struct {
		owner, peer string
		dirs        []store.Direction
	}{{"alice", "bob", []store.Direction{store.Outgoing, store.Incoming}}, {"bob", "alice", []store.Direction{store.Incoming, store.Outgoing}}} {
		var hs []store.HistoryEntry
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			var err error
			if hs, err = s.Store().History(t.Context(), aorT(c.owner), "", store.Cursor{}, 10); err != nil {
				t.Fatal(err)
			}
			if len(hs) >= 2 || time.Now().After(deadline) {
				break
			}
		}
		if len(hs) != 2 {
			t.Fatalf("%s: %d entries, want 2: %+v", c.owner, len(hs), hs)
		}
		slices.Reverse(hs)
		if h := hs[0]; h.Peer != aorT(c.peer) || h.Direction != c.dirs[0] || h.ContentType != "text/plain" || string(h.Body) != three {
			t.Errorf("%s: chunked entry %s %v %q, %d octets", c.owner, h.Peer, h.Direction, h.ContentType, len(h.Body))
		}
		wantCT, wantBody := notKept("text/plain", 1<<20)
		if !strings.Contains(wantCT, "size=1048576") {
			t.Fatal(wantCT)
		}
		if h := hs[1]; h.Peer != aorT(c.peer) || h.Direction != c.dirs[1] || h.ContentType != wantCT || string(h.Body) != string(wantBody) {
			t.Errorf("%s: 1 MiB entry %s %v %q %q", c.owner, h.Peer, h.Direction, h.ContentType, h.Body)
		}
	}
	if st := s.HistoryStats(); st.NotKept != 1 || st.Recorded != 4 {
		t.Errorf("stats %+v, want 4 recorded, 1 not kept", st)
	}
}

// TestCPIMTransportHistoryParties: CPIM transport messages whose parties
// the proxy named (cpimtransport.InstallFor) are recorded under those,
// whatever the content says; a message over the relay's bound is kept
// as its size; delivery reports and parties without an account are not
// recorded.
func TestCPIMTransportHistoryParties(t *testing.T) {
	st, err := store.Open(t.Context(), "file:"+t.TempDir()+"/h.db")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, u := range []string{"alice", "bob"} {
		if err := st.AddAccount(t.Context(), store.Account{Domain: domain, User: u}); err != nil {
			t.Fatal(err)
		}
	}
	h := newSessionHistory(st, domain, nil, testLogger())
	alice, bob := aorT("alice"), aorT("bob")
	at := time.Now()
	h.observeCPIM(cpimtransport.RelayMessage{From: "tokA", To: "tokB", Sender: alice, Recipient: bob, MsgID: "1",
		ContentType: "text/plain", Body: []byte("hi"), Size: 2, Time: at})
	h.observeCPIM(cpimtransport.RelayMessage{From: "tokB", To: "tokA", Sender: bob, Recipient: alice, MsgID: "1",
		ContentType: "text/plain", Size: 1 << 20, Time: at.Add(time.Millisecond)})
	h.observeCPIM(cpimtransport.RelayMessage{From: "tokB", To: "tokA", Sender: bob, Recipient: alice, MsgID: "2",
		ContentType: cpimtransport.TypeDeliveryStatus, Body: []byte("x"), Size: 1})
	h.observeCPIM(cpimtransport.RelayMessage{From: "tokC", To: "tokA", Sender: aorT("mallory"), Recipient: alice, MsgID: "1",
		ContentType: "text/plain", Body: []byte("from a stranger"), Size: 15, Time: at.Add(2 * time.Millisecond)})
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	h.close(ctx)
	hs, err := st.History(t.Context(), alice, "", store.Cursor{}, 10)
	if err != nil {
		t.Fatal(err)
	}
	slices.Reverse(hs)
	ct, body := notKept("text/plain", 1<<20)
	if len(hs) != 3 || hs[0].Peer != bob || hs[0].Direction != store.Outgoing || string(hs[0].Body) != "hi" ||
		hs[1].Peer != bob || hs[1].Direction != store.Incoming || hs[1].ContentType != ct || string(hs[1].Body) != string(body) ||
		hs[2].Peer != aorT("mallory") || string(hs[2].Body) != "from a stranger" {
		t.Fatalf("alice's history %+v", hs)
	}
	if hs, _ := st.History(t.Context(), aorT("mallory"), "", store.Cursor{}, 10); len(hs) != 0 {
		t.Fatalf("mallory (no account) has history %+v", hs)
	}
	if s := h.Stats(); s.Recorded != 5 || s.Skipped != 1 || s.NotKept != 1 {
		t.Fatalf("stats %+v", s)
	}
}
