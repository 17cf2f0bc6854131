package hostile

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-im/parley/messagesdp"
	"github.com/parley-im/parley/msrp"
	"github.com/parley-im/parley/session"
)

// reactionTimeout bounds every wait for a reaction: a response, a close.
// A hang shows up as a test failure after it, never as a stuck test.
const reactionTimeout = 5 * time.Second

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// peer is a raw MSRP socket driven by the test: what it writes is not
// checked, and a goroutine reads frames with Parley's codec (the only
// trusted part) into a channel so that waits can time out.
type peer struct {
	t    testing.TB
	nc   net.Conn
	in   chan peerFrame
	done chan struct{}
	gone chan struct{}
	self msrp.URI
}

type peerFrame struct {
	f    *msrp.Frame
	body []byte
	err  error
}

func dialPeer(t testing.TB, addr string) *peer {
	t.Helper()
	p := dialPeerManual(t, addr)
	t.Cleanup(p.close)
	return p
}

// dialPeerManual is dialPeer for loops: the caller closes the peer.
func dialPeerManual(t testing.TB, addr string) *peer {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, reactionTimeout)
	if err != nil {
		t.Fatal(err)
	}
	la := nc.LocalAddr().(*net.TCPAddr)
	p := &peer{t: t, nc: nc, in: make(chan peerFrame, 256), done: make(chan struct{}), gone: make(chan struct{}),
		self: msrp.URI{Host: "127.0.0.1", Port: la.Port, SessionID: msrp.NewSessionID(), Transport: "tcp"}}
	go func() {
		defer close(p.gone)
		r := msrp.NewReader(nc, msrp.Limits{})
		for {
			f, err := r.ReadFrame()
			var body []byte
			if err == nil {
				body, err = io.ReadAll(io.LimitReader(r, 1<<20))
			} else if _, ok := errors.AsType[*msrp.StatusError](err); ok {
				continue // a frame we cannot parse; our own problem, skip it
			}
			select {
			case p.in <- peerFrame{f, body, err}:
			case <-p.done:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	return p
}

func (p *peer) close() {
	select {
	case <-p.done:
		return
	default:
	}
	close(p.done)
	p.nc.Close()
	<-p.gone
}

func (p *peer) write(b []byte) error {
	p.nc.SetWriteDeadline(time.Now().Add(reactionTimeout))
	_, err := p.nc.Write(b)
	return err
}

func (p *peer) writeFrame(f *msrp.Frame, body []byte) {
	p.t.Helper()
	if f.TID == "" {
		f.TID = msrp.NewTransactionID()
	}
	if f.Flag == 0 {
		f.Flag = msrp.FlagEnd
	}
	if err := p.write(msrp.AppendFrame(nil, f, body)); err != nil {
		p.t.Fatalf("write: %v", err)
	}
}

var errNoReaction = errors.New("no reaction within the timeout")

// next returns the next frame the other side sent, io.EOF (or another
// read error) once it closed, or errNoReaction.
func (p *peer) next(d time.Duration) (*msrp.Frame, []byte, error) {
	select {
	case r := <-p.in:
		if r.err != nil {
			p.in <- r // keep reporting the end
		}
		return r.f, r.body, r.err
	case <-time.After(d):
		return nil, nil, errNoReaction
	}
}

// response waits for the response to tid, answering nothing and skipping
// requests (the test side never asks for reports).
func (p *peer) response(tid string, d time.Duration) (*msrp.Frame, error) {
	deadline := time.Now().Add(d)
	for {
		f, _, err := p.next(time.Until(deadline))
		if err != nil {
			return nil, err
		}
		if !f.IsRequest() && f.TID == tid {
			return f, nil
		}
	}
}

// closed reports whether the other side closes the connection within d
// (frames it sends first are skipped).
func (p *peer) closed(d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		_, _, err := p.next(time.Until(deadline))
		if errors.Is(err, errNoReaction) {
			return false
		}
		if err != nil {
			return true
		}
	}
}

// rawSession is a session of a live Endpoint whose other end is a raw
// socket: the Endpoint answered an offer made by the test, and the socket
// bound the session with a bodiless SEND (RFC 4975 §5.4).
type rawSession struct {
	ep       *msrp.Endpoint
	sess     *msrp.Session
	peer     *peer
	to       msrp.URI
	received atomic.Int64
	recvDone chan struct{}
}

var answerOpts = session.Options{
	AcceptTypes: []string{"text/plain", "message/cpim", "application/octet-stream"},
	MaxSize:     64 << 10,
}

func newEndpoint(t testing.TB, cfg msrp.Config) (*msrp.Endpoint, string) {
	t.Helper()
	ep, err := msrp.NewEndpoint(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ep.Close() })
	l, err := ep.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ep, l.Addr().String()
}

