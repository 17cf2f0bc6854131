package cpimtransport

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-im/parley/messagesdp"
	"github.com/parley-im/parley/session"
)

// viaSDP sends m through SDP text and back, as the SIP layer does.
func viaSDP(t testing.TB, m *messagesdp.Media) *messagesdp.Media {
	t.Helper()
	d, err := messagesdp.Build(m)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	p, err := messagesdp.Parse(d.Marshal())
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	ms := p.Messages()
	if len(ms) != 1 {
		t.Fatalf("%d m=message lines", len(ms))
	}
	return ms[0].Media
}

func newLoopback(t testing.TB, cfg Config) *Endpoint {
	t.Helper()
	e, err := NewEndpoint(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Listen("tcp", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// connect runs an offer/answer between a (offerer) and b and opens both.
func connect(t testing.TB, a, b *Endpoint, oa, ob session.Options) (session.Session, session.Session) {
	t.Helper()
	return connectEdit(t, a, b, oa, ob, nil)
}

// connectEdit is connect with a hook that may change the answer as the
// offerer sees it (for a peer whose SDP does not tell everything).
func connectEdit(t testing.TB, a, b *Endpoint, oa, ob session.Options, edit func(answer *messagesdp.Media)) (session.Session, session.Session) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	off, err := a.Offer(ctx, oa)
	if err != nil {
		t.Fatalf("Offer: %v", err)
	}
	ans, err := b.Answer(ctx, viaSDP(t, off.Media()), ob)
	if err != nil {
		t.Fatalf("Answer: %v", err)
	}
	answerMedia := viaSDP(t, ans.Media())
	if edit != nil {
		edit(answerMedia)
	}
	var sb session.Session
	var errB error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		sb, errB = ans.Open(ctx)
	}()
	sa, err := off.Open(ctx, answerMedia)
	wg.Wait()
	if err != nil || errB != nil {
		t.Fatalf("Open: offerer %v, answerer %v", err, errB)
	}
	return sa, sb
}

func send(t testing.TB, s session.Session, text string) *session.Delivery {
	t.Helper()
	d, err := s.Send(context.Background(), &session.Outgoing{ContentType: "text/plain", Body: []byte(text)})
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	return d
}

func recv(t testing.TB, s session.Session) *session.Incoming {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m, err := s.Receive(ctx)
	if err != nil {
		t.Fatalf("Receive: %v", err)
	}
	return m
}

func wait(t testing.TB, d *session.Delivery) session.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := d.Wait(ctx)
	if err != nil {
		t.Fatalf("Wait: %v", err)
	}
	return r
}

func TestLoopbackExchange(t *testing.T) {
	a := newLoopback(t, Config{})
	b := newLoopback(t, Config{})
	sa, sb := connect(t, a, b, session.Options{}, session.Options{})

	if got := sa.Remote().URI; got != sb.Local().URI {
		t.Fatalf("offerer's remote URI %s, answerer's local %s", got, sb.Local().URI)
	}
	// §4.3: B answers active and connects; both directions use it.
	if d := sb.Local().Direction; d != "active" {
		t.Errorf("answer direction %q", d)
	}
	for i := 1; i <= 3; i++ {
		r := wait(t, send(t, sa, fmt.Sprint("a", i)))
		if r.Outcome != session.Sent {
			t.Errorf("outcome %v without receipts, want sent", r.Outcome)
		}
		m := recv(t, sb)
		if string(m.Body) != fmt.Sprint("a", i) || m.ID != fmt.Sprint(i) || m.ContentType != "text/plain" || m.Duplicate {
			t.Errorf("B got %+v", m)
		}
		from, _ := m.CPIM.From()
		if from.URI != sa.Local().URI {
			t.Errorf("From %s, want the sender's a=uri %s", from.URI, sa.Local().URI)
		}
	}
	send(t, sb, "reply")
	if m := recv(t, sa); string(m.Body) != "reply" || m.ID != "1" {
		t.Errorf("A got %q id %s", m.Body, m.ID)
	}
	if n := len(a.conns) + len(b.conns); n != 2 {
		t.Errorf("%d connection ends, want one connection", n)
	}
	sa.Close()
	if _, err := sa.Receive(context.Background()); !errors.Is(err, session.ErrClosed) {
		t.Errorf("Receive after Close: %v", err)
	}
	if _, err := sa.Send(context.Background(), &session.Outgoing{Body: []byte("x")}); !errors.Is(err, session.ErrClosed) {
		t.Errorf("Send after Close: %v", err)
	}
	sb.Close()
}

