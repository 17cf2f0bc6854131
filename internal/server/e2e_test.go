package server

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/parley-im/parley/internal/store"
	"github.com/parley-im/parley/internal/testpeer"
	"github.com/parley-im/parley/messagesdp"
	"github.com/parley-im/parley/msrp"
	"github.com/parley-im/parley/session"
	"github.com/parley-im/parley/sipua"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	sip.SetDefaultLogger(slog.New(slog.DiscardHandler))
	if os.Getenv(childEnv) != "" {
		runChild() // never returns
	}
	goleak.VerifyTestMain(m)
}

const domain = "parley.test"

func testLogger() *slog.Logger {
	if os.Getenv("PARLEY_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// testConfig listens on loopback port 0 everywhere.
func testConfig(dataDir string) Config {
	return Config{
		SIP:       []Listen{{"udp", "127.0.0.1:0"}, {"tcp", "127.0.0.1:0"}},
		DataDir:   dataDir,
		Domains:   []string{domain},
		MSRPRelay: "127.0.0.1:0",
		HTTP:      "127.0.0.1:0",
		History:   true,
		Logger:    testLogger(),
	}
}

func startServer(t *testing.T, cfg Config, users ...string) *Server {
	t.Helper()
	s, err := New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	for _, u := range users {
		addUser(t, s.Store(), u)
	}
	return s
}

func addUser(t *testing.T, st store.Store, user string) {
	t.Helper()
	creds, err := store.NewCredentials(user, domain, user+"-pw")
	if err != nil {
		t.Fatal(err)
	}
	if err := st.AddAccount(context.Background(), store.Account{Domain: domain, User: user, Credentials: creds}); err != nil && !errors.Is(err, store.ErrExists) {
		t.Fatal(err)
	}
}

func (s *Server) sipAddr(transport string) string {
	for _, l := range s.Addrs().SIP {
		if l.Transport == transport {
			return l.Addr
		}
	}
	return ""
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

// newUA starts a UA for user at the server's address addr (TCP).
func newUA(t *testing.T, addr, user, password string, register bool, mod func(*sipua.Config)) (*sipua.UA, inbox, error) {
	t.Helper()
	in := make(inbox, 256)
	srv := "sip:" + addr + ";transport=tcp"
	cfg := sipua.Config{
		AOR:           "sip:" + user + "@" + domain,
		Password:      password,
		OutboundProxy: srv,
		Listen:        []sipua.Listen{{Transport: "tcp", Addr: "127.0.0.1:0"}},
		OnMessage:     func(m *sipua.Message) { in <- m },
		Logger:        testLogger(),
	}
	if register {
		cfg.Registrar = srv
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

func send(t *testing.T, ua *sipua.UA, to, text string) (sipua.PagerResult, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	return ua.SendMessage(ctx, "sip:"+to+"@"+domain, "text/plain", []byte(text))
}

// relayedEndpoint is an MSRP endpoint whose sessions go through the
// server's RFC 4976 relay: every Offer and Answer carries the relay in
// the context (msrp.WithSessionOptions).
type relayedEndpoint struct {
	*msrp.Endpoint
	so msrp.SessionOptions
}

func (r relayedEndpoint) Offer(ctx context.Context, o session.Options) (session.Offer, error) {
	return r.Endpoint.Offer(msrp.WithSessionOptions(ctx, r.so), o)
}

func (r relayedEndpoint) Answer(ctx context.Context, m *messagesdp.Media, o session.Options) (session.Answer, error) {
	return r.Endpoint.Answer(msrp.WithSessionOptions(ctx, r.so), m, o)
}

func relayed(t *testing.T, s *Server, user, password string) (relayedEndpoint, error) {
	t.Helper()
	return relayedVia(t, "msrp://"+s.Addrs().MSRPRelay+";tcp", msrp.Config{}, user, password)
}

// relayedVia is relayed for the relay at the URI relayURI, with an
// endpoint configured by mc (Host defaults to 127.0.0.1).
func relayedVia(t *testing.T, relayURI string, mc msrp.Config, user, password string) (relayedEndpoint, error) {
	t.Helper()
	if mc.Host == "" {
		mc.Host = "127.0.0.1"
	}
	ep, err := msrp.NewEndpoint(mc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ep.Close() })
	var ru msrp.URI
	if ru, err = msrp.ParseURI(relayURI); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	rc, err := ep.Dial(ctx, ru)
	if err != nil {
		return relayedEndpoint{}, err
	}
	t.Cleanup(rc.Release)
	self := msrp.URI{Host: "127.0.0.1", Port: 9, SessionID: msrp.NewSessionID(), Transport: "tcp"}
	ra, err := msrp.Authenticate(ctx, rc, ru, msrp.Credentials{Username: user, Password: password}, msrp.AuthOptions{From: self})
	if err != nil {
		return relayedEndpoint{}, err
	}
	return relayedEndpoint{Endpoint: ep, so: msrp.SessionOptions{Relay: &msrp.Relay{Conn: rc, UsePath: ra.UsePath}}}, nil
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

// TestEndToEnd runs one `parley serve` on loopback and two UAs: digest
// registration, pager messages (200), a chat session through the MSRP
// relay, store-and-forward (202, then delivery on return), 404, wrong
// password, healthz and metrics.
func TestEndToEnd(t *testing.T) {
	s := startServer(t, testConfig(t.TempDir()), "alice", "bob", "carol")
	addr := s.sipAddr("tcp")

	aliceEP, err := relayed(t, s, "alice", "alice-pw")
	if err != nil {
		t.Fatalf("relay AUTH: %v", err)
	}
	bobEP, err := relayed(t, s, "bob", "bob-pw")
	if err != nil {
		t.Fatalf("relay AUTH: %v", err)
	}
	var ae *msrp.AuthError
	if _, err := relayed(t, s, "bob", "wrong"); !errors.As(err, &ae) || !errors.Is(err, msrp.ErrAuthRejected) {
		t.Fatalf("relay AUTH with a wrong password: %v, want ErrAuthRejected", err)
	}
	calls := make(chan *sipua.Call, 1)
	alice, _, err := newUA(t, addr, "alice", "alice-pw", true, func(c *sipua.Config) { c.Endpoints = []session.Endpoint{aliceEP} })
	if err != nil {
		t.Fatal(err)
	}
	_, bobIn, err := newUA(t, addr, "bob", "bob-pw", true, func(c *sipua.Config) {
		c.Endpoints = []session.Endpoint{bobEP}
		c.AutoAnswer = true
		c.OnCall = func(c *sipua.Call) { calls <- c }
	})
	if err != nil {
		t.Fatal(err)
	}

	t.Run("pager", func(t *testing.T) {
		res, err := send(t, alice, "bob", "hello bob")
		if err != nil || res.Status != 200 {
			t.Fatalf("MESSAGE: %+v %v", res, err)
		}
		if m := bobIn.next(t); string(m.Body) != "hello bob" {
			t.Fatalf("got %q", m.Body)
		}
	})
	t.Run("session via relay", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
		defer cancel()
		ac, err := alice.Invite(ctx, "sip:bob@"+domain, sipua.InviteOptions{Subject: "chat"})
		if err != nil {
			t.Fatalf("Invite: %v", err)
		}
		var bc *sipua.Call
		select {
		case bc = <-calls:
		case <-time.After(10 * time.Second):
			t.Fatal("no call")
		}
		path := ac.Session().Remote()
		_ = path
		for i := range 3 {
			exchange(t, ac, bc, "chat "+string(rune('a'+i)))
			exchange(t, bc, ac, "reply "+string(rune('a'+i)))
		}
		if m := s.msrp.Metrics(); m.Forwarded == 0 {
			t.Errorf("the MSRP relay forwarded nothing: %+v", m)
		}
		if err := ac.Hangup(ctx); err != nil {
			t.Fatal(err)
		}
		<-bc.Done()
	})
	t.Run("store and forward", func(t *testing.T) {
		for i := range 3 {
			res, err := send(t, alice, "carol", "while away "+string(rune('0'+i)))
			if err != nil || res.Status != 202 {
				t.Fatalf("MESSAGE to offline carol: %+v %v", res, err)
			}
		}
		_, carolIn, err := newUA(t, addr, "carol", "carol-pw", true, nil)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			if m := carolIn.next(t); string(m.Body) != "while away "+string(rune('0'+i)) {
				t.Fatalf("message %d: %q", i, m.Body)
			}
		}
	})
	t.Run("unknown user", func(t *testing.T) {
		_, err := send(t, alice, "nobody", "hi")
		var se *sipua.StatusError
		if !errors.As(err, &se) || se.Code != 404 {
			t.Fatalf("%v, want 404", err)
		}
	})
	t.Run("wrong password", func(t *testing.T) {
		_, _, err := newUA(t, addr, "bob", "not-bob", true, nil)
		var se *sipua.StatusError
		if !errors.As(err, &se) || se.Code != 403 {
			t.Fatalf("%v, want 403", err)
		}
	})
	t.Run("healthz and metrics", func(t *testing.T) {
		get := func(path string) (int, string) {
			res, err := http.Get("http://" + s.Addrs().HTTP + path)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			b, _ := io.ReadAll(res.Body)
			return res.StatusCode, string(b)
		}
		if code, body := get("/healthz"); code != 200 || !strings.Contains(body, `"status":"ok"`) {
			t.Errorf("healthz: %d %s", code, body)
		}
		_, body := get("/metrics")
		// The chat went through the relay: its forward latency histogram
		// counted the SENDs.
		if testing.Verbose() {
			for _, l := range strings.Split(body, "\n") {
				if strings.Contains(l, "forward_latency") {
					t.Log(l)
				}
			}
		}
		if n := checkHistogram(t, body, "parley_msrp_relay_forward_latency_seconds"); n < 6 {
			t.Errorf("relay forward latency _count %d after 6 relayed SENDs", n)
		}
		for _, want := range []string{"parley_registrations_total ", "parley_messages_stored_total 3", "parley_messages_forwarded_total 3", "parley_sessions_total 1", "parley_not_found_total 1", "parley_msrp_relay_forwarded_total ", "parley_message_forward_seconds_count 1"} {
			if !strings.Contains(body, want) {
				t.Errorf("metrics lack %q:\n%s", want, body)
			}
		}
	})
	h, err := s.Store().History(t.Context(), "sip:carol@"+domain, "sip:alice@"+domain, store.Cursor{}, 10)
	if err != nil || len(h) != 3 {
		t.Errorf("carol's history: %d entries, %v", len(h), err)
	}
}

// ---- several nodes on one PostgreSQL ----

func postgresDSN(t *testing.T) string {
	dsn := testpeer.Postgres(t)
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	b := make([]byte, 6)
	rand.Read(b)
	schema := "t_" + hex.EncodeToString(b)
	if _, err := admin.ExecContext(t.Context(), "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() { admin.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE") })
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	return dsn + sep + "search_path=" + schema
}

// TestCluster: two nodes share one PostgreSQL; alice is registered on
// node A, bob on node B; a MESSAGE from alice (through A) reaches bob
// through B, the node holding his binding, and a message stored while
// bob is offline is delivered when he registers on B.
func TestCluster(t *testing.T) {
	dsn := postgresDSN(t)
	cfgA, cfgB := testConfig(t.TempDir()), testConfig(t.TempDir())
	cfgA.DSN, cfgB.DSN = dsn, dsn
	cfgA.MSRPRelay, cfgB.MSRPRelay = "", ""
	a := startServer(t, cfgA, "alice", "bob")
	b := startServer(t, cfgB)
	if a.SIP().Node() == b.SIP().Node() {
		t.Fatal("both nodes have the same id")
	}
	aliceEP, bobEP := plainEndpoint(t), plainEndpoint(t)
	calls := make(chan *sipua.Call, 1)
	alice, _, err := newUA(t, a.sipAddr("tcp"), "alice", "alice-pw", true, func(c *sipua.Config) { c.Endpoints = []session.Endpoint{aliceEP} })
	if err != nil {
		t.Fatal(err)
	}
	res, err := send(t, alice, "bob", "stored in postgres")
	if err != nil || res.Status != 202 {
		t.Fatalf("offline bob: %+v %v", res, err)
	}
	_, bobIn, err := newUA(t, b.sipAddr("tcp"), "bob", "bob-pw", true, func(c *sipua.Config) {
		c.Endpoints = []session.Endpoint{bobEP}
		c.AutoAnswer = true
		c.OnCall = func(c *sipua.Call) { calls <- c }
	})
	if err != nil {
		t.Fatal(err)
	}
	if m := bobIn.next(t); string(m.Body) != "stored in postgres" {
		t.Fatalf("got %q", m.Body)
	}
	bs, err := a.Store().Lookup(t.Context(), "sip:bob@"+domain)
	if err != nil || len(bs) != 1 || bs[0].Node != b.SIP().Node() {
		t.Fatalf("bob's binding: %+v %v (node B is %s)", bs, err, b.SIP().Node())
	}
	before := b.SIP().Metrics().Requests.Load()
	res, err = send(t, alice, "bob", "across nodes")
	if err == nil && res.Status == 202 {
		// Node A's 1 s cache of bindings (sipserver) may still hold
		// bob's "no binding" until node B's NOTIFY drops it: the message
		// is queued and node B delivers it. Past the cache's lifetime the
		// next one must go straight through.
		t.Logf("MESSAGE across nodes answered 202 right after bob registered on node B (node A's binding cache); retrying after its 1 s lifetime")
		if m := bobIn.next(t); string(m.Body) != "across nodes" {
			t.Fatalf("queued message: got %q", m.Body)
		}
		time.Sleep(1100 * time.Millisecond)
		res, err = send(t, alice, "bob", "across nodes")
	}
	if err != nil || res.Status != 200 {
		t.Fatalf("MESSAGE across nodes: %+v %v", res, err)
	}
	if m := bobIn.next(t); string(m.Body) != "across nodes" || m.From.URI != "sip:alice@"+domain {
		t.Fatalf("got %q from %s", m.Body, m.From.URI)
	}
	if b.SIP().Metrics().Requests.Load() == before {
		t.Error("node B saw no request: the message did not go through the owning node")
	}

	// A session across the nodes: INVITE through A then B, BYE back.
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	ac, err := alice.Invite(ctx, "sip:bob@"+domain, sipua.InviteOptions{})
	if err != nil {
		t.Fatalf("INVITE across nodes: %v", err)
	}
	var bc *sipua.Call
	select {
	case bc = <-calls:
	case <-time.After(10 * time.Second):
		t.Fatal("no call on node B")
	}
	exchange(t, ac, bc, "session across nodes")
	if err := bc.Hangup(ctx); err != nil {
		t.Fatalf("Hangup: %v", err)
	}
	select {
	case <-ac.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("BYE did not come back across the nodes")
	}
}

func plainEndpoint(t *testing.T) *msrp.Endpoint {
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