func openRawSession(t testing.TB, ep *msrp.Endpoint, addr string, opts session.Options) *rawSession {
	t.Helper()
	rs := openRawSessionManual(t, ep, addr, opts)
	t.Cleanup(rs.close)
	return rs
}

// close closes the session and the peer and waits for the receiver.
func (rs *rawSession) close() {
	rs.sess.Close()
	<-rs.recvDone
	rs.peer.close()
}

// openRawSessionManual is openRawSession for loops: the caller calls close.
func openRawSessionManual(t testing.TB, ep *msrp.Endpoint, addr string, opts session.Options) *rawSession {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p := dialPeerManual(t, addr)
	offer := &messagesdp.Media{Proto: messagesdp.ProtoMSRP, Port: 9, Address: "127.0.0.1", Formats: []string{"*"},
		Path: []string{p.self.String()}, AcceptTypes: []string{"*"}, Setup: messagesdp.SetupActive}
	pend, err := ep.AnswerWith(ctx, offer, opts, msrp.SessionOptions{})
	if err != nil {
		t.Fatalf("AnswerWith: %v", err)
	}
	to, err := msrp.ParseURI(pend.Media().Path[len(pend.Media().Path)-1])
	if err != nil {
		t.Fatal(err)
	}
	type res struct {
		s   *msrp.Session
		err error
	}
	ch := make(chan res, 1)
	go func() { s, err := pend.OpenAnswer(ctx); ch <- res{s, err} }()
	bind := &msrp.Frame{Method: msrp.MethodSEND, ToPath: []msrp.URI{to}, FromPath: []msrp.URI{p.self}, MessageID: msrp.NewMessageID()}
	p.writeFrame(bind, nil)
	resp, err := p.response(bind.TID, reactionTimeout)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("binding SEND: %v %v", resp, err)
	}
	r := <-ch
	if r.err != nil {
		t.Fatalf("OpenAnswer: %v", r.err)
	}
	rs := &rawSession{ep: ep, sess: r.s, peer: p, to: to, recvDone: make(chan struct{})}
	go func() {
		defer close(rs.recvDone)
		for {
			if _, err := r.s.Receive(context.Background()); err != nil {
				return
			}
			rs.received.Add(1)
		}
	}()
	return rs
}

// flipCase changes the case of the first letter of s.
func flipCase(s string) string {
	for i, c := range s {
		switch {
		case c >= 'a' && c <= 'z':
			return s[:i] + strings.ToUpper(string(c)) + s[i+1:]
		case c >= 'A' && c <= 'Z':
			return s[:i] + strings.ToLower(string(c)) + s[i+1:]
		}
	}
	return s + "x"
}

func msrpVars(to []msrp.URI, from msrp.URI) map[string]string {
	last := to[len(to)-1]
	if len(to) > 1 {
		// At a relay the session-id that matters is the Use-Path URL's.
		last = to[len(to)-2]
	}
	altered := last
	altered.SessionID = flipCase(last.SessionID)
	unknown := last
	unknown.SessionID = msrp.NewSessionID()
	swap := func(u msrp.URI) string {
		p := append([]msrp.URI(nil), to...)
		for i := range p {
			if p[i].Equal(last) {
				p[i] = u
			}
		}
		return msrp.FormatPath(p)
	}
	return map[string]string{
		"{TO}":         msrp.FormatPath(to),
		"{TO_CASE}":    swap(altered),
		"{TO_UNKNOWN}": swap(unknown),
		"{FROM}":       from.String(),
	}
}

// probe sends a valid SEND on p and reports whether it is answered 200:
// the connection survived the case and is still in sync.
func probe(p *peer, to []msrp.URI) error {
	f := &msrp.Frame{TID: "probe" + strconv.Itoa(int(time.Now().UnixNano()%1e9)), Method: msrp.MethodSEND, ToPath: to,
		FromPath: []msrp.URI{p.self}, MessageID: msrp.NewMessageID(), ContentType: "text/plain",
		ByteRange: msrp.ByteRange{Start: 1, End: 5, Total: 5}, HasByteRange: true, Flag: msrp.FlagEnd}
	if err := p.write(msrp.AppendFrame(nil, f, []byte("probe"))); err != nil {
		return fmt.Errorf("probe write: %w", err)
	}
	for {
		g, _, err := p.next(reactionTimeout)
		if err != nil {
			return fmt.Errorf("probe: %w", err)
		}
		if g.IsRequest() {
			continue
		}
		if g.TID != f.TID {
			return fmt.Errorf("probe: unexpected response %d to %s before the probe's", g.StatusCode, g.TID)
		}
		if g.StatusCode != 200 {
			return fmt.Errorf("probe answered %d", g.StatusCode)
		}
		return nil
	}
}

