package cpimtransport

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-im/parley/cpim"
	"github.com/parley-im/parley/session"
)

type relayLog struct {
	mu  sync.Mutex
	evs []RelayMessage
}

func (l *relayLog) on(ev RelayMessage) {
	ev.Body = bytes.Clone(ev.Body)
	l.mu.Lock()
	l.evs = append(l.evs, ev)
	l.mu.Unlock()
}

func (l *relayLog) wait(t *testing.T, n int) []RelayMessage {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		l.mu.Lock()
		evs := slices.Clone(l.evs)
		l.mu.Unlock()
		if len(evs) >= n || time.Now().After(deadline) {
			if len(evs) != n {
				t.Fatalf("%d events, want %d: %+v", len(evs), n, evs)
			}
			return evs
		}
	}
}

// nestedCPIM is a message/cpim content naming its users (the way an
// application puts them on the wire, docs/seed-choices.md §1).
func nestedCPIM(t *testing.T, from, to, text string) []byte {
	t.Helper()
	m := cpim.New()
	if err := m.SetFrom(cpim.Address{URI: from}); err != nil {
		t.Fatal(err)
	}
	if err := m.AddTo(cpim.Address{URI: to}); err != nil {
		t.Fatal(err)
	}
	if err := m.SetContent("text/plain", []byte(text)); err != nil {
		t.Fatal(err)
	}
	return m.Bytes()
}

// TestRelayOnMessage: every message forwarded is reported once with its
// tokens, the parties InstallFor named, the nested CPIM From/To, and its
// body within ObserveMaxBody; without InstallFor the parties are "".
func TestRelayOnMessage(t *testing.T) {
	var log relayLog
	r := newRelay(t, RelayConfig{OnMessage: log.on, ObserveMaxBody: 100})
	a, b := newLoopback(t, Config{}), newLoopback(t, Config{})
	sa, sb, _ := relayedFor(t, r, a, b, Parties{Offerer: "sip:alice@example.com", Answerer: "sip:bob@example.com"})
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	say := func(from, to session.Session, ct string, body []byte) {
		t.Helper()
		if _, err := from.Send(ctx, &session.Outgoing{ContentType: ct, Body: body}); err != nil {
			t.Fatal(err)
		}
		in, err := to.Receive(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, got := in.Content(); !bytes.Equal(got, body) {
			t.Fatalf("received %q", got)
		}
	}
	say(sa, sb, "text/plain", []byte("hello bob"))
	say(sb, sa, "message/cpim", nestedCPIM(t, "sip:bob@example.com", "im:alice@example.com", "hi alice"))
	big := []byte(strings.Repeat("x", 101))
	say(sa, sb, "text/plain", big)
	evs := log.wait(t, 3)
	// OnMessage runs on each sending connection's goroutine after the
	// message is handed on, so the log may hold them out of order; each
	// message was read (Time) after the previous one was received.
	slices.SortFunc(evs, func(x, y RelayMessage) int { return x.Time.Compare(y.Time) })
	aURI, bURI := sa.Local().URI, sb.Local().URI
	if e := evs[0]; e.From != aURI || e.To != bURI || e.Sender != "sip:alice@example.com" || e.Recipient != "sip:bob@example.com" ||
		e.ContentType != "text/plain" || string(e.Body) != "hello bob" || e.Size != 9 || e.MsgID == "" || e.InnerFrom != "" || time.Since(e.Time) > time.Minute {
		t.Errorf("a→b: %+v", e)
	}
	if e := evs[1]; e.From != bURI || e.To != aURI || e.Sender != "sip:bob@example.com" || e.Recipient != "sip:alice@example.com" ||
		e.ContentType != "message/cpim" || e.InnerFrom != "sip:bob@example.com" || e.InnerTo != "im:alice@example.com" {
		t.Errorf("b→a: %+v", e)
	}
	if e := evs[2]; e.Body != nil || e.Size != 101 {
		t.Errorf("over the bound: %+v", e)
	}

	// Install: no parties.
	c, d := newLoopback(t, Config{}), newLoopback(t, Config{})
	sc, sd, _ := relayed(t, r, c, d)
	say(sc, sd, "text/plain", []byte("anonymous"))
	if e := log.wait(t, 4)[3]; e.Sender != "" || e.Recipient != "" || string(e.Body) != "anonymous" {
		t.Errorf("without parties: %+v", e)
	}
	if st := r.Stats(); st.Forwarded != 4 {
		t.Errorf("stats %+v", st)
	}
}

// relayedFor is relayed with InstallFor.
func relayedFor(t *testing.T, r *Relay, a, b *Endpoint, p Parties) (session.Session, session.Session, *RelaySession) {
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
	ans, err := b.Answer(ctx, viaSDP(t, o2), session.Options{})
	if err != nil {
		t.Fatal(err)
	}
	a2, rs, err := r.InstallFor(ctx, o, viaSDP(t, ans.Media()), p)
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
