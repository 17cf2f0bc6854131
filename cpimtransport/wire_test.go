package cpimtransport

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parley-im/parley/messagesdp"
	"github.com/parley-im/parley/session"
)

// rawPeer is a hand-written peer on a real loopback connection to an
// Endpoint's session, for feeding it arbitrary bytes.
type rawPeer struct {
	uri  string
	nc   net.Conn
	sess session.Session
	e    *Endpoint
}

func newRawPeer(t *testing.T) *rawPeer {
	t.Helper()
	p := newRawPeerNoDial(t)
	local := p.sess.Local()
	nc, err := net.Dial("tcp", net.JoinHostPort(local.Address, strconv.Itoa(local.Port)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	p.nc = nc
	return p
}

// newRawPeerNoDial opens a passive session for a raw peer that has not
// connected yet.
func newRawPeerNoDial(t *testing.T) *rawPeer {
	t.Helper()
	e := newLoopback(t, Config{})
	ctx := context.Background()
	off, err := e.Offer(ctx, session.Options{})
	if err != nil {
		t.Fatal(err)
	}
	p := &rawPeer{uri: "im:raw@127.0.0.1", e: e}
	ans := &messagesdp.Media{Proto: "cpim/tcp", Port: 9, Address: "127.0.0.1", Formats: []string{"text/plain"},
		Direction: "active", URI: p.uri}
	p.sess, err = off.Open(ctx, ans)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (p *rawPeer) msg(from, to string, id int, body string) string {
	return fmt.Sprintf("From: <%s>\r\nTo: <%s>\r\nMsgID: %d\r\n\r\nContent-Type: text/plain\r\n\r\n%s", from, to, id, body)
}

func (p *rawPeer) good(id int, body string) string { return p.msg(p.uri, p.sess.Local().URI, id, body) }

func (p *rawPeer) write(t *testing.T, s string) {
	t.Helper()
	if _, err := p.nc.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
}

func TestWireRobustness(t *testing.T) {
	p := newRawPeer(t)
	me := p.sess.Local().URI
	m2 := p.good(2, "two")
	p.write(t, "stray bytes before anything\r\n"+
		frame(p.good(1, "one"))+
		"garbage between\r\n"+
		// §6.2: From or To matching no session on this connection.
		frame(p.msg("im:someone-else@127.0.0.1", me, 2, "wrong From"))+
		frame(p.msg(p.uri, "im:no-such-session@127.0.0.1", 2, "wrong To"))+
		frame("this is not message/cpim")+
		// Content-Length 2 too short: the tail of this message is lost
		// and the framer resynchronises on the next envelope, which
		// follows the lost "wo" on the same line.
		"Content-Type: message/cpim\r\nContent-Length: "+strconv.Itoa(len(m2)-2)+"\r\n\r\n"+m2+
		frame(p.good(3, "three")))
	for _, want := range []struct{ id, body string }{{"1", "one"}, {"2", "t"}, {"3", "three"}} {
		m := recv(t, p.sess)
		if m.ID != want.id || string(m.Body) != want.body {
			t.Errorf("got id %s %q, want id %s %q", m.ID, m.Body, want.id, want.body)
		}
	}
	st := p.e.Stats()
	if st.Unmatched != 3 {
		t.Errorf("Unmatched = %d, want 3", st.Unmatched)
	}
	if st.Resyncs != 3 || st.Garbage != int64(len("stray bytes before anything\r\ngarbage between\r\n")+2) {
		t.Errorf("Resyncs = %d Garbage = %d", st.Resyncs, st.Garbage)
	}
	if st.Gaps != 0 || st.Duplicates != 0 {
		t.Errorf("Gaps %d Duplicates %d", st.Gaps, st.Duplicates)
	}

	// Content-Length too long: the message swallows the start of the next;
	// that one is lost, the one after arrives. MsgID 5 is then a gap.
	m4 := p.good(4, "four")
	m5 := frame(p.good(5, "five"))
	p.write(t, "Content-Type: message/cpim\r\nContent-Length: "+strconv.Itoa(len(m4)+20)+"\r\n\r\n"+m4+m5+frame(p.good(6, "six")))
	if m := recv(t, p.sess); m.ID != "4" || string(m.Body) != "four"+m5[:20] {
		t.Errorf("got id %s %q", m.ID, m.Body)
	}
	if m := recv(t, p.sess); m.ID != "6" || string(m.Body) != "six" {
		t.Errorf("got id %s %q", m.ID, m.Body)
	}
	if st := p.e.Stats(); st.Gaps != 1 {
		t.Errorf("Gaps = %d, want 1 (MsgID 5 lost)", st.Gaps)
	}
	// A duplicate MsgID is delivered and flagged.
	p.write(t, frame(p.good(6, "six again")))
	if m := recv(t, p.sess); !m.Duplicate || m.ID != "6" {
		t.Errorf("duplicate not flagged: %+v", m)
	}
}

func TestWireFatal(t *testing.T) {
	p := newRawPeer(t)
	// More garbage than Reader.MaxGarbage closes the connection and ends
	// the session proven (by a message) to be bound to it.
	p.write(t, frame(p.good(1, "hello")))
	recv(t, p.sess)
	p.write(t, strings.Repeat("this is not an envelope\r\n", DefaultMaxGarbage/20))
	select {
	case <-p.sess.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("session survived a flood of garbage")
	}
	if p.sess.Err() == nil {
		t.Error("Err is nil after a transport failure")
	}
}

// TestWireGarbageWithoutLineEnds (F5): garbage that never ends a line is
// counted too; past MaxGarbage the connection is closed and the session
// proven on it ends, while the peer keeps the connection open.
func TestWireGarbageWithoutLineEnds(t *testing.T) {
	p := newRawPeer(t)
	p.write(t, frame(p.good(1, "hello")))
	recv(t, p.sess)
	chunk := strings.Repeat("g", 1000)
	for range 70 {
		if _, err := p.nc.Write([]byte(chunk)); err != nil {
			break // closed by the endpoint: expected
		}
	}
	select {
	case <-p.sess.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("session survived 70 KiB of garbage without a line end")
	}
	if !errors.Is(p.sess.Err(), ErrTooMuchGarbage) {
		t.Errorf("Err = %v, want ErrTooMuchGarbage", p.sess.Err())
	}
}

// TestEarlyMessages: the answerer connects and sends before the offerer's
// Open has the answer; the messages are kept and delivered after Open.
func TestEarlyMessages(t *testing.T) {
	e := newLoopback(t, Config{})
	ctx := context.Background()
	off, err := e.Offer(ctx, session.Options{})
	if err != nil {
		t.Fatal(err)
	}
	local := off.Media()
	nc, err := net.Dial("tcp", net.JoinHostPort(local.Address, strconv.Itoa(local.Port)))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	peer := "im:early@127.0.0.1"
	msg := func(from string, id int, body string) []byte {
		return AppendFrame(nil, []byte(fmt.Sprintf("From: <%s>\r\nTo: <%s>\r\nMsgID: %d\r\n\r\nContent-Type: text/plain\r\n\r\n%s", from, local.URI, id, body)))
	}
	nc.Write(msg(peer, 1, "early one"))
	nc.Write(msg("im:impostor@127.0.0.1", 1, "not the answerer"))
	nc.Write(msg(peer, 2, "early two"))
	// Wait until the three are held.
	deadline := time.Now().Add(10 * time.Second)
	for e.Stats().Messages < 3 && time.Now().Before(deadline) {
		time.Sleep(2 * time.Millisecond)
	}
	s, err := off.Open(ctx, &messagesdp.Media{Proto: "cpim/tcp", Port: 9, Address: "127.0.0.1",
		Formats: []string{"text/plain"}, Direction: "active", URI: peer})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"early one", "early two"} {
		if m := recv(t, s); string(m.Body) != want {
			t.Errorf("got %q, want %q", m.Body, want)
		}
	}
	if got := e.Stats().Unmatched; got != 1 {
		t.Errorf("Unmatched = %d, want 1 (the impostor)", got)
	}
}

// TestOtherConnection: once a session is proven on one connection, its
// messages arriving on another connection are discarded (§6.2: the
// session must be associated with the connection).
func TestOtherConnection(t *testing.T) {
	p := newRawPeer(t)
	p.write(t, frame(p.good(1, "on the first connection")))
	recv(t, p.sess)
	other, err := net.Dial("tcp", net.JoinHostPort(p.sess.Local().Address, strconv.Itoa(p.sess.Local().Port)))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	other.Write([]byte(frame(p.good(2, "on another connection"))))
	p.write(t, frame(p.good(3, "back on the first")))
	if m := recv(t, p.sess); string(m.Body) != "back on the first" {
		t.Errorf("got %q", m.Body)
	}
	deadline := time.Now().Add(10 * time.Second)
	for p.e.Stats().Unmatched == 0 && time.Now().Before(deadline) {
		time.Sleep(2 * time.Millisecond)
	}
	if got := p.e.Stats().Unmatched; got != 1 {
		t.Errorf("Unmatched = %d", got)
	}
}