// checkReaction verifies one case's reaction on p, which has just been
// sent the case bytes.
func checkReaction(t *testing.T, p *peer, to []msrp.URI, expect string) {
	t.Helper()
	switch {
	case strings.HasPrefix(expect, "status:"):
		code, _ := strconv.Atoi(strings.TrimPrefix(expect, "status:"))
		resp, err := p.response(hxTID, reactionTimeout)
		if err != nil {
			t.Fatalf("want %d, got %v", code, err)
		}
		if resp.StatusCode != code {
			t.Fatalf("want %d, got %d %s", code, resp.StatusCode, resp.Comment)
		}
		if err := probe(p, to); err != nil {
			t.Fatalf("connection not usable after the %d: %v", code, err)
		}
	case expect == "ignored":
		if err := probe(p, to); err != nil {
			t.Fatalf("want no response and a usable connection: %v", err)
		}
	case expect == "close":
		if !p.closed(reactionTimeout) {
			t.Fatal("connection not closed")
		}
	case expect == "truncated":
		p.nc.(*net.TCPConn).CloseWrite()
		if !p.closed(reactionTimeout) {
			t.Fatal("connection not closed after the half-close: hang")
		}
	default:
		t.Fatalf("unknown expectation %q", expect)
	}
}

func heapAlloc() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// settleGoroutines waits (bounded) for the goroutine count to fall to at
// most want and returns the last count.
func settleGoroutines(want int) int {
	n := runtime.NumGoroutine()
	for i := 0; i < 200 && n > want; i++ {
		time.Sleep(25 * time.Millisecond)
		n = runtime.NumGoroutine()
	}
	return n
}

// TestReplayMSRPEndpoint replays the MSRP corpus at a live msrp.Endpoint:
// each case on its own connection bound to its own session, then a probe
// on the same connection when it must survive, and a fresh session at the
// end. Heap and goroutines must come back.
func TestReplayMSRPEndpoint(t *testing.T) {
	ep, addr := newEndpoint(t, msrp.Config{})
	// Warm up, then measure.
	openRawSession(t, ep, addr, answerOpts).sess.Close()
	g0 := runtime.NumGoroutine()
	h0 := heapAlloc()
	for _, c := range casesFor(t, "endpoint") {
		t.Run(c.name, func(t *testing.T) {
			rs := openRawSession(t, ep, addr, answerOpts)
			to := []msrp.URI{rs.to}
			data := materialize(c.data, msrpVars(to, rs.peer.self))
			if err := rs.peer.write(data); err != nil && c.expect != "close" {
				t.Fatalf("write: %v", err)
			}
			checkReaction(t, rs.peer, to, c.expect)
		})
	}
	// A fresh connection and session still work.
	rs := openRawSession(t, ep, addr, answerOpts)
	if err := probe(rs.peer, []msrp.URI{rs.to}); err != nil {
		t.Fatalf("fresh session after the corpus: %v", err)
	}
	rs.sess.Close()
	rs.peer.close()
	if h1 := heapAlloc(); h1 > h0+32<<20 {
		t.Errorf("heap grew from %d to %d over the corpus", h0, h1)
	}
	if n := settleGoroutines(g0 + 2); n > g0+2 {
		t.Errorf("goroutines: %d before the corpus, %d after", g0, n)
	}
}

// TestMSRPSplitDelivery replays every MSRP case one byte per write: the
// reactions must not depend on how the stream is cut.
func TestMSRPSplitDelivery(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: one write per byte")
	}
	ep, addr := newEndpoint(t, msrp.Config{})
	for _, c := range casesFor(t, "endpoint") {
		if len(c.data) > 16<<10 {
			continue // the big cases are covered whole; byte writes of 70 KB take too long on loopback
		}
		t.Run(c.name, func(t *testing.T) {
			rs := openRawSession(t, ep, addr, answerOpts)
			to := []msrp.URI{rs.to}
			data := materialize(c.data, msrpVars(to, rs.peer.self))
			for i := range data {
				if err := rs.peer.write(data[i : i+1]); err != nil {
					if c.expect == "close" {
						break
					}
					t.Fatal(err)
				}
			}
			checkReaction(t, rs.peer, to, c.expect)
		})
	}
}
