package hostile

import (
	"bytes"
	"context"
	"io"
	"net"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/parley-im/parley/cpimtransport"
	"github.com/parley-im/parley/messagesdp"
	"github.com/parley-im/parley/session"
)

func newSeedEndpoint(t testing.TB, cfg cpimtransport.Config) (*cpimtransport.Endpoint, string) {
	t.Helper()
	cfg.Host = "127.0.0.1"
	ep, err := cpimtransport.NewEndpoint(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ep.Close() })
	l, err := ep.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ep, l.Addr().String()
}

// seedSession is a session of a live seed Endpoint whose peer is a raw
// socket that speaks the draft's framing by hand.
type seedSession struct {
	sess     session.Session
	nc       net.Conn
	mine     string // our a=uri (CPIM From)
	theirs   string // the endpoint's a=uri (CPIM To)
	eof      chan struct{}
	received chan *session.Incoming
}

func openSeedSession(t testing.TB, ep *cpimtransport.Endpoint, addr string) *seedSession {
	t.Helper()
	ctx := testCtx(t)
	mine := cpimtransport.NewSessionURI("127.0.0.1")
	offer := &messagesdp.Media{Proto: messagesdp.ProtoCPIMTCP, Port: 9, Address: "127.0.0.1",
		Formats: []string{"text/plain"}, URI: mine, Direction: messagesdp.DirectionActive, Setup: messagesdp.SetupActive}
	ans, err := ep.Answer(ctx, offer, session.Options{AcceptTypes: []string{"text/plain"}, MaxSize: 64 << 10})
	if err != nil {
		t.Fatalf("Answer: %v", err)
	}
	nc, err := net.DialTimeout("tcp", addr, reactionTimeout)
	if err != nil {
		t.Fatal(err)
	}
	ss := &seedSession{nc: nc, mine: mine, theirs: ans.Media().URI, eof: make(chan struct{}), received: make(chan *session.Incoming, 64)}
	go func() {
		defer close(ss.eof)
		io.Copy(io.Discard, nc)
	}()
	// Open may wait for the first message on a connection; send one.
	type res struct {
		s   session.Session
		err error
	}
	ch := make(chan res, 1)
	go func() { s, err := ans.Open(ctx); ch <- res{s, err} }()
	var r res
	select {
	case r = <-ch:
	case <-time.After(200 * time.Millisecond):
		ss.writeMessage(t, 0, "hello")
		r = <-ch
	}
	if r.err != nil {
		t.Fatalf("Open: %v", r.err)
	}
	ss.sess = r.s
	recvDone := make(chan struct{})
	go func() {
		defer close(recvDone)
		for {
			in, err := r.s.Receive(context.Background())
			if err != nil {
				return
			}
			if string(in.Body) == "hello" {
				continue
			}
			ss.received <- in
		}
	}()
	t.Cleanup(func() { r.s.Close(); nc.Close(); <-ss.eof; <-recvDone })
	return ss
}

func (ss *seedSession) writeMessage(t testing.TB, id int, body string) {
	t.Helper()
	msg := "From: <" + ss.mine + ">\r\nTo: <" + ss.theirs + ">\r\nMsgID: " + strconv.Itoa(id) +
		"\r\n\r\nContent-Type: text/plain\r\n\r\n" + body
	ss.nc.SetWriteDeadline(time.Now().Add(reactionTimeout))
	if _, err := ss.nc.Write(cpimtransport.AppendFrame(nil, []byte(msg))); err != nil {
		t.Fatalf("write: %v", err)
	}
}

func (ss *seedSession) next(d time.Duration) (*session.Incoming, error) {
	select {
	case in := <-ss.received:
		return in, nil
	case <-time.After(d):
		return nil, errNoReaction
	}
}

func (ss *seedSession) closed(d time.Duration) bool {
	select {
	case <-ss.eof:
		return true
	case <-time.After(d):
		return false
	}
}

// seedFill fills the placeholders of a seed case: {FROM}, {TO}, then
// {LEN}, the length of what follows the envelope's blank line.
func seedFill(data []byte, ss *seedSession) []byte {
	data = materialize(data, map[string]string{"{FROM}": ss.mine, "{TO}": ss.theirs})
	i := bytes.Index(data, []byte("{LEN}"))
	if i < 0 {
		return data
	}
	rest := data[i:]
	end := bytes.Index(rest, []byte("\r\n\r\n"))
	sep := 4
	if lf := bytes.Index(rest, []byte("\n\n")); end < 0 || (lf >= 0 && lf < end) {
		end, sep = lf, 2
	}
	n := len(rest) - end - sep
	return bytes.Replace(data, []byte("{LEN}"), []byte(strconv.Itoa(n)), 1)
}

