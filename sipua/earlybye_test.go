package sipua

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/parley-im/parley/session"
)

// gatedMedia is a fakeMedia whose answering Open blocks until gate is
// closed (or its context ends), as a transport still connecting would.
type gatedMedia struct {
	fakeMedia
	gate      chan struct{}
	abandoned chan struct{} // if set, receives when an Open gives up
}

func (m *gatedMedia) Answer(ctx context.Context, offer []byte, opts session.Options) (MediaAnswer, error) {
	a, err := m.fakeMedia.Answer(ctx, offer, opts)
	if err != nil {
		return nil, err
	}
	return &gatedAnswer{MediaAnswer: a, gate: m.gate, abandoned: m.abandoned}, nil
}

type gatedAnswer struct {
	MediaAnswer
	gate      chan struct{}
	abandoned chan struct{}
}

func (a *gatedAnswer) Open(ctx context.Context) (session.Session, error) {
	select {
	case <-a.gate:
		return a.MediaAnswer.Open(ctx)
	case <-ctx.Done():
		if a.abandoned != nil {
			a.abandoned <- struct{}{}
		}
		return nil, fmt.Errorf("gated open: %w", context.Cause(ctx))
	}
}

// TestByeBeforeOpen: the caller sends a message and hangs up before the
// callee's session Open has returned. The message must still reach the
// callee's application, in session mode (the Call's session) and in
// large-message mode (OnMessage).
func TestByeBeforeOpen(t *testing.T) {
	t.Run("session", func(t *testing.T) {
		n := newFakeNet()
		gate := make(chan struct{})
		calls := make(chan *Call, 1)
		bob := testUA(t, Config{AOR: "sip:bob@example.com", Media: &gatedMedia{fakeMedia{n: n}, gate, nil}, AutoAnswer: true, OnCall: func(c *Call) { calls <- c }}, TCP)
		alice := testUA(t, Config{Media: n.media(false)}, TCP)
		ac, err := alice.Invite(ctxT(t, 10*time.Second), bob.URI(TCP), InviteOptions{})
		if err != nil {
			t.Fatalf("Invite: %v", err)
		}
		exchangeSend(t, ac, "sent before the BYE")
		if err := ac.Hangup(ctxT(t, 5*time.Second)); err != nil {
			t.Fatalf("Hangup: %v", err)
		}
		waitNoCalls(t, bob) // bob has processed the BYE
		close(gate)
		bc := recvCall(t, calls)
		<-bc.Done()
		if !errors.Is(bc.Err(), ErrRemoteHangup) {
			t.Errorf("Err = %v, want ErrRemoteHangup", bc.Err())
		}
		m, err := bc.Session().Receive(ctxT(t, 5*time.Second))
		if err != nil || string(m.Body) != "sent before the BYE" {
			t.Fatalf("Receive = %v, %v", m, err)
		}
		if _, err := bc.Session().Receive(ctxT(t, 5*time.Second)); !errors.Is(err, session.ErrClosed) {
			t.Errorf("second Receive: %v, want ErrClosed", err)
		}
	})
	t.Run("large", func(t *testing.T) {
		n := newFakeNet()
		gate := make(chan struct{})
		box := newInbox()
		bob := testUA(t, Config{AOR: "sip:bob@example.com", Media: &gatedMedia{fakeMedia{n: n}, gate, nil}, OnMessage: box.on}, TCP)
		alice := testUA(t, Config{Media: n.media(false)}, TCP)
		body := bytes.Repeat([]byte("x"), 3000)
		if _, err := alice.SendMessage(ctxT(t, 10*time.Second), bob.URI(TCP), "text/plain", body); err != nil {
			t.Fatalf("SendMessage: %v", err)
		}
		waitNoCalls(t, bob)
		close(gate)
		if m := box.next(t); !bytes.Equal(m.Body, body) || m.Mode != LargeMessageMode {
			t.Errorf("got %d bytes, mode %v", len(m.Body), m.Mode)
		}
	})
}

// TestByeBeforeOpenAbandoned: an Open that never completes is abandoned
// openGrace (1 s in tests, see TestMain) after the peer's BYE; the
// invitation leaves nothing behind.
func TestByeBeforeOpenAbandoned(t *testing.T) {
	n := newFakeNet()
	gate := make(chan struct{}) // never closed
	abandoned := make(chan struct{}, 1)
	bob := testUA(t, Config{AOR: "sip:bob@example.com", Media: &gatedMedia{fakeMedia{n: n}, gate, abandoned}, AutoAnswer: true, OnCall: func(c *Call) { t.Error("call delivered") }}, TCP)
	alice := testUA(t, Config{Media: n.media(false)}, TCP)
	ac, err := alice.Invite(ctxT(t, 10*time.Second), bob.URI(TCP), InviteOptions{})
	if err != nil {
		t.Fatalf("Invite: %v", err)
	}
	if err := ac.Hangup(ctxT(t, 5*time.Second)); err != nil {
		t.Fatalf("Hangup: %v", err)
	}
	select {
	case <-abandoned:
	case <-time.After(5 * time.Second):
		t.Fatal("the Open was not abandoned after the BYE")
	}
	waitNoCalls(t, alice, bob)
}

func exchangeSend(t *testing.T, c *Call, text string) {
	t.Helper()
	ctx := ctxT(t, 5*time.Second)
	d, err := c.Session().Send(ctx, &session.Outgoing{ContentType: "text/plain", Body: []byte(text)})
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	if r, err := d.Wait(ctx); err != nil || (r.Outcome != session.Delivered && r.Outcome != session.Sent) {
		t.Fatalf("delivery: %+v %v", r, err)
	}
}

// TestEarlyByeMSRP sends a message over real MSRP and hangs up as soon as
// it is acknowledged, many times: the callee must get every message
// (run it with -race: the BYE races the callee's session open).
func TestEarlyByeMSRP(t *testing.T) {
	const rounds = 15
	bobEP, aliceEP := msrpEndpoint(t), msrpEndpoint(t)
	got := make(chan string, rounds)
	box := newInbox()
	bob := testUA(t, Config{AOR: "sip:bob@example.com", Endpoints: []session.Endpoint{bobEP}, AutoAnswer: true, OnMessage: box.on, OnCall: func(c *Call) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for {
			m, err := c.Session().Receive(ctx)
			if err != nil {
				return
			}
			got <- string(m.Body)
		}
	}}, TCP)
	alice := testUA(t, Config{AOR: "sip:alice@example.com", Endpoints: []session.Endpoint{aliceEP}}, TCP)
	for i := range rounds {
		ac, err := alice.Invite(ctxT(t, 10*time.Second), bob.URI(TCP), InviteOptions{})
		if err != nil {
			t.Fatalf("round %d: Invite: %v", i, err)
		}
		want := fmt.Sprintf("message %d", i)
		exchangeSend(t, ac, want)
		if err := ac.Hangup(ctxT(t, 5*time.Second)); err != nil {
			t.Fatalf("round %d: Hangup: %v", i, err)
		}
		select {
		case m := <-got:
			if m != want {
				t.Fatalf("round %d: got %q, want %q", i, m, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("round %d: message lost", i)
		}
	}
	body := bytes.Repeat([]byte("large "), 1000)
	for i := range rounds {
		if _, err := alice.SendMessage(ctxT(t, 10*time.Second), bob.URI(TCP), "text/plain", body); err != nil {
			t.Fatalf("large round %d: %v", i, err)
		}
		if m := box.next(t); !bytes.Equal(m.Body, body) {
			t.Fatalf("large round %d: %d bytes", i, len(m.Body))
		}
	}
	waitNoCalls(t, alice, bob)
}
