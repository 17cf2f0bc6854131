package msrp

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/parley-im/parley/messagesdp"
	"github.com/parley-im/parley/session"
)

// rawPeer is a hand-driven MSRP peer on a real socket: it writes frames
// exactly as a test wants (out of order, aborted, with any report
// headers) and reads what the endpoint sends.
type rawPeer struct {
	t  testing.TB
	nc net.Conn
	r  *Reader
	me URI // the raw peer's URI (its a=path)
	to URI // the endpoint session's URI
}

// newRawPassive makes endpoint b answer an offer from a raw active peer,
// connects the peer to b and binds the session with a bodiless SEND.
func newRawPassive(t testing.TB, b *Endpoint, opts session.Options) (*rawPeer, *Session) {
	t.Helper()
	ctx := testCtx(t)
	me := URI{Host: "127.0.0.1", Port: 9, SessionID: NewSessionID(), Transport: "tcp"}
	offer := &messagesdp.Media{Proto: messagesdp.ProtoMSRP, Port: 9, Address: "127.0.0.1", Formats: []string{"*"},
		Path: []string{me.String()}, AcceptTypes: []string{"*"}, Setup: "active"}
	ans, err := b.Answer(ctx, offer, opts)
	if err != nil {
		t.Fatal(err)
	}
	if ans.Media().Setup != "passive" {
		t.Fatalf("answer setup %q, want passive", ans.Media().Setup)
	}
	to, err := ParseURI(ans.Media().Path[0])
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan session.Session, 1)
	go func() {
		s, err := ans.Open(ctx)
		if err != nil {
			t.Error(err)
		}
		ch <- s
	}()
	p := dialRaw(t, b, me, to)
	tid := p.sendReq(&Frame{Method: MethodSEND, MessageID: NewMessageID()}, nil)
	p.expect(tid, 200)
	s := <-ch
	if s == nil {
		t.FailNow()
	}
	return p, s.(*Session)
}

