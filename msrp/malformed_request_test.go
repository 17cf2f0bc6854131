package msrp

import (
	"strings"
	"testing"

	"github.com/parley-im/parley/messagesdp"
	"github.com/parley-im/parley/session"
)

// The malformed requests of the hostile corpus (hostile/testdata/badinput,
// FINDINGS F1), with {TO} for the session's URI and {FROM} for the peer's.
var malformedRequests = []struct {
	name     string
	in       string
	answered bool // a 400 is due (RFC 4975 §7.1.1, §10.2)
}{
	// No method: request or response cannot be told, so it is not answered.
	{"no-method", "MSRP hx1234ab\r\nTo-Path: {TO}\r\nFrom-Path: {FROM}\r\n-------hx1234ab$\r\n", false},
	{"no-method-no-headers", "MSRP hx1234ab\r\n-------hx1234ab$\r\n", false},
	{"lowercase-method", "MSRP hx1234ab send\r\nTo-Path: {TO}\r\nFrom-Path: {FROM}\r\n-------hx1234ab$\r\n", true},
	{"to-path-not-first", "MSRP hx1234ab SEND\r\nMessage-ID: hostile0001\r\nTo-Path: {TO}\r\nFrom-Path: {FROM}\r\n-------hx1234ab$\r\n", true},
	{"from-before-to", "MSRP hx1234ab SEND\r\nFrom-Path: {FROM}\r\nTo-Path: {TO}\r\n-------hx1234ab$\r\n", true},
	{"no-paths", "MSRP hx1234ab SEND\r\nMessage-ID: hostile0001\r\n-------hx1234ab$\r\n", true},
	{"bad-uri", "MSRP hx1234ab SEND\r\nTo-Path: http://evil.example/\r\nFrom-Path: {FROM}\r\n-------hx1234ab$\r\n", true},
	{"bad-from-uri", "MSRP hx1234ab SEND\r\nTo-Path: {TO}\r\nFrom-Path: http://evil.example/\r\n-------hx1234ab$\r\n", true},
	{"from-only", "MSRP hx1234ab SEND\r\nFrom-Path: {FROM}\r\n-------hx1234ab$\r\n", true},
	// A malformed response is never answered.
	{"non-numeric-status", "MSRP hx1234ab 2x0 OK\r\nTo-Path: {FROM}\r\nFrom-Path: {TO}\r\n-------hx1234ab$\r\n", false},
}

func (p *rawPeer) fill(s string, to URI) []byte {
	return []byte(strings.NewReplacer("{TO}", to.String(), "{FROM}", p.me.String()).Replace(s))
}

// probe sends a bodiless SEND to p's session and reads frames up to its
// 200, returning the frames read before it.
func (p *rawPeer) probe() []*Frame {
	p.t.Helper()
	tid := p.sendReq(&Frame{Method: MethodSEND, MessageID: NewMessageID()}, nil)
	var before []*Frame
	for {
		f, _ := p.read()
		if !f.IsRequest() && f.TID == tid {
			if f.StatusCode != 200 {
				p.t.Fatalf("probe answered %d", f.StatusCode)
			}
			return before
		}
		before = append(before, f)
	}
}

// TestMalformedRequestAnswered: on a connection bound to one session, a
// malformed request is answered 400 even when its paths are out of order,
// missing or unparseable: to its From-Path if that parsed, else to the
// session's peer (FINDINGS F1). A start line without a method and a
// malformed response get nothing; the connection stays usable.
func TestMalformedRequestAnswered(t *testing.T) {
	b := newTestEndpoint(t, Config{}, true)
	for _, tt := range malformedRequests {
		t.Run(tt.name, func(t *testing.T) {
			p, s := newRawPassive(t, b, session.Options{})
			p.write(p.fill(tt.in, p.to))
			got := p.probe()
			if !tt.answered {
				if len(got) != 0 {
					t.Fatalf("answered with %+v", got[0])
				}
				return
			}
			if len(got) != 1 {
				t.Fatalf("got %d frames before the probe's 200, want the 400", len(got))
			}
			r := got[0]
			if r.IsRequest() || r.TID != "hx1234ab" || r.StatusCode != 400 {
				t.Fatalf("got %s %s %d, want response hx1234ab 400", r.TID, r.Method, r.StatusCode)
			}
			if len(r.ToPath) != 1 || !r.ToPath[0].Equal(p.me) || len(r.FromPath) != 1 || !r.FromPath[0].Equal(s.LocalURI()) {
				t.Errorf("400 addressed To-Path %s From-Path %s, want %s / %s", FormatPath(r.ToPath), FormatPath(r.FromPath), p.me, s.LocalURI())
			}
			select {
			case <-s.Done():
				t.Fatalf("session ended: %v", s.Err())
			default:
			}
		})
	}
}

