package sipua

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"regexp"
	"sync"
	"time"

	"github.com/parley-im/parley/messagesdp"
	"github.com/parley-im/parley/session"
)

// fakeNet is an in-memory media layer shared by the UAs of one test: an
// offer names a pair by id in its SDP; the answerer creates the pair; each
// side's Open takes its end. It lets the SIP tests run without a real
// transport (the real MSRP endpoint has its own tests in package msrp).
type fakeNet struct {
	mu    sync.Mutex
	pairs map[string]*fakePair
	proto string
}

type fakePair struct{ a, b *fakeSession }

func newFakeNet() *fakeNet { return &fakeNet{pairs: map[string]*fakePair{}, proto: "TCP/FAKE"} }

// media returns a Media for one UA; reject makes its Answer refuse.
func (n *fakeNet) media(reject bool) Media { return &fakeMedia{n: n, reject: reject} }

type fakeMedia struct {
	n      *fakeNet
	reject bool
}

var fakeIDRe = regexp.MustCompile(`a=fake-id:([0-9a-f]+)`)

func fakeSDP(id, proto string, version int) []byte {
	return fmt.Appendf(nil, "v=0\r\no=- %s %d IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=message 9 %s *\r\na=accept-types:text/plain message/cpim\r\na=max-size:65536\r\na=fake-id:%s\r\n", id, version, proto, id)
}

func (m *fakeMedia) Offer(ctx context.Context, opts session.Options) (MediaOffer, error) {
	var b [8]byte
	rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	return &fakeOffer{n: m.n, id: id, sdp: fakeSDP(id, m.n.proto, 1)}, nil
}

func (m *fakeMedia) Answer(ctx context.Context, offer []byte, opts session.Options) (MediaAnswer, error) {
	sm := fakeIDRe.FindSubmatch(offer)
	if m.reject || sm == nil || !regexp.MustCompile(`m=message \d+ TCP/FAKE`).Match(offer) {
		return nil, fmt.Errorf("fake: %w", session.ErrNotAcceptable)
	}
	id := string(sm[1])
	a, b := newFakePair()
	m.n.mu.Lock()
	m.n.pairs[id] = &fakePair{a: a, b: b}
	m.n.mu.Unlock()
	return &fakeAnswer{sess: b, sdp: fakeSDP(id, m.n.proto, 1)}, nil
}

type fakeOffer struct {
	n   *fakeNet
	id  string
	sdp []byte
}

func (o *fakeOffer) SDP() []byte { return o.sdp }
func (o *fakeOffer) Cancel()     {}
func (o *fakeOffer) Open(ctx context.Context, answer []byte) (session.Session, error) {
	sm := fakeIDRe.FindSubmatch(answer)
	if sm == nil || string(sm[1]) != o.id {
		return nil, fmt.Errorf("fake: answer does not match the offer: %w", session.ErrNotAcceptable)
	}
	o.n.mu.Lock()
	p := o.n.pairs[o.id]
	o.n.mu.Unlock()
	if p == nil {
		return nil, fmt.Errorf("fake: no pair %s", o.id)
	}
	return p.a, nil
}

type fakeAnswer struct {
	sess *fakeSession
	sdp  []byte
}

func (a *fakeAnswer) SDP() []byte                                       { return a.sdp }
func (a *fakeAnswer) Cancel()                                           { a.sess.Close() }
func (a *fakeAnswer) Open(ctx context.Context) (session.Session, error) { return a.sess, nil }

// fakeSession is one end of an in-memory message session.
type fakeSession struct {
	peer  *fakeSession
	inbox chan *session.Incoming

	once sync.Once
	done chan struct{}
	mu   sync.Mutex
	err  error
}

func newFakePair() (*fakeSession, *fakeSession) {
	a := &fakeSession{inbox: make(chan *session.Incoming, 64), done: make(chan struct{})}
	b := &fakeSession{inbox: make(chan *session.Incoming, 64), done: make(chan struct{})}
	a.peer, b.peer = b, a
	return a, b
}

func (s *fakeSession) Send(ctx context.Context, m *session.Outgoing) (*session.Delivery, error) {
	select {
	case <-s.done:
		return nil, session.ErrClosed
	case <-s.peer.done:
		return nil, session.ErrClosed
	default:
	}
	d := session.NewDelivery("fake", int64(len(m.Body)))
	body := append([]byte(nil), m.Body...)
	select {
	case s.peer.inbox <- &session.Incoming{ID: "fake", ContentType: m.ContentType, Body: body, Size: int64(len(body)), Received: time.Now()}:
	default:
		return nil, fmt.Errorf("fake: peer inbox full")
	}
	d.AddSent(int64(len(body)))
	d.Complete(session.Result{Outcome: session.Delivered})
	return d, nil
}

func (s *fakeSession) Receive(ctx context.Context) (*session.Incoming, error) {
	select {
	case m := <-s.inbox:
		return m, nil
	default:
	}
	select {
	case m := <-s.inbox:
		return m, nil
	case <-s.done:
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
	select {
	case m := <-s.inbox:
		return m, nil
	default:
		return nil, session.ErrClosed
	}
}

func (s *fakeSession) Local() *messagesdp.Media  { return &messagesdp.Media{Proto: "TCP/FAKE"} }
func (s *fakeSession) Remote() *messagesdp.Media { return &messagesdp.Media{Proto: "TCP/FAKE"} }
func (s *fakeSession) Done() <-chan struct{}     { return s.done }

func (s *fakeSession) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Close ends both ends, as a closed connection would.
func (s *fakeSession) Close() error {
	s.end(nil)
	s.peer.end(fmt.Errorf("fake: peer closed the session"))
	return nil
}

func (s *fakeSession) end(err error) {
	s.once.Do(func() {
		s.mu.Lock()
		s.err = err
		s.mu.Unlock()
		close(s.done)
	})
}
