package msrp

import (
	"io"
	"net"
	"slices"
	"sync"
	"testing"

	"github.com/parley-im/parley/session"
)

// testRelay is a minimal RFC 4976 §6.4 forwarder for one client: frames
// from the client go to the peer named after the relay in To-Path, frames
// from the peer go back to the client; the relay moves itself from the
// head of To-Path to the head of From-Path. It never connects to the
// client (the client dialed it).
type testRelay struct {
	t    *testing.T
	l    net.Listener
	self URI
	wg   sync.WaitGroup
}

func newTestRelay(t *testing.T) *testRelay {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &testRelay{t: t, l: l, self: URI{Host: "127.0.0.1", Port: l.Addr().(*net.TCPAddr).Port, SessionID: "relaysession1234", Transport: "tcp"}}
	r.wg.Go(r.run)
	t.Cleanup(func() { l.Close(); r.wg.Wait() })
	return r
}

func (r *testRelay) run() {
	client, err := r.l.Accept()
	if err != nil {
		return
	}
	defer client.Close()
	cr := NewReader(client, Limits{})
	var (
		peer  net.Conn
		once  sync.Once
		wmu   sync.Mutex
		write = func(nc net.Conn, f *Frame, body []byte) {
			wmu.Lock()
			defer wmu.Unlock()
			nc.Write(AppendFrame(nil, f, body))
		}
	)
	defer func() {
		if peer != nil {
			peer.Close()
		}
	}()
	for {
		f, err := cr.ReadFrame()
		if err != nil {
			return
		}
		body, _ := io.ReadAll(cr)
		if f.IsRequest() {
			if len(f.ToPath) < 2 || !f.ToPath[0].Equal(r.self) {
				continue // not ours to forward: drop (§6.4)
			}
			once.Do(func() {
				peer, err = net.Dial("tcp", f.ToPath[1].HostPort())
				if err != nil {
					r.t.Error(err)
					return
				}
				r.wg.Go(func() { r.back(peer, client, write) })
			})
			if peer == nil {
				return
			}
			f.ToPath = f.ToPath[1:]
			f.FromPath = append([]URI{r.self}, f.FromPath...)
		} else {
			// A response from the client to the peer's request.
			f.ToPath = f.ToPath[len(f.ToPath)-1:]
			f.FromPath = []URI{r.self}
		}
		write(peer, f, body)
	}
}

// back forwards the peer's frames to the client.
func (r *testRelay) back(peer, client net.Conn, write func(net.Conn, *Frame, []byte)) {
	pr := NewReader(peer, Limits{})
	for {
		f, err := pr.ReadFrame()
		if err != nil {
			client.Close()
			return
		}
		body, _ := io.ReadAll(pr)
		if f.IsRequest() {
			f.ToPath = f.ToPath[1:]
			f.FromPath = append([]URI{r.self}, f.FromPath...)
		}
		write(client, f, body)
	}
}

// TestSessionThroughRelay: with SessionOptions.Relay, a=path is the
// reversed Use-Path plus the own URI, outgoing To-Path is Use-Path plus the
// peer's path, and both directions (and success REPORTs) flow over the
// connection to the relay, which never connects back (RFC 4976 §5.1).
func TestSessionThroughRelay(t *testing.T) {
	relay := newTestRelay(t)
	a := newTestEndpoint(t, Config{}, false)
	b := newTestEndpoint(t, Config{}, true)
	ctx := testCtx(t)
	rc, err := a.Dial(ctx, relay.self)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Release()
	so := SessionOptions{Relay: &Relay{Conn: rc, UsePath: []URI{relay.self}}}
	off, err := a.OfferWith(ctx, session.Options{WantReceipts: true}, so)
	if err != nil {
		t.Fatal(err)
	}
	path := off.Media().Path
	if len(path) != 2 || path[0] != relay.self.String() {
		t.Fatalf("a=path %q, want the relay first", path)
	}
	if off.Media().Port != relay.self.Port || off.Media().Address != relay.self.Host {
		t.Fatalf("m/c-line %s:%d, want the relay's", off.Media().Address, off.Media().Port)
	}
	ans, err := b.Answer(ctx, off.Media(), session.Options{WantReceipts: true})
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
	sa, err := off.OpenOffer(ctx, ans.Media())
	if err != nil {
		t.Fatal(err)
	}
	sbi := <-ch
	if sbi == nil {
		t.FailNow()
	}
	sb := sbi.(*Session)
	if sa.Conn() != rc {
		t.Fatal("session not bound to the relay connection")
	}
	if want := append([]URI{relay.self}, mustPath(t, ans.Media().Path)...); !slices.EqualFunc(sa.toPath, want, URI.Equal) {
		t.Fatalf("To-Path %v, want %v", sa.toPath, want)
	}
	for i, dir := range []struct{ from, to *Session }{{sa, sb}, {sb, sa}} {
		body := []byte{'v', 'i', 'a', byte('0' + i)}
		d, err := dir.from.Send(ctx, &session.Outgoing{ContentType: "text/plain", Body: body})
		if err != nil {
			t.Fatal(err)
		}
		if in := recv(t, dir.to); string(in.Body) != string(body) {
			t.Fatalf("got %q", in.Body)
		}
		if r := wait(t, d); r.Outcome != session.Delivered {
			t.Fatalf("%d: %+v", i, r)
		}
	}
}

func mustPath(t *testing.T, ps []string) []URI {
	var out []URI
	for _, p := range ps {
		us, err := ParsePath(p)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, us...)
	}
	return out
}