func TestTwoSessionsOneConnection(t *testing.T) {
	a := newLoopback(t, Config{})
	b := newLoopback(t, Config{})
	s1a, s1b := connect(t, a, b, session.Options{}, session.Options{})
	s2a, s2b := connect(t, a, b, session.Options{}, session.Options{})
	// B connected twice to the same host:port: the connection is reused (§2).
	b.mu.Lock()
	nb := len(b.conns)
	b.mu.Unlock()
	if nb != 1 {
		t.Fatalf("B has %d connections, want 1 shared", nb)
	}
	for i := range 5 {
		send(t, s1a, fmt.Sprint("one-", i))
		send(t, s2a, fmt.Sprint("two-", i))
		send(t, s1b, fmt.Sprint("back-one-", i))
	}
	for i := range 5 {
		if m := recv(t, s1b); string(m.Body) != fmt.Sprint("one-", i) || m.ID != fmt.Sprint(i+1) {
			t.Errorf("session 1 got %q id %s", m.Body, m.ID)
		}
		if m := recv(t, s2b); string(m.Body) != fmt.Sprint("two-", i) || m.ID != fmt.Sprint(i+1) {
			t.Errorf("session 2 got %q id %s", m.Body, m.ID)
		}
		if m := recv(t, s1a); string(m.Body) != fmt.Sprint("back-one-", i) {
			t.Errorf("session 1 reverse got %q", m.Body)
		}
	}
	// Closing one session leaves the shared connection to the other.
	s1b.Close()
	s1a.Close()
	send(t, s2a, "still here")
	if m := recv(t, s2b); string(m.Body) != "still here" {
		t.Errorf("after closing session 1: %q", m.Body)
	}
	s2a.Close()
	s2b.Close()
}

func TestReceipts(t *testing.T) {
	tests := []struct {
		name       string
		want       bool // A lists message/im-delivery-status
		noReceipt  bool
		outcome    session.Outcome
		reportsB   int64
		receivedAs int64
	}{
		{"requested", true, false, session.Delivered, 1, 1},
		{"not requested", false, false, session.Sent, 0, 0},
		{"requested but NoReceipt", true, true, session.Sent, 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newLoopback(t, Config{})
			b := newLoopback(t, Config{})
			sa, sb := connect(t, a, b, session.Options{WantReceipts: tt.want}, session.Options{})
			d, err := sa.Send(context.Background(), &session.Outgoing{Body: []byte("hi"), NoReceipt: tt.noReceipt})
			if err != nil {
				t.Fatal(err)
			}
			if r := wait(t, d); r.Outcome != tt.outcome {
				t.Errorf("outcome %v, want %v", r.Outcome, tt.outcome)
			}
			recv(t, sb)
			// B's next message must use MsgID 2 if it sent a report (§6.3:
			// a report takes the next MsgID).
			send(t, sb, "after")
			m := recv(t, sa)
			if want := fmt.Sprint(tt.reportsB + 1); m.ID != want {
				t.Errorf("B's message after the report has MsgID %s, want %s", m.ID, want)
			}
			if got := b.Stats().ReportsSent; got != tt.reportsB {
				t.Errorf("B sent %d reports, want %d", got, tt.reportsB)
			}
			// Never a report about a report: A sent none.
			if got := a.Stats().ReportsSent; got != 0 {
				t.Errorf("A sent %d reports", got)
			}
			if m.Duplicate || a.Stats().Gaps != 0 {
				t.Errorf("MsgID irregularity: dup %v gaps %d", m.Duplicate, a.Stats().Gaps)
			}
		})
	}
}

