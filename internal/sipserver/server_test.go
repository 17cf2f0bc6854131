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

func testLogger(t *testing.T) *slog.Logger {
	if os.Getenv("PARLEY_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// newTestServer starts a server on loopback port 0 (UDP and TCP) over a
// fresh SQLite store with the given users (password = user + "-pw").
func newTestServer(t *testing.T, st store.Store, cfg Config, users ...string) *testServer {
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

func addUser(t *testing.T, st store.Store, user string) {
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
