package sipserver

import (
	"context"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// rawClient sends hand-built requests (no digest handling) to s over UDP.
func rawClient(t *testing.T) *sipgo.Client {
	t.Helper()
	ua, err := sipgo.NewUA(sipgo.WithUserAgentHostname("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ua.Close() })
	c, err := sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func rawRequest(method sip.RequestMethod, ruri, from, to string, hdrs ...sip.Header) *sip.Request {
	var u, f, tt sip.Uri
	sip.ParseUri(ruri, &u)
	sip.ParseUri(from, &f)
	sip.ParseUri(to, &tt)
	req := sip.NewRequest(method, u)
	fh := &sip.FromHeader{Address: f, Params: sip.NewParams()}
	fh.Params.Add("tag", sip.GenerateTagN(8))
	req.AppendHeader(fh)
	req.AppendHeader(&sip.ToHeader{Address: tt, Params: sip.NewParams()})
	for _, h := range hdrs {
		req.AppendHeader(h)
	}
	req.SetTransport("UDP")
	return req
}

func do(t *testing.T, c *sipgo.Client, req *sip.Request) *sip.Response {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	res, err := c.Do(ctx, req)
	if err != nil {
		t.Fatalf("%s: %v", req.Method, err)
	}
	return res
}

// register sends a REGISTER for user and answers the digest challenge.
func registerRaw(t *testing.T, c *sipgo.Client, s *testServer, user string, hdrs ...sip.Header) *sip.Response {
	t.Helper()
	aor := "sip:" + user + "@" + domain
	req := rawRequest(sip.REGISTER, "sip:"+s.Addr("udp"), aor, aor, hdrs...)
	res := do(t, c, req)
	if res.StatusCode != 401 {
		return res
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	res, err := c.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: user, Password: user + "-pw"})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestRegistrarRules(t *testing.T) {
	s := newTestServer(t, nil, Config{}, "alice")
	c := rawClient(t)
	contact := func(uri string, params ...string) sip.Header {
		var u sip.Uri
		sip.ParseUri(uri, &u)
		h := &sip.ContactHeader{Address: u, Params: sip.NewParams()}
		for i := 0; i+1 < len(params); i += 2 {
			h.Params.Add(params[i], params[i+1])
		}
		return h
	}
	exp := func(n int) sip.Header { e := sip.ExpiresHeader(n); return &e }
	aor := "sip:alice@" + domain

	if res := registerRaw(t, c, s, "alice", contact("sip:alice@127.0.0.1:7001"), exp(10)); res.StatusCode != 423 || headerValue(res, "Min-Expires") != "60" {
		t.Fatalf("brief: %d Min-Expires %q, want 423 60", res.StatusCode, headerValue(res, "Min-Expires"))
	}
	if res := registerRaw(t, c, s, "alice", contact("sip:alice@127.0.0.1:7001"), exp(999999)); res.StatusCode != 200 {
		t.Fatalf("long: %d", res.StatusCode)
	} else if ch := res.Contact(); ch == nil {
		t.Fatal("no Contact in 200")
	} else if e, _ := ch.Params.Get("expires"); e != strconv.Itoa(int(DefaultMaxExpires/time.Second)) {
		t.Errorf("granted %s, want the maximum", e)
	}
	if res := registerRaw(t, c, s, "alice", contact("sip:alice@127.0.0.1:7002", "expires", "120")); res.StatusCode != 200 || len(res.GetHeaders("Contact")) != 2 {
		t.Fatalf("second device: %d with %d contacts", res.StatusCode, len(res.GetHeaders("Contact")))
	}
	if res := registerRaw(t, c, s, "alice", sip.NewHeader("Contact", "*"), exp(60)); res.StatusCode != 400 {
		t.Errorf("Contact: * with Expires 60: %d, want 400", res.StatusCode)
	}
	if res := registerRaw(t, c, s, "alice", contact("sip:alice@127.0.0.1:7002"), exp(0)); res.StatusCode != 200 || len(res.GetHeaders("Contact")) != 1 {
		t.Fatalf("unregister one: %d with %d contacts", res.StatusCode, len(res.GetHeaders("Contact")))
	}
	if res := registerRaw(t, c, s, "alice", sip.NewHeader("Contact", "*"), exp(0)); res.StatusCode != 200 {
		t.Errorf("Contact: *: %d", res.StatusCode)
	}
	if bs, _ := s.st.Lookup(t.Context(), aor); len(bs) != 0 {
		t.Errorf("%d bindings left", len(bs))
	}
	// Credentials of another user.
	req := rawRequest(sip.REGISTER, "sip:"+s.Addr("udp"), "sip:bob@"+domain, "sip:bob@"+domain)
	res := do(t, c, req)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	res, err := c.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: "alice", Password: "alice-pw"})
	if err != nil || res.StatusCode != 403 || res.Reason != "Forbidden" {
		t.Errorf("alice's credentials for bob: %v %d %q", err, res.StatusCode, res.Reason)
	}
	// A foreign domain.
	res = do(t, c, rawRequest(sip.REGISTER, "sip:"+s.Addr("udp"), "sip:x@elsewhere.test", "sip:x@elsewhere.test"))
	if res.StatusCode != 404 {
		t.Errorf("foreign AOR: %d, want 404", res.StatusCode)
	}
}

func TestProxyChecks(t *testing.T) {
	s := newTestServer(t, nil, Config{ClusterSecret: "s3cret"}, "alice", "bob")
	c := rawClient(t)
	from := "sip:carol@elsewhere.test" // a foreign sender is not challenged
	mf := func(n int) sip.Header { m := sip.MaxForwardsHeader(n); return &m }
	for _, tc := range []struct {
		name string
		req  *sip.Request
		code int
	}{
		{"max-forwards 0", rawRequest(sip.MESSAGE, "sip:bob@"+domain, from, "sip:bob@"+domain, mf(0)), 483},
		{"unknown user", rawRequest(sip.MESSAGE, "sip:nobody@"+domain, from, "sip:nobody@"+domain), 404},
		{"offline invite", rawRequest(sip.INVITE, "sip:bob@"+domain, from, "sip:bob@"+domain), 480},
		{"offline message", rawRequest(sip.MESSAGE, "sip:bob@"+domain, from, "sip:bob@"+domain, sip.NewHeader("Content-Type", "text/plain")), 202},
		{"relaying denied", rawRequest(sip.MESSAGE, "sip:dave@other.test", from, "sip:dave@other.test"), 403},
		{"local from unauthenticated", rawRequest(sip.MESSAGE, "sip:bob@"+domain, "sip:alice@"+domain, "sip:bob@"+domain), 407},
		{"forged node token", rawRequest(sip.MESSAGE, "sip:bob@"+domain, "sip:alice@"+domain, "sip:bob@"+domain, sip.NewHeader(nodeHeader, "forged")), 407},
		{"options to the server", rawRequest(sip.OPTIONS, "sip:"+domain, from, "sip:"+domain), 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.req.Method == sip.MESSAGE {
				tc.req.SetBody([]byte("x"))
			}
			tc.req.SetDestination(s.Addr("udp"))
			if res := do(t, c, tc.req); res.StatusCode != tc.code {
				t.Errorf("%d %s, want %d", res.StatusCode, res.Reason, tc.code)
			}
		})
	}
	// A To tag does not make the proxy a relay: only dialogs it set up
	// are routed.
	inDialog := rawRequest(sip.MESSAGE, "sip:dave@other.test", from, "sip:dave@other.test")
	inDialog.To().Params.Add("tag", "abc")
	inDialog.SetBody([]byte("x"))
	inDialog.SetDestination(s.Addr("udp"))
	if res := do(t, c, inDialog); res.StatusCode != 481 {
		t.Errorf("in-dialog request of an unknown dialog: %d, want 481", res.StatusCode)
	}
	// A request carrying our own Via with its own loop hash came back
	// unchanged: 482.
	req := rawRequest(sip.MESSAGE, "sip:bob@"+domain, from, "sip:bob@"+domain)
	req.SetBody([]byte("x"))
	req.SetDestination(s.Addr("udp"))
	cs := &sip.CSeqHeader{SeqNo: 7, MethodName: sip.MESSAGE}
	cid := sip.CallIDHeader("loop-test")
	req.AppendHeader(cs)
	req.AppendHeader(&cid)
	via := &sip.ViaHeader{ProtocolName: "SIP", ProtocolVersion: "2.0", Transport: "UDP", Host: "127.0.0.1", Port: 9, Params: sip.NewParams()}
	via.Params.Add("branch", branchMagic+s.loopHash(req)+".abcd")
	via.Params.Add("rport", "")
	req.AppendHeader(via)
	if res := do(t, c, req); res.StatusCode != 482 {
		t.Errorf("loop: %d, want 482", res.StatusCode)
	}
}

// TestDeadDeviceStores: a MESSAGE to a user whose only binding does not
// answer (TCP connection refused) is stored and answered 202, and the
// failed attempt is counted.
func TestDeadDeviceStores(t *testing.T) {
	s := newTestServer(t, nil, Config{DeliveryTimeout: 2 * time.Second}, "bob")
	c := rawClient(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "sip:bob@" + ln.Addr().String() + ";transport=tcp"
	ln.Close()
	var u sip.Uri
	sip.ParseUri(dead, &u)
	if res := registerRaw(t, c, s, "bob", &sip.ContactHeader{Address: u}); res.StatusCode != 200 {
		t.Fatalf("REGISTER: %d", res.StatusCode)
	}
	req := rawRequest(sip.MESSAGE, "sip:bob@"+domain, "sip:carol@elsewhere.test", "sip:bob@"+domain, sip.NewHeader("Content-Type", "text/plain"))
	req.SetBody([]byte("to a dead device"))
	req.SetDestination(s.Addr("udp"))
	if res := do(t, c, req); res.StatusCode != 202 {
		t.Fatalf("MESSAGE to a dead device: %d %s, want 202", res.StatusCode, res.Reason)
	}
	p, err := s.st.Pending(t.Context(), "sip:bob@"+domain, 0)
	if err != nil || len(p) != 1 || string(p[0].Body) != "to a dead device" {
		t.Fatalf("pending: %+v %v", p, err)
	}
}

// TestStaleNonce: credentials for a nonce this server never issued (or
// issued before a restart) get a new challenge with stale=true, not 403.
func TestStaleNonce(t *testing.T) {
	s := newTestServer(t, nil, Config{}, "alice")
	c := rawClient(t)
	aor := "sip:alice@" + domain
	req := rawRequest(sip.REGISTER, "sip:"+s.Addr("udp"), aor, aor)
	res := do(t, c, req)
	// Answer a challenge whose nonce we replace by one the server does
	// not know.
	for res.RemoveHeader("WWW-Authenticate") {
	}
	res.AppendHeader(sip.NewHeader("WWW-Authenticate", `Digest realm="`+domain+`", nonce="00112233445566778899aabbccddeeff", algorithm=MD5, qop="auth"`))
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	res, err := c.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: "alice", Password: "alice-pw"})
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 401 || !strings.Contains(headerValue(res, "WWW-Authenticate"), "stale=true") {
		t.Fatalf("unknown nonce: %d %q, want 401 with stale=true", res.StatusCode, headerValue(res, "WWW-Authenticate"))
	}
}