func TestReceiptFailure(t *testing.T) {
	a := newLoopback(t, Config{})
	b := newLoopback(t, Config{})
	// B's own limit rejects large messages, and the failure comes back as
	// a report. B advertises its limit (a=max-size), so A would refuse to
	// send; the answer A sees lacks it, as from a peer that enforces a
	// limit it does not advertise.
	sa, sb := connectEdit(t, a, b, session.Options{WantReceipts: true}, session.Options{MaxSize: 4},
		func(m *messagesdp.Media) { m.MaxSize = 0 })
	d, err := sa.Send(context.Background(), &session.Outgoing{Body: []byte("too long for B")})
	if err != nil {
		t.Fatal(err)
	}
	r := wait(t, d)
	if r.Outcome != session.Failed || r.Status != 413 || !strings.Contains(r.Comment, StatusTooBig) {
		t.Errorf("result %+v, want failed 413", r)
	}
	d = send(t, sa, "ok")
	if r := wait(t, d); r.Outcome != session.Delivered {
		t.Errorf("second message: %v", r.Outcome)
	}
	if m := recv(t, sb); string(m.Body) != "ok" {
		t.Errorf("B got %q", m.Body)
	}
	if b.Stats().Rejected != 1 {
		t.Errorf("B rejected %d", b.Stats().Rejected)
	}
}

func TestSendChecks(t *testing.T) {
	a := newLoopback(t, Config{})
	b := newLoopback(t, Config{})
	sa, _ := connect(t, a, b, session.Options{}, session.Options{AcceptTypes: []string{"text/plain"}})
	ctx := context.Background()
	if _, err := sa.Send(ctx, &session.Outgoing{ContentType: "image/png", Body: []byte("x")}); !errors.Is(err, session.ErrTypeNotAccepted) {
		t.Errorf("type not in the peer's format list: %v", err)
	}
	if _, err := sa.Send(ctx, &session.Outgoing{ContentType: TypeDeliveryStatus, Body: []byte("x")}); err == nil {
		t.Error("sending a report by hand succeeded")
	}
	if _, err := sa.Send(ctx, &session.Outgoing{ID: "7", Body: []byte("x")}); err == nil {
		t.Error("resend of a MsgID never sent succeeded")
	}
	if _, err := sa.Send(ctx, &session.Outgoing{ID: "abc", Body: []byte("x")}); err == nil {
		t.Error("non-numeric ID accepted")
	}
}

func TestDuplicateOnResend(t *testing.T) {
	a := newLoopback(t, Config{})
	b := newLoopback(t, Config{})
	sa, sb := connect(t, a, b, session.Options{}, session.Options{})
	send(t, sa, "one")
	if _, err := sa.Send(context.Background(), &session.Outgoing{ID: "1", Body: []byte("one")}); err != nil {
		t.Fatal(err)
	}
	send(t, sa, "two")
	if m := recv(t, sb); m.ID != "1" || m.Duplicate {
		t.Errorf("first: %+v", m)
	}
	if m := recv(t, sb); m.ID != "1" || !m.Duplicate {
		t.Errorf("resend not flagged: id %s dup %v", m.ID, m.Duplicate)
	}
	if m := recv(t, sb); m.ID != "2" || m.Duplicate {
		t.Errorf("after resend: id %s dup %v", m.ID, m.Duplicate)
	}
	if got := b.Stats().Duplicates; got != 1 {
		t.Errorf("Duplicates = %d", got)
	}
}

