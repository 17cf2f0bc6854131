package relay

import (
	"bytes"
	"sync"
	"testing"
	"time"

	"github.com/parley-im/parley/msrp"
	"github.com/parley-im/parley/session"
)

// eventLog collects MessageEvents, copying the body as OnMessage must.
type eventLog struct {
	mu  sync.Mutex
	evs []MessageEvent
}

func (l *eventLog) on(ev MessageEvent) {
	if ev.Body != nil {
		ev.Body = bytes.Clone(ev.Body)
	}
	l.mu.Lock()
	l.evs = append(l.evs, ev)
	l.mu.Unlock()
}

// wait returns the events once there are n (failing after a timeout).
func (l *eventLog) wait(t *testing.T, n int) []MessageEvent {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		l.mu.Lock()
		evs := append([]MessageEvent(nil), l.evs...)
		l.mu.Unlock()
		if len(evs) >= n || time.Now().After(deadline) {
			if len(evs) != n {
				t.Fatalf("%d events, want %d: %+v", len(evs), n, evs)
			}
			return evs
		}
	}
}

// withBody returns the events whose MessageID is id.
func (l *eventLog) byID(id string) []MessageEvent {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []MessageEvent
	for _, ev := range l.evs {
		if ev.MessageID == id {
			out = append(out, ev)
		}
	}
	return out
}

func TestOnMessageTwoHop(t *testing.T) {
	var log eventLog
	s, _ := startRelay(t, Config{OnMessage: log.on, ObserveMaxBody: 16})
	a, b, ra, rb := pairRaw(t, s)
	deliver := func(req *msrp.Frame, body string) {
		t.Helper()
		a.write(req, []byte(body))
		if f, _ := a.read(); f.StatusCode != 200 {
			t.Fatalf("%s: %d", req.MessageID, f.StatusCode)
		}
		if f, got := b.read(); f.MessageID != req.MessageID || string(got) != body {
			t.Fatalf("delivered %+v %q", f, got)
		}
	}
	before := time.Now()
	deliver(send([]msrp.URI{ra, rb, b.self}, a.self, "whole", "hello"), "hello")
	ev := log.wait(t, 1)[0]
	if ev.FromUser != "alice" || ev.ToUser != "bob" || ev.MessageID != "whole" || ev.ContentType != "text/plain" ||
		string(ev.Body) != "hello" || ev.Size != 5 || ev.Time.Before(before) || ev.Time.After(time.Now()) {
		t.Fatalf("event %+v", ev)
	}
	if msrp.FormatPath(ev.ToPath) != msrp.FormatPath([]msrp.URI{ra, rb, b.self}) || msrp.FormatPath(ev.FromPath) != a.self.String() {
		t.Fatalf("paths %v %v", ev.ToPath, ev.FromPath)
	}

	// Two chunks: one event, after the second, with the assembled body.
	c1 := send([]msrp.URI{ra, rb, b.self}, a.self, "chunked", "12345")
	c1.ByteRange.Total, c1.Flag = 10, msrp.FlagMore
	deliver(c1, "12345")
	c2 := send([]msrp.URI{ra, rb, b.self}, a.self, "chunked", "67890")
	c2.ByteRange = msrp.ByteRange{Start: 6, End: 10, Total: 10}
	deliver(c2, "67890")
	// Over ObserveMaxBody: no body. Unknown total, one complete chunk:
	// body and size.
	deliver(send([]msrp.URI{ra, rb, b.self}, a.self, "bigmsg", "0123456789abcdefXYZ"), "0123456789abcdefXYZ")
	star := send([]msrp.URI{ra, rb, b.self}, a.self, "star", "stars")
	star.ByteRange = msrp.ByteRange{Start: 1, End: msrp.Unknown, Total: msrp.Unknown}
	deliver(star, "stars")
	log.wait(t, 4)
	if evs := log.byID("chunked"); len(evs) != 1 || string(evs[0].Body) != "1234567890" || evs[0].Size != 10 ||
		!evs[0].Complete || evs[0].Chunks != 2 || evs[0].FromUser != "alice" || evs[0].ToUser != "bob" {
		t.Fatalf("chunked: %+v", evs)
	}
	if evs := log.byID("bigmsg"); len(evs) != 1 || evs[0].Body != nil || evs[0].Size != 19 {
		t.Fatalf("big: %+v", evs)
	}
	if evs := log.byID("star"); len(evs) != 1 || string(evs[0].Body) != "stars" || evs[0].Size != 5 {
		t.Fatalf("star: %+v", evs)
	}

	// Inbound from a peer that did no AUTH toward A's URL.
	peer := dialRaw(t, s)
	peer.write(send([]msrp.URI{ra, a.self}, peer.self, "inbound", "hi A"), []byte("hi A"))
	if f, _ := a.read(); f.MessageID != "inbound" {
		t.Fatal(f.MessageID)
	}
	if f, _ := peer.read(); f.StatusCode != 200 {
		t.Fatal(f.StatusCode)
	}
	log.wait(t, 5)
	if evs := log.byID("inbound"); len(evs) != 1 || evs[0].FromUser != "" || evs[0].ToUser != "alice" || string(evs[0].Body) != "hi A" {
		t.Fatalf("inbound: %+v", evs)
	}
	// Refused requests are not observed.
	peer.write(send([]msrp.URI{ra, rb, b.self}, peer.self, "refused", "x"), []byte("x"))
	if f, _ := peer.read(); f.StatusCode != msrp.StatusForbidden {
		t.Fatalf("two-hop from a stranger: %d", f.StatusCode)
	}
	time.Sleep(20 * time.Millisecond)
	if evs := log.byID("refused"); len(evs) != 0 {
		t.Fatalf("refused: %+v", evs)
	}
}

