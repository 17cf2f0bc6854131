package sipserver

import (
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/parley-im/parley/internal/store"
	"github.com/parley-im/parley/sipua"
)

// TestStoredDeliveredOnce: bob has a device on each of two nodes sharing
// one store; messages stored for him are flushed by both nodes at once
// (both hear the queue notification), and each reaches exactly one of his
// devices, because delivery claims the message in the store first.
func TestStoredDeliveredOnce(t *testing.T) {
	st, err := store.Open(t.Context(), filepath.Join(t.TempDir(), "parley.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cfg := Config{ClusterSecret: "s3cret"}
	a := newTestServer(t, st, cfg, "alice", "bob")
	b := newTestServer(t, st, cfg)
	var mu sync.Mutex
	got := map[string]int{}
	count := func(m *sipua.Message) {
		mu.Lock()
		got[string(m.Body)]++
		mu.Unlock()
	}
	for _, s := range []*testServer{a, b} {
		if _, _, err := s.client(t, "bob", "bob-pw", "tcp", func(c *sipua.Config) { c.OnMessage = count }); err != nil {
			t.Fatal(err)
		}
	}
	aor := "sip:bob@" + domain
	bs, _ := st.Lookup(t.Context(), aor)
	if len(bs) != 2 || bs[0].Node == bs[1].Node {
		t.Fatalf("bob's bindings: %+v, want one on each node", bs)
	}
	const n = 8
	for i := range n {
		if _, _, err := st.Enqueue(t.Context(), store.Message{Rcpt: aor, Sender: "sip:alice@" + domain,
			ContentType: "text/plain", Body: []byte{'m', byte('0' + i)}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Notify(t.Context(), notifyChannel, aor); err != nil { // both nodes flush
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		p, err := st.Pending(t.Context(), aor, 0)
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
	time.Sleep(300 * time.Millisecond) // a second delivery would be in flight by now
	mu.Lock()
	defer mu.Unlock()
	for i := range n {
		if body := string([]byte{'m', byte('0' + i)}); got[body] != 1 {
			t.Errorf("%s delivered %d times, want once", body, got[body])
		}
	}
	if len(got) != n {
		t.Errorf("%d distinct messages delivered, want %d", len(got), n)
	}
}

// TestCrossNodeMessage: alice on node A writes to bob, whose only device
// is registered on node B; A routes the MESSAGE through B with a
// Parley-Node token, which B trusts instead of challenging alice again.
func TestCrossNodeMessage(t *testing.T) {
	st, err := store.Open(t.Context(), filepath.Join(t.TempDir(), "parley.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cfg := Config{ClusterSecret: "s3cret"}
	a := newTestServer(t, st, cfg, "alice", "bob")
	b := newTestServer(t, st, cfg)
	alice, _ := a.mustClient(t, "alice", "tcp")
	_, bobIn := b.mustClient(t, "bob", "tcp")
	res, err := send(t, alice, "bob", "across nodes")
	if err != nil || res.Status != 200 {
		t.Fatalf("MESSAGE through the other node: %+v %v, want 200", res, err)
	}
	if m := bobIn.next(t); string(m.Body) != "across nodes" || m.From.URI != "sip:alice@"+domain {
		t.Fatalf("got %q from %s", m.Body, m.From.URI)
	}
	if got := b.Metrics().AuthFailures.Load(); got != 0 {
		t.Errorf("node B counted %d authentication failures", got)
	}
}

func tokenRequest(callID string, seq uint32, body string) *sip.Request {
	req := rawRequest(sip.MESSAGE, "sip:bob@"+domain, "sip:alice@"+domain, "sip:bob@"+domain, sip.NewHeader("Content-Type", "text/plain"))
	cid := sip.CallIDHeader(callID)
	req.AppendHeader(&cid)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: seq, MethodName: sip.MESSAGE})
	req.SetBody([]byte(body))
	return req
}

// TestNodeToken: a Parley-Node token is valid for its own request only,
// within 60 s of its timestamp, under the same secret.
func TestNodeToken(t *testing.T) {
	s := &Server{cfg: Config{ClusterSecret: "s3cret"}}
	now := time.Unix(1_800_000_000, 0)
	req := tokenRequest("cid-1", 1, "hello")
	tok := s.nodeToken(req, now)
	if !s.checkNodeToken(req, tok, now) || !s.checkNodeToken(req, tok, now.Add(59*time.Second)) {
		t.Fatalf("own token %q refused", tok)
	}
	other := func(f func(r *sip.Request)) *sip.Request { r := tokenRequest("cid-1", 1, "hello"); f(r); return r }
	for _, c := range []struct {
		name string
		req  *sip.Request
		tok  string
		at   time.Time
	}{
		{"other call-id", tokenRequest("cid-2", 1, "hello"), tok, now},
		{"other cseq", tokenRequest("cid-1", 2, "hello"), tok, now},
		{"other body", tokenRequest("cid-1", 1, "hellO"), tok, now},
		{"other from", other(func(r *sip.Request) { r.From().Address.User = "carol" }), tok, now},
		{"other request-uri", other(func(r *sip.Request) { r.Recipient.User = "dave" }), tok, now},
		{"other method", other(func(r *sip.Request) { r.Method = sip.OPTIONS }), tok, now},
		{"expired", req, tok, now.Add(61 * time.Second)},
		{"from the future", req, tok, now.Add(-61 * time.Second)},
		{"other secret", req, (&Server{cfg: Config{ClusterSecret: "other"}}).nodeToken(req, now), now},
		{"timestamp changed", req, strings.Replace(tok, "t=1800000000", "t=1800000001", 1), now},
		{"timestamp padded", req, strings.Replace(tok, "t=", "t=0", 1), now},
		{"mac cut", req, tok[:len(tok)-2], now},
		{"no mac", req, "t=1800000000", now},
		{"garbage", req, "forged", now},
		{"empty", req, "", now},
	} {
		if s.checkNodeToken(c.req, c.tok, c.at) {
			t.Errorf("%s: token %q accepted", c.name, c.tok)
		}
	}
	if (&Server{}).checkNodeToken(req, tok, now) || (&Server{}).nodeToken(req, now) != "" {
		t.Error("tokens without a ClusterSecret")
	}
}

// TestNodeTokenOverSIP: a request carrying a valid token for itself is
// trusted (no challenge; bob is offline, so stored: 202); the same header
// on another request is not (407).
func TestNodeTokenOverSIP(t *testing.T) {
	s := newTestServer(t, nil, Config{ClusterSecret: "s3cret"}, "alice", "bob")
	c := rawClient(t)
	good := tokenRequest("tok-good", 1, "trusted")
	tok := s.nodeToken(good, time.Now())
	good.AppendHeader(sip.NewHeader(nodeHeader, tok))
	good.SetDestination(s.Addr("udp"))
	if res := do(t, c, good); res.StatusCode != 202 {
		t.Fatalf("request with its own token: %d %s, want 202", res.StatusCode, res.Reason)
	}
	replay := tokenRequest("tok-replay", 1, "trusted")
	replay.AppendHeader(sip.NewHeader(nodeHeader, tok))
	replay.SetDestination(s.Addr("udp"))
	if res := do(t, c, replay); res.StatusCode != 407 {
		t.Fatalf("token replayed on another request: %d %s, want 407", res.StatusCode, res.Reason)
	}
}