func dialRaw(t testing.TB, b *Endpoint, me, to URI) *rawPeer {
	t.Helper()
	nc, err := net.Dial("tcp", b.listenAddr(false).String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &rawPeer{t: t, nc: nc, r: NewReader(nc, Limits{}), me: me, to: to}
}

// sendReq fills in the paths and a tid and writes the request.
func (p *rawPeer) sendReq(f *Frame, body []byte) string {
	p.t.Helper()
	if f.TID == "" {
		f.TID = NewTransactionID()
	}
	if f.ToPath == nil {
		f.ToPath = []URI{p.to}
	}
	if f.FromPath == nil {
		f.FromPath = []URI{p.me}
	}
	if f.Flag == 0 {
		f.Flag = FlagEnd
	}
	p.write(AppendFrame(nil, f, body))
	return f.TID
}

func (p *rawPeer) write(b []byte) {
	p.t.Helper()
	if _, err := p.nc.Write(b); err != nil {
		p.t.Fatal(err)
	}
}

// chunk sends one SEND chunk of message id.
func (p *rawPeer) chunk(id string, br ByteRange, flag Flag, body string, mod func(*Frame)) string {
	f := &Frame{Method: MethodSEND, MessageID: id, HasByteRange: true, ByteRange: br, ContentType: "text/plain", Flag: flag}
	if mod != nil {
		mod(f)
	}
	return p.sendReq(f, []byte(body))
}

// read reads the next frame and its body.
func (p *rawPeer) read() (*Frame, []byte) {
	p.t.Helper()
	p.nc.SetReadDeadline(time.Now().Add(20 * time.Second))
	f, err := p.r.ReadFrame()
	if err != nil {
		p.t.Fatalf("raw peer read: %v", err)
	}
	body, err := io.ReadAll(p.r)
	if err != nil {
		p.t.Fatalf("raw peer body: %v", err)
	}
	return f, body
}

// expect reads the next frame, which must be the response to tid.
func (p *rawPeer) expect(tid string, code int) *Frame {
	p.t.Helper()
	f, _ := p.read()
	if f.IsRequest() || f.TID != tid || f.StatusCode != code {
		p.t.Fatalf("got %s %s %d, want response %s %d", f.TID, f.Method, f.StatusCode, tid, code)
	}
	return f
}

func TestOutOfOrderChunks(t *testing.T) {
	b := newTestEndpoint(t, Config{}, true)
	p, s := newRawPassive(t, b, session.Options{})
	// Two messages, interleaved, each with its last chunk first.
	p.expect(p.chunk("msgaaaa1", ByteRange{6, 10, 10}, FlagEnd, "fghij", nil), 200)
	p.expect(p.chunk("msgbbbb2", ByteRange{4, 6, 6}, FlagEnd, "DEF", nil), 200)
	p.expect(p.chunk("msgaaaa1", ByteRange{1, Unknown, 10}, FlagMore, "abcde", nil), 200)
	in := recv(t, s)
	if in.ID != "msgaaaa1" || string(in.Body) != "abcdefghij" {
		t.Fatalf("got %s %q", in.ID, in.Body)
	}
	p.expect(p.chunk("msgbbbb2", ByteRange{1, 3, 6}, FlagMore, "ABC", nil), 200)
	in = recv(t, s)
	if in.ID != "msgbbbb2" || string(in.Body) != "ABCDEF" {
		t.Fatalf("got %s %q", in.ID, in.Body)
	}
}

func TestAbortDiscards(t *testing.T) {
	b := newTestEndpoint(t, Config{}, true)
	p, s := newRawPassive(t, b, session.Options{})
	p.expect(p.chunk("aborted1", ByteRange{1, Unknown, 10}, FlagMore, "abcde", nil), 200)
	p.expect(p.chunk("aborted1", ByteRange{6, Unknown, 10}, FlagAbort, "fg", nil), 200)
	p.expect(p.chunk("complete", ByteRange{1, 2, 2}, FlagEnd, "ok", nil), 200)
	in := recv(t, s)
	if in.ID != "complete" {
		t.Fatalf("got %s %q: the aborted message was delivered", in.ID, in.Body)
	}
	// Data for the aborted message is no longer accepted as a new start.
	p.expect(p.chunk("aborted1", ByteRange{8, 10, 10}, FlagEnd, "hij", nil), 200)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if in, err := s.Receive(ctx); err == nil {
		t.Fatalf("incomplete message delivered: %s %q", in.ID, in.Body)
	}
}

func Test481And506(t *testing.T) {
	b := newTestEndpoint(t, Config{}, true)
	p, _ := newRawPassive(t, b, session.Options{})
	// Unknown session on a bound connection: 481 (§7.3).
	unknown := p.to
	unknown.SessionID = "nosuchsession12345"
	p.expect(p.sendReq(&Frame{Method: MethodSEND, MessageID: "abcdabcd", ToPath: []URI{unknown}}, nil), 481)
	// ... but not with Failure-Report: no (§7.1.2).
	p.sendReq(&Frame{Method: MethodSEND, MessageID: "abcdabcd", ToPath: []URI{unknown}, FailureReport: "no"}, nil)
	p.expect(p.sendReq(&Frame{Method: MethodSEND, MessageID: "abcdabcd"}, nil), 200)
	// Same URI, other host: not the session (§6.1 comparison).
	other := p.to
	other.Host = "127.0.0.2"
	p.expect(p.sendReq(&Frame{Method: MethodSEND, MessageID: "abcdabcd", ToPath: []URI{other}}, nil), 481)
	// A second connection for the bound session: 506 (§5.4).
	p2 := dialRaw(t, b, p.me, p.to)
	p2.expect(p2.sendReq(&Frame{Method: MethodSEND, MessageID: "abcdabcd"}, nil), 506)
	// An unknown session as the first request of a new connection: 481.
	p3 := dialRaw(t, b, p.me, unknown)
	p3.expect(p3.sendReq(&Frame{Method: MethodSEND, MessageID: "abcdabcd"}, nil), 481)
}

func TestFailureReportModes(t *testing.T) {
	b := newTestEndpoint(t, Config{}, true)
	p, s := newRawPassive(t, b, session.Options{AcceptTypes: []string{"text/plain"}})
	// "no": no response at all, even for an error.
	p.chunk("frnoaaaa", ByteRange{1, 2, 2}, FlagEnd, "no", func(f *Frame) { f.FailureReport = "no" })
	p.chunk("frnobbbb", ByteRange{1, 2, 2}, FlagEnd, "no", func(f *Frame) { f.FailureReport = "no"; f.ContentType = "image/png" })
	// "partial": never a 200, but errors are answered.
	p.chunk("frpartia", ByteRange{1, 2, 2}, FlagEnd, "pa", func(f *Frame) { f.FailureReport = "partial" })
	bad := p.chunk("frpartib", ByteRange{1, 2, 2}, FlagEnd, "pb", func(f *Frame) { f.FailureReport = "partial"; f.ContentType = "image/png" })
	p.expect(bad, 415)
	// ... and followed by a failure REPORT (partial: the REPORT is the
	// end-to-end notice, §7.1.4), whose range-end counts the octets read.
	if f, _ := p.read(); f.Method != MethodREPORT || f.MessageID != "frpartib" || f.Status.Code != 415 || f.ByteRange != (ByteRange{1, 2, 2}) {
		t.Fatalf("got %s %s status %v range %v, want a 415 failure REPORT 1-2/2", f.Method, f.MessageID, f.Status, f.ByteRange)
	}
	yes := p.chunk("fryesyes", ByteRange{1, 3, 3}, FlagEnd, "yes", nil)
	p.expect(yes, 200) // nothing else came before it
	var got []string
	for range 3 {
		got = append(got, string(recv(t, s).Body))
	}
	if want := []string{"no", "pa", "yes"}; !equalStrings(got, want) {
		t.Fatalf("received %q, want %q", got, want)
	}
}

func TestReportNeverAnswered(t *testing.T) {
	b := newTestEndpoint(t, Config{}, true)
	p, _ := newRawPassive(t, b, session.Options{})
	rep := &Frame{Method: MethodREPORT, MessageID: "unknownmsg", HasStatus: true, Status: Status{Code: 200}, HasByteRange: true, ByteRange: ByteRange{1, 5, 5}}
	p.sendReq(rep, nil)
	unknown := p.to
	unknown.SessionID = "nosuchsession12345"
	p.sendReq(&Frame{Method: MethodREPORT, ToPath: []URI{unknown}, MessageID: "unknownmsg", HasStatus: true, Status: Status{Code: 481}}, nil)
	p.expect(p.sendReq(&Frame{Method: MethodSEND, MessageID: "abcdabcd"}, nil), 200)
}

func TestSuccessReportGenerated(t *testing.T) {
	b := newTestEndpoint(t, Config{}, true)
	p, s := newRawPassive(t, b, session.Options{})
	body := "chunked with reports"
	p.expect(p.chunk("srmessage", ByteRange{11, 20, 20}, FlagEnd, body[10:], func(f *Frame) { f.SuccessReport = "yes" }), 200)
	p.expect(p.chunk("srmessage", ByteRange{1, Unknown, 20}, FlagMore, body[:10], func(f *Frame) { f.SuccessReport = "yes" }), 200)
	f, _ := p.read()
	if f.Method != MethodREPORT || f.MessageID != "srmessage" || !f.HasStatus || f.Status.Code != 200 || f.Status.Namespace != 0 {
		t.Fatalf("got %+v, want success REPORT", f)
	}
	if f.ByteRange != (ByteRange{1, 20, 20}) || len(f.ToPath) != 1 || !f.ToPath[0].Equal(p.me) {
		t.Fatalf("REPORT range %v to %v", f.ByteRange, f.ToPath)
	}
	if f.SuccessReport != "" || f.FailureReport != "" {
		t.Fatal("REPORT carries report headers (§7.1.2)")
	}
	if in := recv(t, s); string(in.Body) != body {
		t.Fatalf("got %q", in.Body)
	}
	// No REPORT without Success-Report (the default is no).
	p.expect(p.chunk("nosrmsg1", ByteRange{1, 2, 2}, FlagEnd, "hi", nil), 200)
	p.expect(p.sendReq(&Frame{Method: MethodSEND, MessageID: "abcdabcd"}, nil), 200)
}

func TestMalformedGets400AndConnectionLives(t *testing.T) {
	b := newTestEndpoint(t, Config{}, true)
	p, s := newRawPassive(t, b, session.Options{})
	tid := NewTransactionID()
	p.write([]byte("MSRP " + tid + " SEND\r\nTo-Path: " + p.to.String() + "\r\nFrom-Path: " + p.me.String() +
		"\r\nMessage-ID: badrange1\r\nByte-Range: 5-2/1\r\nContent-Type: text/plain\r\n\r\nxx\r\n-------" + tid + "$\r\n"))
	p.expect(tid, 400)
	p.expect(p.sendReq(&Frame{Method: "NICKNAME"}, nil), 501)
	p.expect(p.chunk("goodmsg1", ByteRange{1, 2, 2}, FlagEnd, "ok", nil), 200)
	if in := recv(t, s); string(in.Body) != "ok" {
		t.Fatalf("got %q", in.Body)
	}
}

// rawActive makes endpoint a offer, lets a raw passive peer answer, and
// accepts a's connection; it returns the peer after the binding SEND.
func newRawActive(t testing.TB, a *Endpoint, opts session.Options) (*rawPeer, *Session) {
	t.Helper()
	ctx := testCtx(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	off, err := a.Offer(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	to, _ := ParseURI(off.Media().Path[0])
	me := URI{Host: "127.0.0.1", Port: l.Addr().(*net.TCPAddr).Port, SessionID: NewSessionID(), Transport: "tcp"}
	answer := &messagesdp.Media{Proto: messagesdp.ProtoMSRP, Port: me.Port, Address: "127.0.0.1", Formats: []string{"*"},
		Path: []string{me.String()}, AcceptTypes: []string{"*"}, Setup: "passive"}
	ch := make(chan session.Session, 1)
	go func() {
		s, err := off.Open(ctx, answer)
		if err != nil {
			t.Error(err)
		}
		ch <- s
	}()
	nc, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	p := &rawPeer{t: t, nc: nc, r: NewReader(nc, Limits{}), me: me, to: to}
	f, _ := p.read()
	if f.Method != MethodSEND || f.HasBody() || len(f.ToPath) != 1 || !f.ToPath[0].Equal(me) {
		t.Fatalf("first frame %+v, want a bodiless SEND to %v (§5.4)", f, me)
	}
	p.respond(f, 200)
	s := <-ch
	if s == nil {
		t.FailNow()
	}
	return p, s.(*Session)
}

func (p *rawPeer) respond(req *Frame, code int) {
	resp := Respond(req, code, "")
	p.write(AppendFrame(nil, resp, nil))
}

// readMessage reads SEND chunks of one message, answering each with 200,
// and returns the reassembled body and the last chunk.
func (p *rawPeer) readMessage() ([]byte, *Frame) {
	p.t.Helper()
	var buf []byte
	for {
		f, body := p.read()
		if f.Method != MethodSEND {
			p.t.Fatalf("got %s, want SEND", f.Method)
		}
		p.respond(f, 200)
		if f.ByteRange.Start != int64(len(buf))+1 {
			p.t.Fatalf("chunk starts at %d after %d octets", f.ByteRange.Start, len(buf))
		}
		if len(body) > maxUninterruptible && f.ByteRange.End != Unknown {
			p.t.Fatalf("chunk of %d octets is not interruptible (§7.1)", len(body))
		}
		buf = append(buf, body...)
		if f.Flag != FlagMore {
			return buf, f
		}
	}
}

func TestIncomingReportCorrelation(t *testing.T) {
	a := newTestEndpoint(t, Config{}, true)
	p, s := newRawActive(t, a, session.Options{WantReceipts: true})
	ctx := testCtx(t)
	report := func(id string, br ByteRange, code int) {
		p.sendReq(&Frame{Method: MethodREPORT, MessageID: id, HasByteRange: true, ByteRange: br, HasStatus: true, Status: Status{Code: code}}, nil)
	}
	// Incremental success reports: Delivered only when every byte is covered.
	d, _ := s.Send(ctx, &session.Outgoing{ContentType: "text/plain", Body: bytes.Repeat([]byte("z"), 5000)})
	body, last := p.readMessage()
	if len(body) != 5000 || last.SuccessReport != "yes" || last.Flag != FlagEnd {
		t.Fatalf("got %d octets, %+v", len(body), last)
	}
	report(d.ID(), ByteRange{1, 3000, 5000}, 200)
	report("unknownmsgid", ByteRange{1, 10, 10}, 200)
	time.Sleep(20 * time.Millisecond)
	select {
	case <-d.Done():
		t.Fatalf("delivered after a partial report: %+v", d.Result())
	default:
	}
	if _, conf := d.Progress(); conf != 3000 {
		t.Errorf("confirmed %d, want 3000", conf)
	}
	report(d.ID(), ByteRange{3001, 5000, 5000}, 200)
	if r := wait(t, d); r.Outcome != session.Delivered {
		t.Fatalf("%+v", r)
	}
	// A failure report fails the delivery with its status.
	d, _ = s.Send(ctx, &session.Outgoing{ContentType: "text/plain", Body: []byte("doomed")})
	p.readMessage()
	report(d.ID(), ByteRange{1, 6, 6}, 403)
	if r := wait(t, d); r.Outcome != session.Failed || r.Status != 403 {
		t.Fatalf("%+v", r)
	}
}

func TestSenderHandlesErrorResponses(t *testing.T) {
	a := newTestEndpoint(t, Config{}, true)
	p, s := newRawActive(t, a, session.Options{})
	ctx := testCtx(t)
	for _, tc := range []struct {
		code    int
		outcome session.Outcome
		err     error
	}{
		{400, session.Failed, nil},
		{403, session.Failed, nil},
		{408, session.TimedOut, ErrTimeout},
		{413, session.Failed, session.ErrTooLarge},
		{415, session.Failed, session.ErrTypeNotAccepted},
		{423, session.Failed, nil},
		{501, session.Failed, nil},
		{481, session.Failed, ErrSessionUnknown},
	} {
		t.Run(strconv.Itoa(tc.code), func(t *testing.T) {
			d, err := s.Send(ctx, &session.Outgoing{ContentType: "text/x-" + strconv.Itoa(tc.code), Body: []byte("x")})
			if err != nil {
				t.Fatal(err)
			}
			f, _ := p.read()
			p.respond(f, tc.code)
			r := wait(t, d)
			if r.Outcome != tc.outcome || (tc.code != 408 && r.Status != tc.code) || (tc.err != nil && !errors.Is(r.Err, tc.err)) {
				t.Fatalf("%+v", r)
			}
		})
	}
	// 481 failed the session.
	select {
	case <-s.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("session alive after 481")
	}
	if !errors.Is(s.Err(), ErrSessionUnknown) {
		t.Fatalf("Err = %v", s.Err())
	}
}

// TestPeerVanishesMidTransfer: the peer closes its socket while a large
// message streams; the sender learns it at once, never silently.
func TestPeerVanishesMidTransfer(t *testing.T) {
	a := newTestEndpoint(t, Config{}, true)
	p, s := newRawActive(t, a, session.Options{})
	d, err := s.Send(testCtx(t), &session.Outgoing{ContentType: "application/octet-stream", BodyReader: bytes.NewReader(make([]byte, 64<<20)), Size: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	f, err := p.r.ReadFrame()
	if err != nil || f.Method != MethodSEND {
		t.Fatalf("%v %v", f, err)
	}
	io.CopyN(io.Discard, p.r, 1<<20)
	p.nc.Close()
	r := wait(t, d)
	if r.Outcome != session.Failed || !errors.Is(r.Err, ErrConnLost) {
		t.Fatalf("%+v", r)
	}
	<-s.Done()
	if !errors.Is(s.Err(), ErrConnLost) {
		t.Fatalf("Err = %v", s.Err())
	}
}

func TestSenderCancelAborts(t *testing.T) {
	a := newTestEndpoint(t, Config{}, true)
	p, s := newRawActive(t, a, session.Options{})
	pr, pw := io.Pipe()
	defer pw.Close()
	d, _ := s.Send(testCtx(t), &session.Outgoing{ContentType: "text/plain", BodyReader: pr, Size: 1 << 20})
	go pw.Write(make([]byte, 10000))
	// The source stalls after 10000 octets: the chunk ends with '+'.
	f, body := p.read()
	if f.Flag != FlagMore || len(body) != 10000 || f.ByteRange != (ByteRange{1, Unknown, 1 << 20}) {
		t.Fatalf("first chunk %v %q, %d octets", f.ByteRange, f.Flag, len(body))
	}
	p.respond(f, 200)
	s.Cancel(d)
	// The abort goes out as an empty chunk with '#' at the next octet.
	f, body = p.read()
	if f.MessageID != d.ID() || f.Flag != FlagAbort || len(body) != 0 || f.ByteRange.Start != 10001 {
		t.Fatalf("abort chunk %+v %q", f, body)
	}
	p.respond(f, 200)
	if r := wait(t, d); r.Outcome != session.Failed {
		t.Fatalf("%+v", r)
	}
	// The session goes on.
	s.Send(testCtx(t), &session.Outgoing{ContentType: "text/plain", Body: []byte("next")})
	if got, _ := p.readMessage(); string(got) != "next" {
		t.Fatalf("got %q", got)
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestStreamedKnownSizeEndsAtSize: with Size known, the '$' chunk carries
// the last octets; the sender neither waits for the source's EOF nor sends
// an empty chunk past the total.
func TestStreamedKnownSizeEndsAtSize(t *testing.T) {
	a := newTestEndpoint(t, Config{}, true)
	p, s := newRawActive(t, a, session.Options{})
	pr, pw := io.Pipe()
	defer pw.Close()
	const size = 300000
	go pw.Write(make([]byte, size)) // and never closes
	d, err := s.Send(testCtx(t), &session.Outgoing{ContentType: "application/octet-stream", BodyReader: pr, Size: size})
	if err != nil {
		t.Fatal(err)
	}
	body, last := p.readMessage()
	if len(body) != size || last.Flag != FlagEnd || last.ByteRange.Start > size || last.ByteRange.Total != size {
		t.Fatalf("%d octets, last chunk %v %q", len(body), last.ByteRange, last.Flag)
	}
	if r := wait(t, d); r.Outcome != session.Sent {
		t.Fatalf("%+v", r)
	}
}
