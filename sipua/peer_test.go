package sipua

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/parley-im/parley/internal/testpeer"
	"github.com/parley-im/parley/msrp"
)

// statusPeer is a sipgo server that answers every MESSAGE and INVITE with
// a fixed status after a delay, recording how many requests were in
// flight at once. It is a test peer for the response mapping and the
// per-target MESSAGE queue.
type statusPeer struct {
	uri      string
	code     int
	delay    time.Duration
	inFlight atomic.Int32
	maxSeen  atomic.Int32
	mu       sync.Mutex
	bodies   []string
}

func newStatusPeer(t *testing.T, code int, delay time.Duration) *statusPeer {
	t.Helper()
	p := &statusPeer{code: code, delay: delay}
	peer := testpeer.NewSIPPeer(t, "status-peer")
	h := func(req *sip.Request, tx sip.ServerTransaction) {
		n := p.inFlight.Add(1)
		for {
			m := p.maxSeen.Load()
			if n <= m || p.maxSeen.CompareAndSwap(m, n) {
				break
			}
		}
		p.mu.Lock()
		p.bodies = append(p.bodies, string(req.Body()))
		p.mu.Unlock()
		time.Sleep(p.delay)
		p.inFlight.Add(-1)
		tx.Respond(sip.NewResponseFromRequest(req, p.code, reasonFor(p.code), nil))
		if req.IsInvite() {
			select {
			case <-tx.Acks():
			case <-tx.Done():
			case <-time.After(2 * time.Second):
			}
		}
	}
	peer.Server.OnMessage(h)
	peer.Server.OnInvite(h)
	peer.Serve()
	p.uri = peer.URI("bob")
	return p
}

func TestResponseMapping(t *testing.T) {
	alice := testUA(t, Config{Media: newFakeNet().media(false)}, TCP)
	for _, c := range []struct {
		code int
		want error
	}{
		{404, ErrNotFound}, {480, ErrUnavailable}, {486, ErrBusy}, {603, ErrDeclined},
		{488, ErrNotAcceptable}, {408, ErrTimeout}, {403, ErrAuthFailed}, {500, ErrRejected},
	} {
		t.Run(reasonFor(c.code), func(t *testing.T) {
			p := newStatusPeer(t, c.code, 0)
			for _, method := range []string{"MESSAGE", "INVITE"} {
				var err error
				if method == "MESSAGE" {
					_, err = alice.SendMessage(ctxT(t, 10*time.Second), p.uri, "text/plain", []byte("x"))
				} else {
					_, err = alice.Invite(ctxT(t, 10*time.Second), p.uri, InviteOptions{})
				}
				var se *StatusError
				if !errors.Is(err, c.want) || !errors.As(err, &se) || se.Code != c.code || se.Method != method {
					t.Errorf("%s: err = %v, want %d wrapping %v", method, err, c.code, c.want)
				}
			}
		})
	}
}

