package sipserver

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/parley-im/parley/internal/store"
	"github.com/parley-im/parley/msrp"
	"github.com/parley-im/parley/session"
	"github.com/parley-im/parley/sipua"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	sip.SetDefaultLogger(slog.New(slog.DiscardHandler))
	goleak.VerifyTestMain(m)
}

const domain = "parley.test"

type testServer struct {
	*Server
	st store.Store
}

func testLogger(t testing.TB) *slog.Logger {
	if os.Getenv("PARLEY_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// newTestServer starts a server on loopback port 0 (UDP and TCP) over a
// fresh SQLite store with the given users (password = user + "-pw").
func newTestServer(t testing.TB, st store.Store, cfg Config, users ...string) *testServer {
	t.Helper()
	if st == nil {
		var err error
		st, err = store.Open(t.Context(), filepath.Join(t.TempDir(), "parley.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
	}
	for _, u := range users {
		addUser(t, st, u)
	}
	cfg.Store = st
	if len(cfg.Domains) == 0 {
		cfg.Domains = []string{domain}
	}
	cfg.Logger = testLogger(t)
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.ServeUDP(pc); err != nil {
		t.Fatal(err)
	}
	if err := s.ServeTCP(ln); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Close(ctx)
	})
	return &testServer{Server: s, st: st}
}

func addUser(t testing.TB, st store.Store, user string) {
	t.Helper()
	creds, err := store.NewCredentials(user, domain, user+"-pw")
	if err != nil {
		t.Fatal(err)
	}
	if err := st.AddAccount(t.Context(), store.Account{Domain: domain, User: user, Credentials: creds}); err != nil && !errors.Is(err, store.ErrExists) {
		t.Fatal(err)
	}
}

type inbox chan *sipua.Message

func (b inbox) next(t *testing.T) *sipua.Message {
	t.Helper()
	select {
	case m := <-b:
		return m
	case <-time.After(10 * time.Second):
		t.Fatal("no message arrived")
		return nil
	}
}

// client starts a UA for user registered at s over transport.
func (s *testServer) client(t *testing.T, user, password, transport string, mod func(*sipua.Config)) (*sipua.UA, inbox, error) {
	t.Helper()
	in := make(inbox, 64)
	reg := "sip:" + s.Addr(transport)
	if transport == "tcp" {
		reg += ";transport=tcp"
	}
	cfg := sipua.Config{
		AOR:             "sip:" + user + "@" + domain,
		Password:        password,
		Registrar:       reg,
		OutboundProxy:   reg,
		RegisterExpires: 10 * time.Minute,
		Listen:          []sipua.Listen{{Transport: transport, Addr: "127.0.0.1:0"}},
		OnMessage:       func(m *sipua.Message) { in <- m },
		Logger:          testLogger(t),
	}
	if mod != nil {
		mod(&cfg)
	}
	ua, err := sipua.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ua.Close() })
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	return ua, in, ua.Start(ctx)
}

func (s *testServer) mustClient(t *testing.T, user, transport string) (*sipua.UA, inbox) {
	t.Helper()
	ua, in, err := s.client(t, user, user+"-pw", transport, nil)
	if err != nil {
		t.Fatalf("%s: %v", user, err)
	}
	return ua, in
}

func send(t *testing.T, ua *sipua.UA, to, text string) (sipua.PagerResult, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	return ua.SendMessage(ctx, "sip:"+to+"@"+domain, "text/plain", []byte(text))
}

func TestPager(t *testing.T) {
	for _, tr := range []string{"udp", "tcp"} {
		t.Run(tr, func(t *testing.T) {
			s := newTestServer(t, nil, Config{History: true}, "alice", "bob")
			alice, _ := s.mustClient(t, "alice", tr)
			_, bobIn := s.mustClient(t, "bob", tr)
			res, err := send(t, alice, "bob", "hello bob")
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != 200 {
				t.Fatalf("status %d, want 200", res.Status)
			}
			m := bobIn.next(t)
			if string(m.Body) != "hello bob" || m.From.URI != "sip:alice@"+domain {
				t.Fatalf("got %q from %s", m.Body, m.From.URI)
			}
			h, err := s.st.History(t.Context(), "sip:bob@"+domain, "", store.Cursor{}, 10)
			if err != nil || len(h) != 1 || string(h[0].Body) != "hello bob" || h[0].Direction != store.Incoming {
				t.Fatalf("bob's history: %+v %v", h, err)
			}
		})
	}
}

