package cpimtransport

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/parley-im/parley/messagesdp"
	"github.com/parley-im/parley/session"
)

func newRelay(t *testing.T, cfg RelayConfig) *Relay {
	t.Helper()
	if cfg.AddressBindDelay == 0 {
		cfg.AddressBindDelay = 50 * time.Millisecond
	}
	r, err := NewRelay(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Listen("tcp", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// relayed sets up a session from a to b through r, as a SIP proxy that
// rewrites the SDP would (§7).
func relayed(t *testing.T, r *Relay, a, b *Endpoint) (session.Session, session.Session, *RelaySession) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	off, err := a.Offer(ctx, session.Options{})
	if err != nil {
		t.Fatal(err)
	}
	o := viaSDP(t, off.Media())
	o2, err := r.RewriteOffer(o, "")
	if err != nil {
		t.Fatal(err)
	}
	if o2.URI != o.URI || o2.Port == o.Port && o2.Address == o.Address {
		t.Fatalf("rewritten offer %+v", o2)
	}
	ans, err := b.Answer(ctx, viaSDP(t, o2), session.Options{})
	if err != nil {
		t.Fatal(err)
	}
	a2, rs, err := r.Install(ctx, o, viaSDP(t, ans.Media()))
	if err != nil {
		t.Fatal(err)
	}
	sa, err := off.Open(ctx, viaSDP(t, a2))
	if err != nil {
		t.Fatal(err)
	}
	sb, err := ans.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return sa, sb, rs
}

func TestRelayThreeSessions(t *testing.T) {
	r := newRelay(t, RelayConfig{})
	c1 := newLoopback(t, Config{})
	c2 := newLoopback(t, Config{})
	c3 := newLoopback(t, Config{})
	type pair struct{ off, ans session.Session }
	var ps []pair
	for _, from := range []*Endpoint{c1, c1, c3} {
		sa, sb, _ := relayed(t, r, from, c2)
		ps = append(ps, pair{sa, sb})
	}
	// The offerers speak first. The answerer c2 connects to the relay
	// once, for all three sessions: the relay takes that connection, the
	// only one from c2's address, for the first session, and holds the
	// others' messages until c2 is heard from on them.
	for i, p := range ps {
		send(t, p.off, fmt.Sprint("hello from offerer ", i))
	}
	for i, p := range ps {
		send(t, p.ans, fmt.Sprint("hello from answerer ", i))
	}
	for i, p := range ps {
		if m := recv(t, p.ans); string(m.Body) != fmt.Sprint("hello from offerer ", i) || m.ID != "1" {
			t.Errorf("session %d answerer got %q id %s", i, m.Body, m.ID)
		}
		if m := recv(t, p.off); string(m.Body) != fmt.Sprint("hello from answerer ", i) || m.ID != "1" {
			t.Errorf("session %d offerer got %q id %s", i, m.Body, m.ID)
		}
	}
	for round := range 3 {
		for i, p := range ps {
			send(t, p.off, fmt.Sprint(i, "/", round))
			send(t, p.ans, fmt.Sprint(i, "\\", round))
		}
		for i, p := range ps {
			if m := recv(t, p.ans); string(m.Body) != fmt.Sprint(i, "/", round) {
				t.Errorf("session %d: %q", i, m.Body)
			}
			if m := recv(t, p.off); string(m.Body) != fmt.Sprint(i, "\\", round) {
				t.Errorf("session %d: %q", i, m.Body)
			}
		}
	}
	// Three sessions, three relay connections: one to c1 (two sessions),
	// one to c3, and the one c2 opened for all three of its sessions.
	r.mu.Lock()
	nr := len(r.conns)
	r.mu.Unlock()
	c2.mu.Lock()
	n2 := len(c2.conns)
	c2.mu.Unlock()
	if nr != 3 || n2 != 1 {
		t.Errorf("relay has %d connections (want 3), c2 has %d (want 1)", nr, n2)
	}
	if st := r.Stats(); st.Forwarded != 24 || st.Unmatched != 0 {
		t.Errorf("relay stats %+v", st)
	}
	for _, p := range ps {
		p.off.Close()
		p.ans.Close()
	}
}

// TestRelayCallerFirst: the caller speaks first and the callee, which
// connected to the relay (it answered active), has sent nothing: the relay
// delivers on the callee's connection, the only one from its address,
// without waiting for the callee's first message; a second connection from
// that address makes the relay wait for it again.
func TestRelayCallerFirst(t *testing.T) {
	r := newRelay(t, RelayConfig{})
	fast := Config{AddressBindDelay: 50 * time.Millisecond}
	c1, c2 := newLoopback(t, fast), newLoopback(t, fast)
	sa, sb, _ := relayed(t, r, c1, c2)
	if !messagesdp.IsActive(sb.Local(), sb.Remote(), false) {
		t.Fatal("the answerer is not the active side: not the case under test")
	}
	send(t, sa, "caller first")
	if m := recv(t, sb); string(m.Body) != "caller first" {
		t.Fatalf("callee got %q", m.Body)
	}
	send(t, sb, "callee answers")
	if m := recv(t, sa); string(m.Body) != "callee answers" {
		t.Fatalf("caller got %q", m.Body)
	}

	// Another session, and a stranger from the callee's address connects
	// alongside the callee before either sends: nothing goes to the
	// stranger, and the caller's message waits for the callee's.
	c3, c4 := newLoopback(t, fast), newLoopback(t, fast)
	ctx := context.Background()
	off, err := c3.Offer(ctx, session.Options{})
	if err != nil {
		t.Fatal(err)
	}
	o := viaSDP(t, off.Media())
	o2, err := r.RewriteOffer(o, "")
	if err != nil {
		t.Fatal(err)
	}
	stranger := dialT(t, net.JoinHostPort(o2.Address, strconv.Itoa(o2.Port)))
	ans, err := c4.Answer(ctx, viaSDP(t, o2), session.Options{})
	if err != nil {
		t.Fatal(err)
	}
	a2, _, err := r.Install(ctx, o, viaSDP(t, ans.Media()))
	if err != nil {
		t.Fatal(err)
	}
	s3, err := off.Open(ctx, viaSDP(t, a2))
	if err != nil {
		t.Fatal(err)
	}
	s4, err := ans.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	send(t, s3, "for the callee only")
	silent(t, "stranger", stranger, 300*time.Millisecond)
	select {
	case m := <-s4.(*sess).in:
		t.Fatalf("delivered on a guess among two connections: %q", m.Body)
	default:
	}
	send(t, s4, "here I am")
	if m := recv(t, s3); string(m.Body) != "here I am" {
		t.Fatalf("caller got %q", m.Body)
	}
	if m := recv(t, s4); string(m.Body) != "for the callee only" {
		t.Fatalf("callee got %q", m.Body)
	}
	silent(t, "stranger", stranger, 50*time.Millisecond)
}

func TestRelayUnmatched(t *testing.T) {
	r := newRelay(t, RelayConfig{})
	c1 := newLoopback(t, Config{})
	c2 := newLoopback(t, Config{})
	sa, sb, rs := relayed(t, r, c1, c2)
	send(t, sb, "before")
	recv(t, sa)
	rs.Close()
	// The relay no longer knows the pair: the message is discarded.
	send(t, sb, "after")
	deadline := time.Now().Add(10 * time.Second)
	for r.Stats().Unmatched == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if st := r.Stats(); st.Unmatched != 1 || st.Forwarded != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestRewriteMedia(t *testing.T) {
	m := &messagesdp.Media{Proto: "cpim/tcp", Port: 7394, Address: "alice.example.com", Formats: []string{"text/plain"},
		Direction: "both", Setup: "actpass", URI: "im:2s93i9@alice.example.com"}
	got, err := RewriteMedia(m, "relay.example.net", 9000, "cpim/tls", "sha-256 AA")
	if err != nil {
		t.Fatal(err)
	}
	want := m.Clone()
	want.Address, want.Port, want.Proto, want.Fingerprint = "relay.example.net", 9000, "cpim/tls", "sha-256 AA"
	if !got.Equal(want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	if m.Address != "alice.example.com" {
		t.Error("RewriteMedia modified its argument")
	}
	if _, err := RewriteMedia(m, "r", 1, "TCP/MSRP", ""); err == nil {
		t.Error("rewrite to an MSRP proto accepted")
	}
}

// TestRelayProtoRewrite: the proxy rewrites the offer from cpim/tcp to
// cpim/tls toward the answerer; the relay terminates TLS (its fingerprint
// replaces the endpoint's) and carries the session between the two.
func TestRelayProtoRewrite(t *testing.T) {
	r := newRelay(t, RelayConfig{TLS: tlsConfig(t)})
	c1 := newLoopback(t, Config{})
	c2 := newLoopback(t, Config{TLS: tlsConfig(t)})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	off, err := c1.Offer(ctx, session.Options{})
	if err != nil {
		t.Fatal(err)
	}
	o := off.Media()
	o2, err := r.RewriteOffer(o, "cpim/tls")
	if err != nil {
		t.Fatal(err)
	}
	if o2.Proto != "cpim/tls" || o2.Fingerprint != r.fp {
		t.Fatalf("rewritten offer proto %s fingerprint %q", o2.Proto, o2.Fingerprint)
	}
	ans, err := c2.Answer(ctx, viaSDP(t, o2), session.Options{})
	if err != nil {
		t.Fatal(err)
	}
	a2, _, err := r.Install(ctx, o, viaSDP(t, ans.Media()))
	if err != nil {
		t.Fatal(err)
	}
	if a2.Proto != "cpim/tcp" || a2.Fingerprint != "" {
		t.Fatalf("rewritten answer proto %s fingerprint %q", a2.Proto, a2.Fingerprint)
	}
	s1, err := off.Open(ctx, viaSDP(t, a2))
	if err != nil {
		t.Fatal(err)
	}
	s2, err := ans.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	send(t, s2, "from the tls side")
	if m := recv(t, s1); string(m.Body) != "from the tls side" {
		t.Errorf("got %q", m.Body)
	}
	send(t, s1, "from the tcp side")
	if m := recv(t, s2); string(m.Body) != "from the tcp side" {
		t.Errorf("got %q", m.Body)
	}
	if _, ok := s2.(*sess).conn.Load().nc.(*tls.Conn); !ok {
		t.Error("answerer's leg is not TLS")
	}
}