func TestAnswerNotAcceptable(t *testing.T) {
	b := newLoopback(t, Config{})
	base := &messagesdp.Media{Proto: "cpim/tcp", Port: 7394, Address: "127.0.0.1", Formats: []string{"text/plain"},
		Direction: "both", URI: "im:x@127.0.0.1"}
	tests := []struct {
		name string
		mod  func(m *messagesdp.Media)
	}{
		{"msrp proto", func(m *messagesdp.Media) { m.Proto = "TCP/MSRP"; m.Formats = []string{"*"} }},
		{"tls without TLS config", func(m *messagesdp.Media) { m.Proto = "cpim/tls" }},
		{"rejected stream", func(m *messagesdp.Media) { m.Port = 0 }},
		{"no text/plain", func(m *messagesdp.Media) { m.Formats = []string{"text/html"} }},
		{"no a=uri", func(m *messagesdp.Media) { m.URI = "" }},
		{"uri with angle bracket", func(m *messagesdp.Media) { m.URI = "im:a>b@x" }},
		{"holdconn", func(m *messagesdp.Media) { m.Setup = "holdconn" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := base.Clone()
			tt.mod(m)
			if _, err := b.Answer(context.Background(), m, session.Options{}); !errors.Is(err, session.ErrNotAcceptable) {
				t.Errorf("Answer = %v, want ErrNotAcceptable", err)
			}
		})
	}
	// An active offer needs a listener on the answering side.
	nl, err := NewEndpoint(Config{Host: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	defer nl.Close()
	m := base.Clone()
	m.Direction = "active"
	if _, err := nl.Answer(context.Background(), m, session.Options{}); !errors.Is(err, session.ErrNotAcceptable) {
		t.Errorf("active offer to an endpoint without listener: %v", err)
	}
}

func TestOfferWithoutListenerIsActive(t *testing.T) {
	a, err := NewEndpoint(Config{Host: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b := newLoopback(t, Config{})
	sa, sb := connect(t, a, b, session.Options{}, session.Options{})
	if m := sa.Local(); m.Direction != "active" || m.Port != 9 {
		t.Errorf("offer without listener: direction %s port %d", m.Direction, m.Port)
	}
	if m := sb.Local(); m.Direction != "passive" {
		t.Errorf("answer to an active offer: direction %s", m.Direction)
	}
	send(t, sa, "hello")
	if m := recv(t, sb); string(m.Body) != "hello" {
		t.Errorf("got %q", m.Body)
	}
	// The passive side may send first once the connection is there.
	send(t, sb, "first from passive")
	if m := recv(t, sa); string(m.Body) != "first from passive" {
		t.Errorf("got %q", m.Body)
	}
}

func TestPeerClose(t *testing.T) {
	a := newLoopback(t, Config{})
	b := newLoopback(t, Config{})
	sa, sb := connect(t, a, b, session.Options{}, session.Options{})
	// The offerer is passive: its session is on B's connection once a
	// message of B proved it; then the loss of that connection ends it.
	send(t, sb, "proof")
	recv(t, sa)
	b.Close()
	select {
	case <-sa.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("offerer's session did not end when the peer went away")
	}
	if !errors.Is(sa.Err(), session.ErrClosed) {
		t.Errorf("Err = %v", sa.Err())
	}
	if _, err := sa.Receive(context.Background()); !errors.Is(err, session.ErrClosed) {
		t.Errorf("Receive = %v", err)
	}
	_ = sb
}

// TestPassiveBacklog: a passive side may send before its peer connects;
// the messages wait and go out once the peer's connection is known.
func TestPassiveBacklog(t *testing.T) {
	p := newRawPeerNoDial(t)
	ctx := context.Background()
	d, err := p.sess.Send(ctx, &session.Outgoing{Body: []byte("early")})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-d.Done():
		t.Fatalf("delivered before the peer connected: %+v", d.Result())
	default:
	}
	nc, err := net.Dial("tcp", net.JoinHostPort(p.sess.Local().Address, strconv.Itoa(p.sess.Local().Port)))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	r := NewReader(nc, nil)
	b, err := r.ReadMessage(nil)
	if err != nil || !strings.HasSuffix(string(b), "\r\n\r\nearly") {
		t.Fatalf("peer read %q, %v", b, err)
	}
	if res := wait(t, d); res.Outcome != session.Sent {
		t.Errorf("outcome %v", res.Outcome)
	}
	// A full backlog makes Send wait for the peer (here, until ctx ends).
	p3 := newRawPeerNoDial(t)
	for range DefaultSendQueue {
		if _, err := p3.sess.Send(ctx, &session.Outgoing{Body: []byte("x")}); err != nil {
			t.Fatal(err)
		}
	}
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := p3.sess.Send(short, &session.Outgoing{Body: []byte("one too many")}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Send on a full backlog: %v", err)
	}
	// Closing a session fails what is still waiting.
	p2 := newRawPeerNoDial(t)
	d2, err := p2.sess.Send(ctx, &session.Outgoing{Body: []byte("never")})
	if err != nil {
		t.Fatal(err)
	}
	p2.sess.Close()
	if res := wait(t, d2); res.Outcome != session.Failed || !errors.Is(res.Err, session.ErrClosed) {
		t.Errorf("after Close: %+v", res)
	}
}

var _ net.Conn = (*peekConn)(nil)