func TestRegisterFailures(t *testing.T) {
	s := newTestServer(t, nil, Config{}, "alice")
	_, _, err := s.client(t, "alice", "wrong", "udp", nil)
	var se *sipua.StatusError
	if !errors.As(err, &se) || se.Code != 403 {
		t.Fatalf("wrong password: %v, want 403", err)
	}
	_, _, err = s.client(t, "mallory", "x", "udp", nil)
	if !errors.As(err, &se) || se.Code != 403 {
		t.Fatalf("unknown user: %v, want 403", err)
	}
	if got := s.Metrics().AuthFailures.Load(); got != 2 {
		t.Errorf("AuthFailures = %d, want 2", got)
	}
	// 423 then a retry with Min-Expires is done by sipua itself.
	ua, _, err := s.client(t, "alice", "alice-pw", "udp", func(c *sipua.Config) { c.RegisterExpires = 10 * time.Second })
	if err != nil {
		t.Fatal(err)
	}
	if got := ua.Registered(); got != DefaultMinExpires {
		t.Errorf("granted %v, want %v after 423", got, DefaultMinExpires)
	}
}

func TestUnknownAndOffline(t *testing.T) {
	s := newTestServer(t, nil, Config{}, "alice", "bob")
	alice, _ := s.mustClient(t, "alice", "udp")
	_, err := send(t, alice, "nobody", "hi")
	var se *sipua.StatusError
	if !errors.As(err, &se) || se.Code != 404 {
		t.Fatalf("unknown user: %v, want 404", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	_, err = alice.Invite(ctx, "sip:bob@"+domain, sipua.InviteOptions{})
	if err == nil {
		t.Fatal("INVITE to an offline user succeeded")
	}
}

func TestStoreAndForward(t *testing.T) {
	s := newTestServer(t, nil, Config{}, "alice", "bob")
	alice, _ := s.mustClient(t, "alice", "udp")
	const n = 5
	for i := range n {
		res, err := send(t, alice, "bob", "offline "+string(rune('0'+i)))
		if err != nil {
			t.Fatal(err)
		}
		if res.Status != 202 || res.Disposition != sipua.AcceptedForLater {
			t.Fatalf("status %d, want 202", res.Status)
		}
	}
	_, bobIn := s.mustClient(t, "bob", "udp")
	for i := range n {
		m := bobIn.next(t)
		if want := "offline " + string(rune('0'+i)); string(m.Body) != want {
			t.Fatalf("message %d: %q, want %q", i, m.Body, want)
		}
		if m.From.URI != "sip:alice@"+domain {
			t.Fatalf("From %s", m.From.URI)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		p, err := s.st.Pending(t.Context(), "sip:bob@"+domain, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(p) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d messages still pending", len(p))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func msrpEndpoint(t *testing.T) *msrp.Endpoint {
	t.Helper()
	ep, err := msrp.NewEndpoint(msrp.Config{Host: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ep.Listen(t.Context(), "tcp", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ep.Close() })
	return ep
}

func exchange(t *testing.T, from, to *sipua.Call, text string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	d, err := from.Session().Send(ctx, &session.Outgoing{ContentType: "text/plain", Body: []byte(text)})
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	m, err := to.Session().Receive(ctx)
	if err != nil {
		t.Fatalf("Receive: %v", err)
	}
	if string(m.Body) != text {
		t.Fatalf("Receive: %q, want %q", m.Body, text)
	}
	if r, err := d.Wait(ctx); err != nil || (r.Outcome != session.Delivered && r.Outcome != session.Sent) {
		t.Fatalf("delivery: %+v %v", r, err)
	}
}

// TestSessionForked: bob has two devices; alice's INVITE rings both,
// the second answers, the first gets CANCEL; the MSRP session works and
// BYE goes through the proxy (Record-Route).
func TestSessionForked(t *testing.T) {
	for _, tr := range []string{"udp", "tcp"} {
		t.Run(tr, func(t *testing.T) {
			s := newTestServer(t, nil, Config{}, "alice", "bob")
			aliceEP, bob1EP, bob2EP := msrpEndpoint(t), msrpEndpoint(t), msrpEndpoint(t)
			ringing := make(chan *sipua.Incoming, 1)
			calls := make(chan *sipua.Call, 1)
			_, _, err := s.client(t, "bob", "bob-pw", tr, func(c *sipua.Config) {
				c.Endpoints = []session.Endpoint{bob1EP}
				c.OnInvite = func(in *sipua.Incoming) { ringing <- in; <-in.Canceled() }
			})
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = s.client(t, "bob", "bob-pw", tr, func(c *sipua.Config) {
				c.Endpoints = []session.Endpoint{bob2EP}
				c.OnInvite = func(in *sipua.Incoming) {
					select {
					case <-ringing: // the other device rings first
					case <-time.After(5 * time.Second):
						t.Error("device 1 did not ring")
					}
					c, err := in.Accept(t.Context())
					if err != nil {
						t.Errorf("Accept: %v", err)
						return
					}
					calls <- c
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			bs, _ := s.st.Lookup(t.Context(), "sip:bob@"+domain)
			if len(bs) != 2 {
				t.Fatalf("%d bindings for bob, want 2", len(bs))
			}
			alice, _, err := s.client(t, "alice", "alice-pw", tr, func(c *sipua.Config) { c.Endpoints = []session.Endpoint{aliceEP} })
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
			defer cancel()
			ac, err := alice.Invite(ctx, "sip:bob@"+domain, sipua.InviteOptions{Subject: "fork"})
			if err != nil {
				t.Fatalf("Invite: %v", err)
			}
			var bc *sipua.Call
			select {
			case bc = <-calls:
			case <-time.After(10 * time.Second):
				t.Fatal("no call at device 2")
			}
			exchange(t, ac, bc, "hello device 2")
			exchange(t, bc, ac, "hi alice")
			if err := ac.Hangup(ctx); err != nil {
				t.Fatalf("Hangup: %v", err)
			}
			select {
			case <-bc.Done():
			case <-time.After(5 * time.Second):
				t.Fatal("BYE did not reach device 2")
			}
			if got := s.Metrics().Sessions.Load(); got != 1 {
				t.Errorf("Sessions = %d", got)
			}
			if got := s.Metrics().SessionsActive.Load(); got != 0 {
				t.Errorf("SessionsActive = %d after BYE", got)
			}
		})
	}
}

// TestMessageFirstReachableDevice: a MESSAGE goes to one device only;
// when the preferred one is gone, the next one gets it.
func TestMessageFirstReachableDevice(t *testing.T) {
	s := newTestServer(t, nil, Config{}, "alice", "bob")
	alice, _ := s.mustClient(t, "alice", "tcp")
	bob1, in1 := s.mustClient(t, "bob", "tcp")
	_, in2 := s.mustClient(t, "bob", "tcp")
	if _, err := send(t, alice, "bob", "one"); err != nil {
		t.Fatal(err)
	}
	var first inbox
	select {
	case <-in1:
		first = in2
	case <-in2:
		first = in1
	case <-time.After(10 * time.Second):
		t.Fatal("not delivered")
	}
	select {
	case m := <-first:
		t.Fatalf("delivered twice: %q", m.Body)
	case <-time.After(200 * time.Millisecond):
	}
	_ = bob1
}

func TestProxyAuthRequired(t *testing.T) {
	s := newTestServer(t, nil, Config{}, "alice", "bob")
	_, _ = s.mustClient(t, "bob", "udp")
	// alice sends without registering and with a wrong password: the
	// proxy challenges (407) and refuses (403).
	ua, err := sipua.New(sipua.Config{AOR: "sip:alice@" + domain, Password: "nope", OutboundProxy: "sip:" + s.Addr("udp"),
		Listen: []sipua.Listen{{Transport: "udp", Addr: "127.0.0.1:0"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer ua.Close()
	if err := ua.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	_, err = send(t, ua, "bob", "forged")
	var se *sipua.StatusError
	if !errors.As(err, &se) || se.Code != 403 {
		t.Fatalf("forged From: %v, want 403", err)
	}
}

func TestNonces(t *testing.T) {
	n := newNonces(time.Minute)
	now := time.Now()
	v := n.issue(now, "r")
	for _, c := range []struct {
		nc   int
		at   time.Duration
		want error
	}{
		{1, 0, nil},
		{1, 0, errNonceReplay},
		{3, 0, nil},
		{2, 0, errNonceReplay},
		{4, 2 * time.Minute, errNonceStale},
		{5, 0, nil},
	} {
		if err := n.use(v, "r", c.nc, now.Add(c.at)); !errors.Is(err, c.want) && !(err == nil && c.want == nil) {
			t.Errorf("nc=%d at +%v: %v, want %v", c.nc, c.at, err, c.want)
		}
	}
	w := n.issue(now, "r")
	if err := n.use(w, "r", 0, now); err != nil {
		t.Fatal(err)
	}
	if err := n.use(w, "r", 0, now); !errors.Is(err, errNonceReplay) {
		t.Errorf("qop-less nonce reused: %v", err)
	}
	// Stateless nonces are bound to the server's secret and the realm.
	x := n.issue(now, "r")
	flip := "0"
	if x[len(x)-1] == '0' {
		flip = "1"
	}
	for _, c := range []struct{ nonce, realm string }{
		{x, "other"},
		{x[:len(x)-1] + flip, "r"},
		{"0000000000000000" + x[16:], "r"},
		{"short", "r"},
		{newNonces(time.Minute).issue(now, "r"), "r"},
	} {
		if err := n.use(c.nonce, c.realm, 1, now); !errors.Is(err, errNonceUnknown) {
			t.Errorf("nonce %q realm %q: %v, want %v", c.nonce, c.realm, err, errNonceUnknown)
		}
	}
}

// TestSessionTransportChange: alice on UDP calls bob on TCP; the proxy
// record-routes twice (RFC 5658) and the callee's BYE finds its way
// back to the caller over UDP.
func TestSessionTransportChange(t *testing.T) {
	s := newTestServer(t, nil, Config{}, "alice", "bob")
	aliceEP, bobEP := msrpEndpoint(t), msrpEndpoint(t)
	calls := make(chan *sipua.Call, 1)
	if _, _, err := s.client(t, "bob", "bob-pw", "tcp", func(c *sipua.Config) {
		c.Endpoints = []session.Endpoint{bobEP}
		c.AutoAnswer = true
		c.OnCall = func(c *sipua.Call) { calls <- c }
	}); err != nil {
		t.Fatal(err)
	}
	alice, _, err := s.client(t, "alice", "alice-pw", "udp", func(c *sipua.Config) { c.Endpoints = []session.Endpoint{aliceEP} })
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	ac, err := alice.Invite(ctx, "sip:bob@"+domain, sipua.InviteOptions{})
	if err != nil {
		t.Fatalf("Invite: %v", err)
	}
	var bc *sipua.Call
	select {
	case bc = <-calls:
	case <-time.After(10 * time.Second):
		t.Fatal("no call")
	}
	exchange(t, bc, ac, "callee first")
	if err := bc.Hangup(ctx); err != nil {
		t.Fatalf("callee Hangup: %v", err)
	}
	select {
	case <-ac.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the callee's BYE did not reach the caller")
	}
}

func TestHistoryOptOut(t *testing.T) {
	s := newTestServer(t, nil, Config{History: true, HistoryOptOut: func(aor string) bool { return aor == "sip:bob@"+domain }}, "alice", "bob")
	alice, _ := s.mustClient(t, "alice", "tcp")
	if res, err := send(t, alice, "bob", "not kept for bob"); err != nil || res.Status != 202 {
		t.Fatalf("%+v %v", res, err)
	}
	a, err := s.st.History(t.Context(), "sip:alice@"+domain, "sip:bob@"+domain, store.Cursor{}, 10)
	if err != nil || len(a) != 1 || a[0].Direction != store.Outgoing {
		t.Errorf("alice's history: %+v %v", a, err)
	}
	if b, err := s.st.History(t.Context(), "sip:bob@"+domain, "", store.Cursor{}, 10); err != nil || len(b) != 0 {
		t.Errorf("bob opted out but has %d entries (%v)", len(b), err)
	}
}

// TestCloseDrains: Close waits for a MESSAGE in flight (the device takes
// 500 ms to answer) and it is delivered; with a short deadline Close
// gives up on it instead of waiting for the device.
func TestCloseDrains(t *testing.T) {
	for _, c := range []struct {
		name     string
		deadline time.Duration
		wantOK   bool
	}{
		{"drained", 5 * time.Second, true},
		{"deadline", 100 * time.Millisecond, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := newTestServer(t, nil, Config{}, "alice", "bob")
			alice, _ := s.mustClient(t, "alice", "tcp")
			arrived := make(chan struct{}, 1)
			_, _, err := s.client(t, "bob", "bob-pw", "tcp", func(cfg *sipua.Config) {
				cfg.OnMessage = func(*sipua.Message) {
					arrived <- struct{}{}
					time.Sleep(500 * time.Millisecond)
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			res := make(chan error, 1)
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				r, err := alice.SendMessage(ctx, "sip:bob@"+domain, "text/plain", []byte("in flight"))
				if err == nil && r.Status != 200 {
					err = errors.New(r.Reason)
				}
				res <- err
			}()
			<-arrived
			ctx, cancel := context.WithTimeout(context.Background(), c.deadline)
			defer cancel()
			start := time.Now()
			s.Close(ctx)
			took := time.Since(start)
			err = <-res
			if c.wantOK && err != nil {
				t.Errorf("message in flight lost on Close: %v", err)
			}
			if !c.wantOK && took > 400*time.Millisecond {
				t.Errorf("Close took %v with a %v deadline", took, c.deadline)
			}
		})
	}
}
