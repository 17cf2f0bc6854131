package msrp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/parley-im/parley/cpim"
	"github.com/parley-im/parley/messagesdp"
	"github.com/parley-im/parley/session"
)

// newTestEndpoint returns an Endpoint closed at the end of the test;
// listen says whether it listens on loopback for plain MSRP.
func newTestEndpoint(t testing.TB, cfg Config, listen bool) *Endpoint {
	t.Helper()
	e, err := NewEndpoint(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	if listen {
		if _, err := e.Listen(context.Background(), "tcp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// pair sets up a session between offerer a and answerer b through the
// session.Endpoint interface and returns both ends.
func pair(t testing.TB, a, b *Endpoint, oa, ob session.Options) (*Session, *Session) {
	t.Helper()
	ctx := testCtx(t)
	off, err := a.Offer(ctx, oa)
	if err != nil {
		t.Fatalf("Offer: %v", err)
	}
	ans, err := b.Answer(ctx, off.Media(), ob)
	if err != nil {
		t.Fatalf("Answer: %v", err)
	}
	type res struct {
		s   session.Session
		err error
	}
	ch := make(chan res, 1)
	go func() {
		s, err := ans.Open(ctx)
		ch <- res{s, err}
	}()
	sa, err := off.Open(ctx, ans.Media())
	if err != nil {
		t.Fatalf("offer Open: %v", err)
	}
	r := <-ch
	if r.err != nil {
		t.Fatalf("answer Open: %v", r.err)
	}
	return sa.(*Session), r.s.(*Session)
}

func recv(t testing.TB, s session.Session) *session.Incoming {
	t.Helper()
	in, err := s.Receive(testCtx(t))
	if err != nil {
		t.Fatalf("Receive: %v", err)
	}
	return in
}

func wait(t testing.TB, d *session.Delivery) session.Result {
	t.Helper()
	r, err := d.Wait(testCtx(t))
	if err != nil {
		t.Fatalf("Delivery.Wait: %v", err)
	}
	return r
}

func TestTextBothWays(t *testing.T) {
	for _, tc := range []struct {
		name             string
		aListen, bListen bool
		receipts         bool
		want             session.Outcome
	}{
		{"actpass-passive", true, true, false, session.Sent},
		{"active-passive", false, true, false, session.Sent},
		{"actpass-active", true, false, true, session.Delivered},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newTestEndpoint(t, Config{}, tc.aListen)
			b := newTestEndpoint(t, Config{}, tc.bListen)
			opts := session.Options{WantReceipts: tc.receipts}
			sa, sb := pair(t, a, b, opts, opts)
			if tc.aListen {
				if got := sa.Local().Setup; got != "actpass" {
					t.Errorf("offer setup = %q, want actpass", got)
				}
			} else if got := sa.Local().Port; got != 9 {
				t.Errorf("active offer port = %d, want 9 (RFC 6135)", got)
			}
			ctx := testCtx(t)
			for i, dir := range []struct{ from, to *Session }{{sa, sb}, {sb, sa}, {sa, sb}} {
				body := fmt.Sprintf("hello %d", i)
				d, err := dir.from.Send(ctx, &session.Outgoing{ContentType: "text/plain", Body: []byte(body)})
				if err != nil {
					t.Fatal(err)
				}
				in := recv(t, dir.to)
				if string(in.Body) != body || in.ContentType != "text/plain" || in.Size != int64(len(body)) || in.ID != d.ID() {
					t.Fatalf("got %+v, want %q", in, body)
				}
				if r := wait(t, d); r.Outcome != tc.want {
					t.Fatalf("outcome %v (%v), want %v", r.Outcome, r.Err, tc.want)
				}
			}
			sa.Close()
			if _, err := sa.Send(ctx, &session.Outgoing{ContentType: "text/plain", Body: []byte("x")}); !errors.Is(err, session.ErrClosed) {
				t.Fatalf("Send after Close: %v", err)
			}
			if _, err := sa.Receive(ctx); !errors.Is(err, session.ErrClosed) {
				t.Fatalf("Receive after Close: %v", err)
			}
			if sa.Err() != nil {
				t.Fatalf("Err after Close = %v, want nil", sa.Err())
			}
		})
	}
}

func TestEmptyAndMediumMessages(t *testing.T) {
	a := newTestEndpoint(t, Config{}, false)
	b := newTestEndpoint(t, Config{}, true)
	sa, sb := pair(t, a, b, session.Options{WantReceipts: true}, session.Options{})
	ctx := testCtx(t)
	for _, n := range []int{0, 1, 2048, 2049, 70000, 300000} {
		body := bytes.Repeat([]byte{'x'}, n)
		for i := range body {
			body[i] = byte(i * 7)
		}
		d, err := sa.Send(ctx, &session.Outgoing{ContentType: "application/octet-stream", Body: body})
		if err != nil {
			t.Fatal(err)
		}
		in := recv(t, sb)
		if !bytes.Equal(in.Body, body) {
			t.Fatalf("size %d: body mismatch (got %d octets)", n, len(in.Body))
		}
		if r := wait(t, d); r.Outcome != session.Delivered {
			t.Fatalf("size %d: %v %v", n, r.Outcome, r.Err)
		}
		if sent, conf := d.Progress(); sent != int64(n) || conf != int64(n) {
			t.Fatalf("size %d: progress %d/%d", n, sent, conf)
		}
	}
}

func TestStreamedBodyUnknownSize(t *testing.T) {
	a := newTestEndpoint(t, Config{}, false)
	b := newTestEndpoint(t, Config{}, true)
	sa, sb := pair(t, a, b, session.Options{WantReceipts: true}, session.Options{})
	body := bytes.Repeat([]byte("0123456789abcdef"), 40000)
	d, err := sa.Send(testCtx(t), &session.Outgoing{ContentType: "application/octet-stream", BodyReader: io.MultiReader(bytes.NewReader(body)), Size: -1})
	if err != nil {
		t.Fatal(err)
	}
	in := recv(t, sb)
	if !bytes.Equal(in.Body, body) {
		t.Fatalf("body mismatch: %d octets", len(in.Body))
	}
	if r := wait(t, d); r.Outcome != session.Delivered {
		t.Fatalf("%v %v", r.Outcome, r.Err)
	}
}

func TestStreamedBodyWrongSize(t *testing.T) {
	a := newTestEndpoint(t, Config{}, false)
	b := newTestEndpoint(t, Config{}, true)
	sa, sb := pair(t, a, b, session.Options{}, session.Options{})
	ctx := testCtx(t)
	// Shorter than declared: the message is aborted and fails.
	d, err := sa.Send(ctx, &session.Outgoing{ContentType: "text/plain", BodyReader: bytes.NewReader(make([]byte, 100000)), Size: 100001})
	if err != nil {
		t.Fatal(err)
	}
	if r := wait(t, d); r.Outcome != session.Failed || r.Err == nil {
		t.Fatalf("short: outcome %v %v, want failure", r.Outcome, r.Err)
	}
	// Longer than declared: Size is authoritative (like Content-Length),
	// and a source that never ends is not waited for.
	pr, pw := io.Pipe()
	defer pw.Close()
	go pw.Write(bytes.Repeat([]byte("L"), 100001))
	d, err = sa.Send(ctx, &session.Outgoing{ContentType: "text/plain", BodyReader: pr, Size: 100000})
	if err != nil {
		t.Fatal(err)
	}
	if r := wait(t, d); r.Outcome != session.Sent {
		t.Fatalf("long: %+v", r)
	}
	if in := recv(t, sb); len(in.Body) != 100000 {
		t.Fatalf("long: received %d octets", len(in.Body))
	}
	// The aborted message was discarded; the session still works.
	if _, err := sa.Send(ctx, &session.Outgoing{ContentType: "text/plain", Body: []byte("after")}); err != nil {
		t.Fatal(err)
	}
	if in := recv(t, sb); string(in.Body) != "after" {
		t.Fatalf("got %q", in.Body)
	}
}

func TestSendChecksPeerSDP(t *testing.T) {
	a := newTestEndpoint(t, Config{}, false)
	b := newTestEndpoint(t, Config{}, true)
	sa, _ := pair(t, a, b, session.Options{}, session.Options{AcceptTypes: []string{"text/plain", "message/cpim"}, MaxSize: 10})
	ctx := testCtx(t)
	if _, err := sa.Send(ctx, &session.Outgoing{ContentType: "image/png", Body: []byte("x")}); !errors.Is(err, session.ErrTypeNotAccepted) {
		t.Errorf("image/png: %v, want ErrTypeNotAccepted", err)
	}
	if _, err := sa.Send(ctx, &session.Outgoing{ContentType: "text/plain", Body: make([]byte, 11)}); !errors.Is(err, session.ErrTooLarge) {
		t.Errorf("11 octets: %v, want ErrTooLarge", err)
	}
	if _, err := sa.Send(ctx, &session.Outgoing{ContentType: "image/png", Body: []byte("x"), CPIM: newTestCPIM(t)}); !errors.Is(err, session.ErrTypeNotAccepted) {
		t.Errorf("image/png in CPIM: %v, want ErrTypeNotAccepted", err)
	}
	if _, err := sa.Send(ctx, &session.Outgoing{ContentType: "", Body: []byte("x")}); err == nil {
		t.Error("empty content type accepted")
	}
	if _, err := sa.Send(ctx, &session.Outgoing{ContentType: "text/plain", Body: []byte("x"), ID: "bad id"}); err == nil {
		t.Error("bad Message-ID accepted")
	}
}

func TestReceiveEnforcesLimits(t *testing.T) {
	a := newTestEndpoint(t, Config{}, false)
	b := newTestEndpoint(t, Config{}, true)
	// The answer advertises nothing restrictive, so the sender does not
	// check; the receiver enforces its own options.
	sa, sb := pair(t, a, b, session.Options{}, session.Options{AcceptTypes: []string{"text/plain"}, MaxSize: 100})
	sa.mu.Lock()
	sa.remote = &messagesdp.Media{}
	sa.mu.Unlock()
	ctx := testCtx(t)
	d, _ := sa.Send(ctx, &session.Outgoing{ContentType: "image/png", Body: []byte("x")})
	if r := wait(t, d); r.Status != 415 || !errors.Is(r.Err, session.ErrTypeNotAccepted) {
		t.Errorf("415: %+v", r)
	}
	// §10: after a 415 the type is not used again in this session.
	if _, err := sa.Send(ctx, &session.Outgoing{ContentType: "image/png", Body: []byte("y")}); !errors.Is(err, session.ErrTypeNotAccepted) {
		t.Errorf("after 415: %v", err)
	}
	d, _ = sa.Send(ctx, &session.Outgoing{ContentType: "text/plain", Body: make([]byte, 101)})
	if r := wait(t, d); r.Status != 413 || !errors.Is(r.Err, session.ErrTooLarge) {
		t.Errorf("413: %+v", r)
	}
	d, _ = sa.Send(ctx, &session.Outgoing{ContentType: "text/plain", Body: []byte("fine")})
	if r := wait(t, d); r.Outcome != session.Sent {
		t.Errorf("fine: %+v", r)
	}
	if in := recv(t, sb); string(in.Body) != "fine" {
		t.Errorf("got %q", in.Body)
	}
}

// Test413MidTransfer: a message of unknown size outgrows what the receiver
// holds in memory; the receiver answers 413 mid-transfer and the sender
// stops sending it (RFC 4975 §10).
func Test413MidTransfer(t *testing.T) {
	a := newTestEndpoint(t, Config{}, false)
	b := newTestEndpoint(t, Config{ChunkSize: 4096}, true)
	sa, sb := pair(t, a, b, session.Options{}, session.Options{MaxInMemory: 256 << 10})
	pr, pw := io.Pipe()
	defer pr.Close()
	d, err := sa.Send(testCtx(t), &session.Outgoing{ContentType: "application/octet-stream", BodyReader: pr, Size: -1})
	if err != nil {
		t.Fatal(err)
	}
	// Feed until the sender stops reading (the feeder closes the pipe's
	// read side only when aborted); 64 MiB is far beyond the limit.
	go func() {
		buf := make([]byte, 64<<10)
		for i := 0; i < 1024; i++ {
			if _, err := pw.Write(buf); err != nil {
				return
			}
			select {
			case <-d.Done():
				pw.CloseWithError(errors.New("stop"))
				return
			default:
			}
		}
		pw.Close()
	}()
	r := wait(t, d)
	if r.Outcome != session.Failed || r.Status != 413 || !errors.Is(r.Err, session.ErrTooLarge) {
		t.Fatalf("result %+v", r)
	}
	sent, _ := d.Progress()
	if sent > 32<<20 {
		t.Errorf("sender kept sending after 413: %d octets", sent)
	}
	pr.Close()
	if _, err := sa.Send(testCtx(t), &session.Outgoing{ContentType: "text/plain", Body: []byte("next")}); err != nil {
		t.Fatal(err)
	}
	if in := recv(t, sb); string(in.Body) != "next" {
		t.Fatalf("got %q", in.Body)
	}
}

func TestDuplicateMessageID(t *testing.T) {
	a := newTestEndpoint(t, Config{}, false)
	b := newTestEndpoint(t, Config{}, true)
	sa, sb := pair(t, a, b, session.Options{}, session.Options{})
	ctx := testCtx(t)
	for i, wantDup := range []bool{false, true} {
		d, err := sa.Send(ctx, &session.Outgoing{ContentType: "text/plain", Body: []byte("again"), ID: "fixedid1234"})
		if err != nil {
			t.Fatal(err)
		}
		in := recv(t, sb)
		if in.Duplicate != wantDup {
			t.Errorf("send %d: Duplicate = %v", i, in.Duplicate)
		}
		wait(t, d)
	}
}

func TestConnectionReuse(t *testing.T) {
	a := newTestEndpoint(t, Config{}, false)
	b := newTestEndpoint(t, Config{}, true)
	s1, r1 := pair(t, a, b, session.Options{}, session.Options{})
	s2, r2 := pair(t, a, b, session.Options{}, session.Options{})
	if s1.Conn() != s2.Conn() {
		t.Fatal("sessions to the same host:port:scheme use different connections")
	}
	if r1.Conn() != r2.Conn() {
		t.Fatal("passive side bound the sessions to different connections")
	}
	ctx := testCtx(t)
	for i, p := range []struct{ s, r *Session }{{s1, r1}, {s2, r2}} {
		body := fmt.Sprint("via session ", i)
		if _, err := p.s.Send(ctx, &session.Outgoing{ContentType: "text/plain", Body: []byte(body)}); err != nil {
			t.Fatal(err)
		}
		if in := recv(t, p.r); string(in.Body) != body {
			t.Fatalf("got %q want %q", in.Body, body)
		}
	}
	// Closing one session keeps the connection for the other.
	s1.Close()
	if _, err := s2.Send(ctx, &session.Outgoing{ContentType: "text/plain", Body: []byte("still")}); err != nil {
		t.Fatal(err)
	}
	if in := recv(t, r2); string(in.Body) != "still" {
		t.Fatalf("got %q", in.Body)
	}
	select {
	case <-s2.Conn().Done():
		t.Fatal("connection closed while a session uses it")
	default:
	}
}

func TestConnectionLossFailsSessions(t *testing.T) {
	a := newTestEndpoint(t, Config{}, false)
	b := newTestEndpoint(t, Config{}, true)
	s1, _ := pair(t, a, b, session.Options{}, session.Options{})
	s2, _ := pair(t, a, b, session.Options{}, session.Options{})
	pr, pw := io.Pipe()
	defer pw.Close()
	d, err := s1.Send(testCtx(t), &session.Outgoing{ContentType: "text/plain", BodyReader: pr, Size: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	go pw.Write(make([]byte, 100000))
	b.Close() // the peer vanishes mid-transfer
	for _, s := range []*Session{s1, s2} {
		select {
		case <-s.Done():
		case <-time.After(30 * time.Second):
			t.Fatal("session not failed after connection loss")
		}
		if !errors.Is(s.Err(), ErrConnLost) {
			t.Errorf("Err() = %v, want ErrConnLost", s.Err())
		}
		if _, err := s.Receive(testCtx(t)); !errors.Is(err, session.ErrClosed) || !errors.Is(err, ErrConnLost) {
			t.Errorf("Receive: %v", err)
		}
	}
	if r := wait(t, d); r.Outcome != session.Failed || !errors.Is(r.Err, ErrConnLost) {
		t.Errorf("delivery %+v", r)
	}
}

func TestAnswerRejects(t *testing.T) {
	b := newTestEndpoint(t, Config{}, true)
	noListen := newTestEndpoint(t, Config{}, false)
	ctx := testCtx(t)
	good := messagesdp.Media{Proto: "TCP/MSRP", Port: 9, Address: "127.0.0.1", Formats: []string{"*"},
		Path: []string{"msrp://127.0.0.1:9/abcdefghijk;tcp"}, AcceptTypes: []string{"text/plain"}, Setup: "active"}
	for _, tc := range []struct {
		name string
		ep   *Endpoint
		mod  func(m *messagesdp.Media)
	}{
		{"port 0", b, func(m *messagesdp.Media) { m.Port = 0 }},
		{"proto", b, func(m *messagesdp.Media) { m.Proto = "TCP/TLS/MSRP" }},
		{"types", b, func(m *messagesdp.Media) { m.AcceptTypes = []string{"image/png"} }},
		{"no path", b, func(m *messagesdp.Media) { m.Path = nil }},
		{"bad path", b, func(m *messagesdp.Media) { m.Path = []string{"http://x"} }},
		{"cannot listen", noListen, func(m *messagesdp.Media) {}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := good
			tc.mod(&m)
			_, err := tc.ep.Answer(ctx, &m, session.Options{AcceptTypes: []string{"text/plain"}})
			if !errors.Is(err, session.ErrNotAcceptable) {
				t.Fatalf("err = %v, want ErrNotAcceptable", err)
			}
		})
	}
}

func TestCPIMWrapping(t *testing.T) {
	a := newTestEndpoint(t, Config{}, false)
	b := newTestEndpoint(t, Config{}, true)
	sa, sb := pair(t, a, b, session.Options{}, session.Options{})
	msg := newTestCPIM(t)
	sa.mu.Lock()
	sa.remote.AcceptTypes = []string{"message/cpim"}
	sa.remote.AcceptWrappedTypes = []string{"text/plain"}
	sa.mu.Unlock()
	if _, err := sa.Send(testCtx(t), &session.Outgoing{ContentType: "text/plain", Body: []byte("wrapped hello"), CPIM: msg}); err != nil {
		t.Fatal(err)
	}
	in := recv(t, sb)
	if in.ContentType != "message/cpim" || in.CPIM == nil {
		t.Fatalf("got %q, CPIM %v", in.ContentType, in.CPIM)
	}
	if string(in.CPIM.Body()) != "wrapped hello" || !strings.HasPrefix(in.CPIM.ContentType(), "text/plain") {
		t.Fatalf("inner %q %q", in.CPIM.ContentType(), in.CPIM.Body())
	}
	// Streamed inner content: the CPIM head goes first, Size covers both.
	inner := bytes.Repeat([]byte("streamed "), 10000)
	d, err := sa.Send(testCtx(t), &session.Outgoing{ContentType: "text/plain", BodyReader: bytes.NewReader(inner), Size: int64(len(inner)), CPIM: msg})
	if err != nil {
		t.Fatal(err)
	}
	in = recv(t, sb)
	if in.CPIM == nil || !bytes.Equal(in.CPIM.Body(), inner) || in.Size != d.Size() {
		t.Fatalf("streamed CPIM: %v, size %d/%d", in.CPIM != nil, in.Size, d.Size())
	}
	if from, err := in.CPIM.From(); err != nil || from.URI != "im:alice@example.com" {
		t.Fatalf("From %+v %v", from, err)
	}
}

// TestRoundTripAndUnknownMethod uses the native Conn API the relay client
// uses: a non-SEND request gets 501 from an endpoint (RFC 4975 §12).
func TestRoundTripAndUnknownMethod(t *testing.T) {
	a := newTestEndpoint(t, Config{}, false)
	b := newTestEndpoint(t, Config{}, true)
	addr := b.listenAddr(false)
	u := URI{Host: "127.0.0.1", Port: addr.Port, SessionID: "abcdefghijklmnop", Transport: "tcp"}
	c, err := a.Dial(testCtx(t), u)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Release()
	me := URI{Host: "127.0.0.1", Port: 9, SessionID: "zyxwvutsrqponm", Transport: "tcp"}
	for _, m := range []string{MethodAUTH, "FOO"} {
		resp, err := c.RoundTrip(testCtx(t), &Frame{Method: m, ToPath: []URI{u}, FromPath: []URI{me}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 501 {
			t.Errorf("%s: %d, want 501", m, resp.StatusCode)
		}
	}
	resp, err := c.RoundTrip(testCtx(t), &Frame{Method: MethodSEND, ToPath: []URI{u}, FromPath: []URI{me}, MessageID: "abcdabcd"}, nil)
	if err != nil || resp.StatusCode != 481 {
		t.Fatalf("SEND to unknown session: %v %v", resp, err)
	}
	if _, err := c.RoundTrip(testCtx(t), &Frame{Method: MethodREPORT, ToPath: []URI{u}, FromPath: []URI{me}}, nil); err == nil {
		t.Error("RoundTrip accepted a REPORT")
	}
	c2, err := a.Dial(testCtx(t), u)
	if err != nil {
		t.Fatal(err)
	}
	if c2 != c {
		t.Error("Dial did not reuse the connection")
	}
	c2.Release()
}

func TestEndpointCloseWithListener(t *testing.T) {
	e := newTestEndpoint(t, Config{}, true)
	addr := e.listenAddr(false).String()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := nc.Read(make([]byte, 1)); err == nil {
		t.Fatal("accepted connection not closed by Endpoint.Close")
	}
}

func newTestCPIM(t testing.TB) *cpim.Message {
	t.Helper()
	m := cpim.New()
	if err := m.SetFrom(cpim.Address{Name: "Alice", URI: "im:alice@example.com"}); err != nil {
		t.Fatal(err)
	}
	if err := m.AddTo(cpim.Address{URI: "im:bob@example.com"}); err != nil {
		t.Fatal(err)
	}
	m.SetDateTime(time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC))
	return m
}

// TestReceiveBackPressure: while the application does not Receive, at most
// maxQueuedBytes of bodies wait; the connection's reader then stops (TCP
// back-pressure) and resumes once messages are received.
func TestReceiveBackPressure(t *testing.T) {
	a := newTestEndpoint(t, Config{}, false)
	b := newTestEndpoint(t, Config{}, true)
	sa, sb := pair(t, a, b, session.Options{}, session.Options{})
	ctx := testCtx(t)
	const n, size = 48, 1 << 20
	fit := maxQueuedBytes / size
	var ds []*session.Delivery
	for range n {
		d, err := sa.Send(ctx, &session.Outgoing{ContentType: "application/octet-stream", Body: make([]byte, size)})
		if err != nil {
			t.Fatal(err)
		}
		ds = append(ds, d)
	}
	done := func() int {
		k := 0
		for _, d := range ds {
			if d.Result().Outcome != session.Pending {
				k++
			}
		}
		return k
	}
	for done() < fit {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	if k := done(); k > fit+1 {
		t.Fatalf("%d messages accepted while the application received none (limit %d)", k, fit)
	}
	for range n {
		recv(t, sb)
	}
	for _, d := range ds {
		if r := wait(t, d); r.Outcome != session.Sent {
			t.Fatalf("%+v", r)
		}
	}
}

func TestCancelAfterOpenIsNoop(t *testing.T) {
	a := newTestEndpoint(t, Config{}, false)
	b := newTestEndpoint(t, Config{}, true)
	ctx := testCtx(t)
	off, _ := a.OfferWith(ctx, session.Options{}, SessionOptions{})
	ans, _ := b.AnswerWith(ctx, off.Media(), session.Options{}, SessionOptions{})
	go ans.OpenAnswer(ctx)
	s, err := off.OpenOffer(ctx, ans.Media())
	if err != nil {
		t.Fatal(err)
	}
	off.Cancel()
	select {
	case <-s.Done():
		t.Fatal("Cancel after Open closed the session")
	default:
	}
	// Cancel before Open releases the session.
	off2, _ := a.OfferWith(ctx, session.Options{}, SessionOptions{})
	off2.Cancel()
	<-off2.Session().Done()
}

func TestBadSessionOptions(t *testing.T) {
	a := newTestEndpoint(t, Config{}, false)
	ctx := testCtx(t)
	if _, err := a.OfferWith(ctx, session.Options{}, SessionOptions{FailureReport: "maybe"}); err == nil {
		t.Error("FailureReport maybe accepted")
	}
	if _, err := a.OfferWith(ctx, session.Options{}, SessionOptions{Proto: "TCP/TLS/MSRP"}); !errors.Is(err, session.ErrNotAcceptable) {
		t.Errorf("TLS proto without TLS config: %v", err)
	}
	if _, err := a.OfferWith(ctx, session.Options{}, SessionOptions{Relay: &Relay{}}); err == nil {
		t.Error("empty Relay accepted")
	}
}

// TestDirection: sendonly/recvonly/inactive restrict regular content only
// (RFC 4975 §8.9).
func TestDirection(t *testing.T) {
	a := newTestEndpoint(t, Config{}, false)
	b := newTestEndpoint(t, Config{}, true)
	sa, sb := pair(t, a, b, session.Options{}, session.Options{})
	ctx := testCtx(t)
	for _, tc := range []struct {
		local, remote string
		ok            bool
	}{
		{"", "", true}, {"sendrecv", "recvonly", true}, {"sendonly", "", true},
		{"recvonly", "", false}, {"", "sendonly", false}, {"inactive", "", false}, {"", "inactive", false},
	} {
		sa.mu.Lock()
		sa.local.Mode, sa.remote.Mode = tc.local, tc.remote
		sa.mu.Unlock()
		_, err := sa.Send(ctx, &session.Outgoing{ContentType: "text/plain", Body: []byte("hi")})
		if tc.ok != (err == nil) || !tc.ok && !errors.Is(err, ErrDirection) {
			t.Errorf("local %q remote %q: %v", tc.local, tc.remote, err)
		}
		if tc.ok {
			recv(t, sb)
			continue
		}
		// Is-composing indications still flow.
		if _, err := sa.Send(ctx, &session.Outgoing{ContentType: "application/im-iscomposing+xml", Body: []byte("<x/>")}); err != nil {
			t.Errorf("local %q remote %q: is-composing refused: %v", tc.local, tc.remote, err)
		}
		recv(t, sb)
	}
}

// TestReceiveChecksWrappedType: the type inside message/cpim must be in
// accept-types or accept-wrapped-types (RFC 4975 §8.6), else 415.
func TestReceiveChecksWrappedType(t *testing.T) {
	a := newTestEndpoint(t, Config{}, false)
	b := newTestEndpoint(t, Config{}, true)
	sa, sb := pair(t, a, b, session.Options{}, session.Options{AcceptTypes: []string{"message/cpim"}, AcceptWrappedTypes: []string{"text/plain"}})
	sa.mu.Lock()
	sa.remote.AcceptWrappedTypes = nil // the sender does not check
	sa.remote.AcceptTypes = []string{"*"}
	sa.mu.Unlock()
	ctx := testCtx(t)
	d, err := sa.Send(ctx, &session.Outgoing{ContentType: "image/png", Body: []byte("png"), CPIM: newTestCPIM(t)})
	if err != nil {
		t.Fatal(err)
	}
	if r := wait(t, d); r.Status != 415 {
		t.Fatalf("image/png in CPIM: %+v", r)
	}
	d, _ = sa.Send(ctx, &session.Outgoing{ContentType: "text/plain", Body: []byte("ok"), CPIM: newTestCPIM(t)})
	if r := wait(t, d); r.Outcome != session.Sent {
		t.Fatalf("text/plain in CPIM: %+v", r)
	}
	if in := recv(t, sb); in.CPIM == nil || string(in.CPIM.Body()) != "ok" {
		t.Fatalf("got %+v", in)
	}
}

func TestIPv6Loopback(t *testing.T) {
	l, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	l.Close()
	a := newTestEndpoint(t, Config{}, false)
	b := newTestEndpoint(t, Config{}, false)
	if _, err := b.Listen(context.Background(), "tcp", "[::1]:0"); err != nil {
		t.Fatal(err)
	}
	sa, sb := pair(t, a, b, session.Options{}, session.Options{})
	if p := sb.Local().Path[0]; !strings.HasPrefix(p, "msrp://[::1]:") {
		t.Fatalf("a=path %q", p)
	}
	if _, err := sa.Send(testCtx(t), &session.Outgoing{ContentType: "text/plain", Body: []byte("v6")}); err != nil {
		t.Fatal(err)
	}
	if in := recv(t, sb); string(in.Body) != "v6" {
		t.Fatalf("got %q", in.Body)
	}
}
