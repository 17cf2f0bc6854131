package cpimtransport

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/parley-im/parley/messagesdp"
	"github.com/parley-im/parley/session"
)

// mediaSDP returns the SDP text of a local media description.
func mediaSDP(t *testing.T, m *messagesdp.Media) string {
	t.Helper()
	d, err := messagesdp.Build(m)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return string(d.Marshal())
}

// TestMaxSizeSDP: Options.MaxSize goes into offers and answers as
// a=max-size, and a sender refuses, before sending, a message larger than
// the peer's a=max-size (session.ErrTooLarge).
func TestMaxSizeSDP(t *testing.T) {
	ctx := context.Background()
	a := newLoopback(t, Config{})
	b := newLoopback(t, Config{})

	off, err := a.Offer(ctx, session.Options{MaxSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if txt := mediaSDP(t, off.Media()); !strings.Contains(txt, "a=max-size:1000\r\n") {
		t.Errorf("offer lacks a=max-size:1000:\n%s", txt)
	}
	off.Cancel()
	off, err = a.Offer(ctx, session.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if txt := mediaSDP(t, off.Media()); strings.Contains(txt, "max-size") {
		t.Errorf("offer without a limit has a=max-size:\n%s", txt)
	}
	ans, err := b.Answer(ctx, viaSDP(t, off.Media()), session.Options{MaxSize: 10})
	if err != nil {
		t.Fatal(err)
	}
	if txt := mediaSDP(t, ans.Media()); !strings.Contains(txt, "a=max-size:10\r\n") {
		t.Errorf("answer lacks a=max-size:10:\n%s", txt)
	}
	ans.Cancel()
	off.Cancel()

	// A limits B to 20 octets, B limits A to 10.
	sa, sb := connect(t, a, b, session.Options{MaxSize: 20}, session.Options{MaxSize: 10})
	if got := sa.Remote().MaxSize; got != 10 {
		t.Errorf("A sees the peer's max-size %d, want 10", got)
	}
	big := bytes.Repeat([]byte("x"), 11)
	for _, c := range []struct {
		name string
		m    *session.Outgoing
	}{
		{"body", &session.Outgoing{Body: big}},
		{"sized reader", &session.Outgoing{BodyReader: bytes.NewReader(big), Size: 11}},
		{"reader of unknown size", &session.Outgoing{BodyReader: bytes.NewReader(big), Size: -1}},
	} {
		if _, err := sa.Send(ctx, c.m); !errors.Is(err, session.ErrTooLarge) {
			t.Errorf("%s: 11 octets to a peer with max-size 10: %v, want ErrTooLarge", c.name, err)
		}
	}
	// At the limit it goes through, both ways.
	if r := wait(t, send(t, sa, strings.Repeat("y", 10))); r.Outcome != session.Sent && r.Outcome != session.Delivered {
		t.Errorf("10 octets: %+v", r)
	}
	if m := recv(t, sb); len(m.Body) != 10 {
		t.Errorf("B got %d octets", len(m.Body))
	}
	if _, err := sb.Send(ctx, &session.Outgoing{Body: bytes.Repeat([]byte("z"), 21)}); !errors.Is(err, session.ErrTooLarge) {
		t.Errorf("21 octets to A (max-size 20): %v", err)
	}
	if r := wait(t, send(t, sb, strings.Repeat("z", 20))); r.Outcome != session.Sent && r.Outcome != session.Delivered {
		t.Errorf("20 octets to A: %+v", r)
	}
	if m := recv(t, sa); len(m.Body) != 20 {
		t.Errorf("A got %d octets", len(m.Body))
	}
}