// TestMalformedRequestSeveralSessions: on a connection that carries two
// sessions, a request without a usable From-Path is answered only when its
// To-Path names one of them; one whose paths both failed is dropped, as
// is every such request on a connection no session uses.
func TestMalformedRequestSeveralSessions(t *testing.T) {
	b := newTestEndpoint(t, Config{}, true)
	ctx := testCtx(t)
	me := URI{Host: "127.0.0.1", Port: 9, SessionID: NewSessionID(), Transport: "tcp"}
	offer := &messagesdp.Media{Proto: messagesdp.ProtoMSRP, Port: 9, Address: "127.0.0.1", Formats: []string{"*"},
		Path: []string{me.String()}, AcceptTypes: []string{"*"}, Setup: "active"}
	var tos []URI
	for range 2 {
		ans, err := b.Answer(ctx, offer, session.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(ans.Cancel)
		to, err := ParseURI(ans.Media().Path[0])
		if err != nil {
			t.Fatal(err)
		}
		tos = append(tos, to)
	}

	// Unbound first: nothing to address the 400 to.
	p := dialRaw(t, b, me, tos[0])
	p.write(p.fill("MSRP hx1234ab SEND\r\nMessage-ID: hostile0001\r\n-------hx1234ab$\r\n", tos[0]))
	p.write(p.fill("MSRP hx1234ac SEND\r\nTo-Path: {TO}\r\n-------hx1234ac$\r\n", tos[0]))
	if got := p.probe(); len(got) != 0 { // the probe binds tos[0]
		t.Fatalf("unbound connection answered %+v", got[0])
	}
	p.to = tos[1]
	if got := p.probe(); len(got) != 0 { // and binds tos[1]
		t.Fatalf("got %+v", got[0])
	}

	p.write(p.fill("MSRP hx1234ad SEND\r\nMessage-ID: hostile0001\r\n-------hx1234ad$\r\n", tos[1]))
	p.write(p.fill("MSRP hx1234ae SEND\r\nTo-Path: http://evil.example/\r\nFrom-Path: http://evil.example/\r\n-------hx1234ae$\r\n", tos[1]))
	p.write(p.fill("MSRP hx1234af SEND\r\nMessage-ID: hostile0001\r\nTo-Path: {TO}\r\n-------hx1234af$\r\n", tos[1]))
	got := p.probe()
	if len(got) != 1 || got[0].TID != "hx1234af" || got[0].StatusCode != 400 {
		t.Fatalf("got %d frames (%+v), want only the 400 to hx1234af", len(got), got)
	}
	if r := got[0]; !r.ToPath[0].Equal(me) || !r.FromPath[0].Equal(tos[1]) {
		t.Errorf("400 addressed To-Path %s From-Path %s", FormatPath(r.ToPath), FormatPath(r.FromPath))
	}
}

// TestMalformedRequestSplitWrites: the answer does not depend on how the
// malformed request was split across reads.
func TestMalformedRequestSplitWrites(t *testing.T) {
	b := newTestEndpoint(t, Config{}, true)
	p, _ := newRawPassive(t, b, session.Options{})
	in := p.fill("MSRP hx1234ab send\r\nMessage-ID: hostile0001\r\nFrom-Path: {FROM}\r\nTo-Path: http://evil.example/\r\n-------hx1234ab$\r\n", p.to)
	for i := range in {
		p.write(in[i : i+1])
	}
	got := p.probe()
	if len(got) != 1 || got[0].StatusCode != 400 || got[0].TID != "hx1234ab" {
		t.Fatalf("got %+v", got)
	}
}
