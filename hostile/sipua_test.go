package hostile

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/textproto"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-im/parley/msrp"
	"github.com/parley-im/parley/session"
	"github.com/parley-im/parley/sipua"
)

// hostileUA is a sipua.UA (bob) listening on SIP TCP with a real MSRP
// endpoint, auto-answering invitations and collecting pager messages, as
// an application would run it.
type hostileUA struct {
	ua       *sipua.UA
	addr     string // SIP TCP host:port
	msrpAddr string // the MSRP endpoint's listener

	mu    sync.Mutex
	msgs  []*sipua.Message
	calls []*sipua.Call
}

func startHostileUA(t *testing.T) *hostileUA {
	t.Helper()
	ep, err := msrp.NewEndpoint(msrp.Config{Host: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	l, err := ep.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := &hostileUA{msrpAddr: l.Addr().String()}
	ua, err := sipua.New(sipua.Config{
		AOR:        "sip:bob@127.0.0.1",
		Listen:     []sipua.Listen{{Transport: sipua.TCP, Addr: "127.0.0.1:0"}},
		Endpoints:  []session.Endpoint{ep},
		AutoAnswer: true,
		Logger:     slog.New(slog.DiscardHandler),
		OnCall: func(c *sipua.Call) {
			h.mu.Lock()
			h.calls = append(h.calls, c)
			h.mu.Unlock()
		},
		OnMessage: func(m *sipua.Message) {
			h.mu.Lock()
			h.msgs = append(h.msgs, m)
			h.mu.Unlock()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	// Cleanups run last first: the UA closes before its endpoint.
	t.Cleanup(func() { ep.Close() })
	t.Cleanup(func() {
		if err := ua.Close(); err != nil {
			t.Errorf("UA Close: %v", err)
		}
	})
	if err := ua.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.ua, h.addr = ua, ua.Addr(sipua.TCP)
	return h
}

func (h *hostileUA) counts() (msgs, calls int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.msgs), len(h.calls)
}

// sipResponse is a response read off a raw connection.
type sipResponse struct {
	code int
	hdr  textproto.MIMEHeader
	body []byte
}

// response reads responses until a final one.
func (c *sipConn) response(d time.Duration) (sipResponse, error) {
	c.nc.SetReadDeadline(time.Now().Add(d))
	tp := textproto.NewReader(c.br)
	for {
		line, err := tp.ReadLine()
		if err != nil {
			return sipResponse{}, err
		}
		if line == "" {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 2 || f[0] != "SIP/2.0" {
			return sipResponse{}, fmt.Errorf("not a SIP response: %q", line)
		}
		code, err := strconv.Atoi(f[1])
		if err != nil {
			return sipResponse{}, err
		}
		h, err := tp.ReadMIMEHeader()
		if err != nil {
			return sipResponse{}, err
		}
		var body []byte
		if n, _ := strconv.Atoi(h.Get("Content-Length")); n > 0 {
			body = make([]byte, n)
			if _, err := io.ReadFull(c.br, body); err != nil {
				return sipResponse{}, err
			}
		}
		if code >= 200 {
			return sipResponse{code, h, body}, nil
		}
	}
}

// uaReq is a request from mallory to the UA at addr over TCP.
type uaReq struct {
	method, name, addr string
	cseq               int
	toTag              string
	extra, ctype, body string
	branch             string
}

func (r uaReq) String() string {
	if r.addr == "" {
		r.addr = "{TARGET}"
	}
	branch := r.branch
	if branch == "" {
		branch = "z9hG4bK-ua-" + r.name
	}
	to := "<sip:bob@" + r.addr + ">"
	if r.toTag != "" {
		to += ";tag=" + r.toTag
	}
	cseq := r.cseq
	if cseq == 0 {
		cseq = 1
	}
	s := r.method + " sip:bob@" + r.addr + ";transport=tcp SIP/2.0\r\n" +
		"Via: SIP/2.0/TCP 127.0.0.1:5999;branch=" + branch + "\r\n" +
		"Max-Forwards: 70\r\n" +
		"From: <sip:mallory@evil.example>;tag=m-" + r.name + "\r\n" +
		"To: " + to + "\r\n" +
		"Call-ID: ua-" + r.name + "@hostile\r\n" +
		"CSeq: " + strconv.Itoa(cseq) + " " + r.method + "\r\n" +
		"Contact: <sip:mallory@127.0.0.1:5999;transport=tcp>\r\n" + r.extra
	if r.ctype != "" {
		s += "Content-Type: " + r.ctype + "\r\n"
	}
	return s + "Content-Length: " + strconv.Itoa(len(r.body)) + "\r\n\r\n" + r.body
}

// sdpOffer is a well-formed MSRP offer (RFC 4975 §8, the offerer active,
// RFC 6135) with edits applied: each pair replaces the first line
// starting with its key ("" value removes it), or, for a key not found,
// appends the value.
func sdpOffer(edits ...string) string {
	lines := []string{
		"v=0", "o=mallory 1 1 IN IP4 127.0.0.1", "s=-", "c=IN IP4 127.0.0.1", "t=0 0",
		"m=message 9 TCP/MSRP *", "a=accept-types:text/plain",
		"a=path:msrp://127.0.0.1:9/hostile01ab;tcp", "a=setup:active",
	}
	for i := 0; i+1 < len(edits); i += 2 {
		key, val := edits[i], edits[i+1]
		found := false
		for j, l := range lines {
			if strings.HasPrefix(l, key) {
				lines[j], found = val, true
				break
			}
		}
		if !found {
			lines = append(lines, strings.TrimSuffix(val, "\r\n"))
		}
	}
	var b strings.Builder
	for _, l := range lines {
		if l != "" {
			b.WriteString(l + "\r\n")
		}
	}
	return b.String()
}

func uaInvite(name, sdp string) string {
	return uaReq{method: "INVITE", name: name, ctype: "application/sdp", body: sdp}.String()
}

func uaMessage(name, ctype, body string) string {
	return uaReq{method: "MESSAGE", name: name, ctype: ctype, body: body}.String()
}

// TestSIPUAHostile replays the ua= cases of the corpus at a sipua.UA
// over raw TCP, one connection each: hostile INVITEs (bad SDP offers) and
// MESSAGEs (bad CPIM, huge or mistyped bodies). The final response must
// be the one listed (or the connection closed); no case may become a call;
// only the cases listed as delivered reach OnMessage; a well-formed INVITE
// still becomes a call afterwards, and the goroutines come back.
func TestSIPUAHostile(t *testing.T) {
	h := startHostileUA(t)
	// Warm up with a good call, so the goroutines of the UA's first
	// connection and of the MSRP endpoint exist before counting.
	goodCall(t, h, "warm")
	g0 := runtime.NumGoroutine()
	h0 := heapAlloc()

	for _, c := range casesFor(t, "ua") {
		t.Run(c.name, func(t *testing.T) {
			m0, c0 := h.counts()
			data := materialize(c.data, map[string]string{"{TARGET}": h.addr})
			sc := dialSIP(t, h.addr)
			sc.nc.SetWriteDeadline(time.Now().Add(reactionTimeout))
			if _, err := sc.nc.Write(data); err != nil && c.expect != "close" {
				t.Fatalf("write: %v", err)
			}
			res, err := sc.response(reactionTimeout)
			delivered := false
			switch {
			case strings.HasPrefix(c.expect, "status:"):
				want, _ := strconv.Atoi(strings.TrimPrefix(c.expect, "status:"))
				if err != nil || res.code != want {
					t.Errorf("want %d, got %d %v", want, res.code, err)
				}
			case c.expect == "delivered":
				delivered = true
				if err != nil || res.code != 200 {
					t.Errorf("want 200, got %d %v", res.code, err)
				}
			case c.expect == "close":
				if err == nil {
					t.Errorf("want the connection closed, got %d", res.code)
				} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
					t.Errorf("want the connection closed: no reaction in %v", reactionTimeout)
				}
			default:
				t.Fatalf("unknown expectation %q", c.expect)
			}
			if err == nil && bytes.HasPrefix(data, []byte("INVITE ")) {
				endInvite(t, sc, data, res)
			}
			m1, c1 := h.counts()
			if c1 != c0 {
				t.Errorf("the INVITE became a call")
			}
			if got, want := m1-m0, map[bool]int{false: 0, true: 1}[delivered]; got != want {
				t.Errorf("%d messages reached OnMessage, want %d", got, want)
			}
		})
	}
	goodCall(t, h, "fresh")
	if h1 := heapAlloc(); h1 > h0+32<<20 {
		t.Errorf("heap grew from %d to %d over the cases", h0, h1)
	}
	if n := settleGoroutines(g0 + 4); n > g0+4 {
		t.Errorf("goroutines: %d before the hostile requests, %d after", g0, n)
	}
}

// endInvite completes the INVITE transaction the way a UAC must: ACK a
// non-2xx final response on the same branch (RFC 3261 §17.1.1.3), and
// for a 2xx ACK and BYE the dialog (§13.2.2.4, §15). invite is the raw
// request sent.
func endInvite(t testing.TB, sc *sipConn, invite []byte, res sipResponse) {
	t.Helper()
	_, tag, _ := strings.Cut(res.hdr.Get("To"), ";tag=")
	tag, _, _ = strings.Cut(tag, ";")
	if res.code >= 300 {
		sc.nc.Write(inDialog(invite, "ACK", 1, tag, ""))
		return
	}
	// Branches unique per case (RFC 3261 §8.1.1.7): a BYE reusing the
	// previous case's branch is taken by sipgo for a retransmission of
	// that transaction, which may not have ended yet, and absorbed.
	b := branchOf(invite)
	sc.nc.Write(inDialog(invite, "ACK", 1, tag, b+"-ack"))
	sc.nc.Write(inDialog(invite, "BYE", 2, tag, b+"-bye"))
	if r, err := sc.response(reactionTimeout); err != nil || r.code != 200 {
		t.Errorf("BYE: %d %v", r.code, err)
	}
}

// branchOf returns the Via branch of a raw request.
func branchOf(req []byte) string {
	_, rest, ok := strings.Cut(string(req), ";branch=")
	if !ok {
		return "z9hG4bK-ua"
	}
	if i := strings.IndexAny(rest, ";\r\n "); i >= 0 {
		rest = rest[:i]
	}
	return rest
}

// inDialog turns a raw INVITE into method (ACK, BYE) with CSeq n, the To
// tag of the answer, no body and, unless branch is "", a new Via branch.
func inDialog(invite []byte, method string, n int, toTag, branch string) []byte {
	head, _, _ := strings.Cut(string(invite), "\r\n\r\n")
	var b strings.Builder
	for i, l := range strings.Split(head, "\r\n") {
		name, _, _ := strings.Cut(l, ":")
		switch {
		case i == 0:
			_, rest, _ := strings.Cut(l, " ")
			l = method + " " + rest
		case name == "Via" && branch != "":
			l = l[:strings.Index(l, ";branch=")] + ";branch=" + branch
		case name == "To":
			l += ";tag=" + toTag
		case name == "CSeq":
			l = "CSeq: " + strconv.Itoa(n) + " " + method
		case name == "Content-Type", name == "Content-Length":
			continue
		}
		b.WriteString(l + "\r\n")
	}
	b.WriteString("Content-Length: 0\r\n\r\n")
	return []byte(b.String())
}

// goodCall checks that a well-formed INVITE is answered 200 and becomes a
// call once a raw MSRP peer binds the session (RFC 4975 §5.4), then hangs
// it up with BYE.
func goodCall(t *testing.T, h *hostileUA, name string) {
	t.Helper()
	openCall(t, h, name).hangup(t)
}

// liveCall is a call from a raw SIP connection and a raw MSRP peer to the
// UA.
type liveCall struct {
	h    *hostileUA
	sc   *sipConn
	req  uaReq // the INVITE
	tag  string
	cseq int
	c    *sipua.Call
	p    *peer
	to   msrp.URI // the UA's session URI
}

func openCall(t *testing.T, h *hostileUA, name string) *liveCall {
	t.Helper()
	_, c0 := h.counts()
	p := dialPeer(t, h.msrpAddr)
	sc := dialSIP(t, h.addr)
	req := uaReq{method: "INVITE", name: "good-" + name, addr: h.addr, ctype: "application/sdp",
		body: sdpOffer("a=path:", "a=path:"+p.self.String())}
	sc.nc.Write([]byte(req.String()))
	res, err := sc.response(reactionTimeout)
	if err != nil || res.code != 200 {
		t.Fatalf("well-formed INVITE (%s): %d %v", name, res.code, err)
	}
	_, tag, _ := strings.Cut(res.hdr.Get("To"), ";tag=")
	tag, _, _ = strings.Cut(tag, ";")
	lc := &liveCall{h: h, sc: sc, req: req, tag: tag, cseq: 1, p: p}
	lc.send("ACK", 1, "z9hG4bK-ua-ack-"+req.name, "", "")
	for _, l := range strings.Split(string(res.body), "\r\n") {
		if v, ok := strings.CutPrefix(l, "a=path:"); ok {
			f := strings.Fields(v)
			if lc.to, err = msrp.ParseURI(f[len(f)-1]); err != nil {
				t.Fatalf("answer a=path: %v", err)
			}
		}
	}
	bind := &msrp.Frame{Method: msrp.MethodSEND, ToPath: []msrp.URI{lc.to}, FromPath: []msrp.URI{p.self}, MessageID: msrp.NewMessageID()}
	p.writeFrame(bind, nil)
	if r, err := p.response(bind.TID, reactionTimeout); err != nil || r.StatusCode != 200 {
		t.Fatalf("binding SEND (%s): %v %v", name, r, err)
	}
	deadline := time.Now().Add(reactionTimeout)
	for {
		if _, c1 := h.counts(); c1 > c0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("well-formed INVITE (%s) answered 200 but no call reached OnCall", name)
		}
		time.Sleep(10 * time.Millisecond)
	}
	h.mu.Lock()
	lc.c = h.calls[len(h.calls)-1]
	h.mu.Unlock()
	return lc
}

// send sends an in-dialog request of the call.
func (lc *liveCall) send(method string, cseq int, branch, ctype, body string) {
	r := lc.req
	r.method, r.toTag, r.ctype, r.body, r.cseq, r.branch = method, lc.tag, ctype, body, cseq, branch
	lc.sc.nc.Write([]byte(r.String()))
}

func (lc *liveCall) hangup(t *testing.T) {
	t.Helper()
	lc.cseq++
	lc.send("BYE", lc.cseq, fmt.Sprintf("z9hG4bK-ua-bye-%s-%d", lc.req.name, lc.cseq), "", "")
	if r, err := lc.sc.response(reactionTimeout); err != nil || r.code != 200 {
		t.Errorf("BYE (%s): %d %v", lc.req.name, r.code, err)
	}
	select {
	case <-lc.c.Done():
	case <-time.After(reactionTimeout):
		t.Fatalf("call (%s) not ended by our BYE", lc.req.name)
	}
	lc.p.close()
	lc.sc.nc.Close()
}

// chat checks that the call's session still carries a message from the
// raw peer to the UA's application.
func (lc *liveCall) chat(t *testing.T, text string) {
	t.Helper()
	f := &msrp.Frame{Method: msrp.MethodSEND, ToPath: []msrp.URI{lc.to}, FromPath: []msrp.URI{lc.p.self},
		MessageID: msrp.NewMessageID(), ContentType: "text/plain"}
	lc.p.writeFrame(f, []byte(text))
	if r, err := lc.p.response(f.TID, reactionTimeout); err != nil || r.StatusCode != 200 {
		t.Fatalf("SEND in the call: %v %v", r, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), reactionTimeout)
	defer cancel()
	in, err := lc.c.Session().Receive(ctx)
	if err != nil || string(in.Body) != text {
		t.Fatalf("the UA's session received %v %v, want %q", in, err, text)
	}
}

// TestSIPUAHostileReinvite sends re-INVITEs with bad SDP offers in an
// established call (RFC 3261 §14.2): each must be refused with the code
// listed, ACKed, and leave the call and its session as they were (RFC
// 3264 §8: a refused offer changes nothing).
func TestSIPUAHostileReinvite(t *testing.T) {
	h := startHostileUA(t)
	lc := openCall(t, h, "reinvite")
	g0 := runtime.NumGoroutine()
	for _, c := range []struct {
		name, ctype, body string
		want              int
		finding           string
	}{
		{"not-sdp", "application/sdp", "this is not SDP\r\n", 400, ""},
		{"no-origin", "application/sdp", sdpOffer("o=", "", "a=path:", "a=path:"+lc.p.self.String()), 400, ""},
		{"no-path", "application/sdp", sdpOffer("o=", "o=mallory 1 2 IN IP4 127.0.0.1", "a=path:", ""), 488, ""},
		{"port-zero", "application/sdp", sdpOffer("o=", "o=mallory 1 2 IN IP4 127.0.0.1", "m=", "m=message 0 TCP/MSRP *", "a=path:", "a=path:"+lc.p.self.String()), 488, ""},
		{"wrong-proto", "application/sdp", sdpOffer("o=", "o=mallory 1 2 IN IP4 127.0.0.1", "m=", "m=message 9 RTP/AVP 0"), 488, ""},
		{"no-offer", "", "", 488, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			lc.cseq++
			branch := fmt.Sprintf("z9hG4bK-ua-reinv-%d", lc.cseq)
			lc.send("INVITE", lc.cseq, branch, c.ctype, c.body)
			res, err := lc.sc.response(reactionTimeout)
			if err != nil || res.code != c.want {
				t.Errorf("want %d (finding %q), got %d %v", c.want, c.finding, res.code, err)
			}
			if err == nil && res.code >= 300 {
				lc.send("ACK", lc.cseq, branch, "", "")
			} else if err == nil {
				lc.send("ACK", lc.cseq, branch+"-ack", "", "")
			}
			select {
			case <-lc.c.Done():
				t.Fatal("the refused re-INVITE ended the call")
			default:
			}
			lc.chat(t, "still here after "+c.name)
		})
	}
	if n := settleGoroutines(g0 + 2); n > g0+2 {
		t.Errorf("goroutines: %d before the re-INVITEs, %d after", g0, n)
	}
	lc.hangup(t)
}