// TestReplaySeed replays the seed corpus at a live cpimtransport.Endpoint.
// The draft has no responses: a bad frame is discarded (and the stream
// resynchronised) or the connection is closed; a valid message that
// follows must still be delivered.
func TestReplaySeed(t *testing.T) {
	// One Endpoint per case: a passive seed session is bound to the most
	// recent connection from its peer's address (FINDINGS.md F4), so the
	// previous case's connection, still closing, could capture it.
	ep0, addr0 := newSeedEndpoint(t, cpimtransport.Config{})
	openSeedSession(t, ep0, addr0).sess.Close()
	g0 := runtime.NumGoroutine()
	h0 := heapAlloc()
	for _, c := range casesFor(t, "seed") {
		t.Run(c.name, func(t *testing.T) {
			ep, addr := newSeedEndpoint(t, cpimtransport.Config{})
			ss := openSeedSession(t, ep, addr)
			data := seedFill(c.data, ss)
			ss.nc.SetWriteDeadline(time.Now().Add(reactionTimeout))
			if _, err := ss.nc.Write(data); err != nil && c.expect != "close" {
				t.Fatalf("write: %v", err)
			}
			switch c.expect {
			case "delivered":
				in, err := ss.next(reactionTimeout)
				if err != nil || string(in.Body) != "hostile" {
					t.Fatalf("want the message delivered: %v %v (stats %+v)", in, err, ep.Stats())
				}
			case "ignored":
				ss.writeMessage(t, 2, "probe")
				in, err := ss.next(reactionTimeout)
				if err != nil {
					t.Fatalf("probe after the case not delivered: %v (stats %+v)", err, ep.Stats())
				}
				if string(in.Body) != "probe" {
					t.Fatalf("want the case discarded, got %q delivered", in.Body)
				}
			case "close":
				if !ss.closed(reactionTimeout) {
					t.Fatal("connection not closed")
				}
			case "truncated":
				ss.nc.(*net.TCPConn).CloseWrite()
				if !ss.closed(reactionTimeout) {
					t.Fatal("connection not closed after the half-close: hang")
				}
				select {
				case in := <-ss.received:
					t.Fatalf("truncated input delivered: %q", in.Body)
				default:
				}
			default:
				t.Fatalf("unknown expectation %q", c.expect)
			}
		})
	}
	ss := openSeedSession(t, ep0, addr0)
	ss.writeMessage(t, 1, "fresh")
	if in, err := ss.next(reactionTimeout); err != nil || string(in.Body) != "fresh" {
		t.Fatalf("fresh session after the corpus: %v %v", in, err)
	}
	ss.sess.Close()
	ss.nc.Close()
	if h1 := heapAlloc(); h1 > h0+32<<20 {
		t.Errorf("heap grew from %d to %d over the corpus", h0, h1)
	}
	if n := settleGoroutines(g0 + 3); n > g0+3 {
		t.Errorf("goroutines: %d before the corpus, %d after", g0, n)
	}
}

// TestSeedSplitDelivery replays the seed corpus one byte per write.
func TestSeedSplitDelivery(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: one write per byte")
	}
	for _, c := range casesFor(t, "seed") {
		if len(c.data) > 16<<10 || c.expect != "delivered" && c.expect != "ignored" {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			ep, addr := newSeedEndpoint(t, cpimtransport.Config{})
			ss := openSeedSession(t, ep, addr)
			data := seedFill(c.data, ss)
			for i := range data {
				ss.nc.SetWriteDeadline(time.Now().Add(reactionTimeout))
				if _, err := ss.nc.Write(data[i : i+1]); err != nil {
					t.Fatal(err)
				}
			}
			want := "hostile"
			if c.expect == "ignored" {
				ss.writeMessage(t, 2, "probe")
				want = "probe"
			}
			in, err := ss.next(reactionTimeout)
			if err != nil || string(in.Body) != want {
				t.Fatalf("want %q delivered, got %v %v", want, in, err)
			}
		})
	}
}