func TestPager202(t *testing.T) {
	p := newStatusPeer(t, 202, 0)
	alice := testUA(t, Config{}, TCP)
	res, err := alice.SendMessage(ctxT(t, 10*time.Second), p.uri, "text/plain", []byte("store me"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Disposition != AcceptedForLater || res.Status != 202 {
		t.Errorf("result = %+v, want AcceptedForLater 202", res)
	}
	if res.Disposition.String() != "accepted for later delivery" {
		t.Errorf("String = %q", res.Disposition)
	}
}

// RFC 3428 §9: no overlapping out-of-dialog MESSAGEs to one URI; they go
// one after another in call order.
func TestPagerOneAtATimePerTarget(t *testing.T) {
	p := newStatusPeer(t, 200, 30*time.Millisecond)
	alice := testUA(t, Config{}, TCP)
	var wg sync.WaitGroup
	for i := range 5 {
		wg.Go(func() {
			if _, err := alice.SendMessage(ctxT(t, 10*time.Second), p.uri, "text/plain", []byte{byte('a' + i)}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if m := p.maxSeen.Load(); m != 1 {
		t.Errorf("%d MESSAGEs in flight at once, want 1", m)
	}
	// Sequential sends arrive in order.
	p.mu.Lock()
	p.bodies = nil
	p.mu.Unlock()
	for _, b := range []string{"1", "2", "3"} {
		if _, err := alice.SendMessage(ctxT(t, 10*time.Second), p.uri, "text/plain", []byte(b)); err != nil {
			t.Fatal(err)
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if got := len(p.bodies); got != 3 || p.bodies[0] != "1" || p.bodies[2] != "3" {
		t.Errorf("order = %v", p.bodies)
	}
	alice.mu.Lock()
	if n := len(alice.queues); n != 0 {
		t.Errorf("%d queues left", n)
	}
	alice.mu.Unlock()
}

func TestFIFOCancel(t *testing.T) {
	var f fifo
	if err := f.acquire(t.Context()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := contextWithCancel(t)
	errc := make(chan error)
	go func() { errc <- f.acquire(ctx) }()
	time.Sleep(10 * time.Millisecond)
	cancel()
	if err := <-errc; err == nil {
		t.Fatal("acquire after cancel succeeded")
	}
	got := make(chan struct{})
	go func() {
		f.acquire(t.Context())
		close(got)
	}()
	f.release()
	select {
	case <-got:
	case <-time.After(5 * time.Second):
		t.Fatal("lock not handed on after a cancelled waiter")
	}
	f.release()
}

// selfSigned returns a certificate for 127.0.0.1 and localhost and a pool
// trusting it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	cert, err := msrp.SelfSignedCertificate("127.0.0.1", "localhost")
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert.Leaf)
	return cert, pool
}

func TestTLS(t *testing.T) {
	cert, pool := selfSigned(t)
	conf := &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool, MinVersion: tls.VersionTLS12}
	n := newFakeNet()
	box := newInbox()
	calls := make(chan *Call, 1)
	bob := testUA(t, Config{AOR: "sip:bob@example.com", TLS: conf, OnMessage: box.on, Media: n.media(false), OnInvite: acceptAll(t, calls)}, TLS)
	alice := testUA(t, Config{AOR: "sips:alice@example.com", TLS: conf, Media: n.media(false)}, TLS)
	target := bob.URI(TLS)
	if target[:5] != "sips:" {
		t.Fatalf("URI = %q", target)
	}
	res, err := alice.SendMessage(ctxT(t, 10*time.Second), target, "text/plain", []byte("secret"))
	if err != nil || res.Disposition != Delivered {
		t.Fatalf("SendMessage over TLS: %+v %v", res, err)
	}
	if m := box.next(t); string(m.Body) != "secret" {
		t.Errorf("got %q", m.Body)
	}
	ac, err := alice.Invite(ctxT(t, 10*time.Second), target, InviteOptions{})
	if err != nil {
		t.Fatalf("Invite over TLS: %v", err)
	}
	bc := recvCall(t, calls)
	exchange(t, ac, bc, "over tls")
	if err := bc.Hangup(ctxT(t, 5*time.Second)); err != nil {
		t.Errorf("Hangup: %v", err)
	}

	// A UA that does not trust the certificate gets ErrTLSVerify.
	other, _ := selfSigned(t)
	mallory := testUA(t, Config{AOR: "sips:mallory@example.com", TLS: &tls.Config{Certificates: []tls.Certificate{other}}}, TLS)
	_, err = mallory.SendMessage(ctxT(t, 10*time.Second), target, "text/plain", []byte("x"))
	if !errors.Is(err, ErrTLSVerify) {
		t.Fatalf("untrusted certificate: err = %v, want ErrTLSVerify", err)
	}
}

func contextWithCancel(t *testing.T) (context.Context, context.CancelFunc) {
	return context.WithCancel(t.Context())
}