func TestOnMessageNoBodies(t *testing.T) {
	var log eventLog
	s, _ := startRelay(t, Config{OnMessage: log.on, ObserveMaxBody: -1})
	a, b, ra, rb := pairRaw(t, s)
	a.write(send([]msrp.URI{ra, rb, b.self}, a.self, "msg1", "hello"), []byte("hello"))
	if f, _ := b.read(); f.MessageID != "msg1" {
		t.Fatal(f.MessageID)
	}
	if ev := log.wait(t, 1)[0]; ev.Body != nil || ev.Size != 5 || ev.FromUser != "alice" {
		t.Fatalf("%+v", ev)
	}
}

// TestOnMessageRelayToRelay: relay 1 sees the message leave alice's URL,
// relay 2 sees it arrive from relay 1 toward bob's URL.
func TestOnMessageRelayToRelay(t *testing.T) {
	var log1, log2 eventLog
	s1, _ := startRelay(t, Config{OnMessage: log1.on})
	s2, _ := startRelay(t, Config{OnMessage: log2.on})
	a := newRelayedEndpoint(t, s1, "alice", msrp.Config{})
	b := newRelayedEndpoint(t, s2, "bob", msrp.Config{})
	sa, sb := relayPair(t, a, b, session.Options{})
	ctx := testCtx(t)
	if _, err := sa.Send(ctx, &session.Outgoing{ContentType: "text/plain", Body: []byte("across")}); err != nil {
		t.Fatal(err)
	}
	in, err := sb.Receive(ctx)
	if err != nil || string(in.Body) != "across" {
		t.Fatalf("%v %+v", err, in)
	}
	find := func(l *eventLog) MessageEvent {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
			l.mu.Lock()
			for _, ev := range l.evs {
				if string(ev.Body) == "across" {
					l.mu.Unlock()
					return ev
				}
			}
			l.mu.Unlock()
		}
		t.Fatalf("no event for the message: %+v", l.evs)
		return MessageEvent{}
	}
	e1, e2 := find(&log1), find(&log2)
	if e1.FromUser != "alice" || e1.ToUser != "" {
		t.Fatalf("relay 1: %+v", e1)
	}
	if e2.FromUser != "" || e2.ToUser != "bob" {
		t.Fatalf("relay 2: %+v", e2)
	}
	if e1.MessageID != e2.MessageID || e1.MessageID == "" || e1.ContentType != "text/plain" {
		t.Fatalf("ids %q %q, type %q", e1.MessageID, e2.MessageID, e1.ContentType)
	}
}
