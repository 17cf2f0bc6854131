package interop

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/parley-im/parley/msrp/relay"
)

// TestRelaySuite runs one table of RFC 4976 / RFC 4975 relay cases against
// Parley's relay (package msrp/relay, in process) and Kamailio's msrp
// module (interop/kamailio/msrp-relay.cfg), with the independent raw client
// of relaysuite_client_test.go, and logs a comparison table (copied into
// README.md, "Relay conformance: Parley vs Kamailio").
//
// Parley is held to the RFC behaviour. For Kamailio, a deviation already
// recorded in README.md or kamailio-as-peer.md is asserted as observed (so
// the test notices when it changes) and logged as "kamailio deviates: ...";
// anything else is held to the RFC.
func TestRelaySuite(t *testing.T) {
	results := map[string]map[string]string{} // target → case → behaviour
	targets := []relayTarget{
		{name: "parley", start: startParleyRelay},
		{name: "kamailio", kamailio: true, start: startKamailioRelay},
	}
	for _, tg := range targets {
		results[tg.name] = map[string]string{}
		t.Run(tg.name, func(t *testing.T) {
			runRelaySuite(t, tg, results[tg.name])
		})
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\n| case | RFC | Parley | Kamailio |\n|---|---|---|---|\n")
	for _, c := range relayCases {
		row := func(target string) string {
			if r, ok := results[target][c.name]; ok {
				return r
			}
			return "not run"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", c.name, c.rfc, row("parley"), row("kamailio"))
	}
	t.Logf("relay conformance comparison:%s", b.String())
}

// relayTarget starts one relay implementation for the suite.
type relayTarget struct {
	name     string
	kamailio bool
	start    func(t *testing.T) *rsEnv
}

// rsEnv is a running relay and what the client needs to use it.
type rsEnv struct {
	kamailio bool
	addr     string       // host:port on loopback
	uri      string       // the relay URI put in the To-Path of AUTH
	users    [2][2]string // two accounts: user, password
	denied   [2]string    // an account with valid credentials but no service
	alive    func() bool
}

// startParleyRelay serves Parley's relay on 127.0.0.1 port 0. The
// transaction timeout is 2 s instead of 30 s so that the silent-receiver
// case stays short; everything else is the default configuration.
func startParleyRelay(t *testing.T) *rsEnv {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	auth := relay.NewMemoryAuthenticator()
	auth.Add("alice", "alice-secret")
	auth.Add("bob", "bob-secret")
	auth.Add("eve", "eve-secret") // as in msrp-relay.cfg: valid credentials, no service
	auth.Deny("eve")
	srv, err := relay.New(relay.Config{Host: "127.0.0.1", Port: port, Authenticator: auth, TransactionTimeout: 2 * time.Second})
	if err != nil {
		l.Close()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-done; !errors.Is(err, relay.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	})
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	return &rsEnv{addr: addr, uri: "msrp://" + addr + ";tcp",
		users: [2][2]string{{"alice", "alice-secret"}, {"bob", "bob-secret"}}, denied: [2]string{"eve", "eve-secret"},
		alive: func() bool { return true }}
}

// startKamailioRelay runs interop/kamailio/msrp-relay.cfg (skips, or fails
// with CI=true, when kamailio is not installed: testpeer.Require's rule).
func startKamailioRelay(t *testing.T) *rsEnv {
	k := startKamailio(t, kamailioOptions{})
	return &rsEnv{kamailio: true, addr: k.Addr, uri: relayURI(k),
		users: [2][2]string{{"alice", "alice-secret"}, {"bob", "bob-secret"}}, denied: [2]string{"eve", "eve-secret"},
		alive: k.Alive}
}

// relayCase is one row of the suite. run returns a short description of
// what was observed, for the comparison table.
type relayCase struct {
	name, rfc string
	run       func(t *testing.T, e *rsEnv) string
}

func runRelaySuite(t *testing.T, tg relayTarget, results map[string]string) {
	e := tg.start(t)
	for _, c := range relayCases {
		ok := t.Run(c.name, func(t *testing.T) {
			results[c.name] = c.run(t, e)
		})
		if !ok {
			results[c.name] = "FAILED: " + results[c.name]
		}
	}
	if !e.alive() {
		t.Errorf("%s relay died during the suite", tg.name)
	}
}

// rsID returns a fresh random token for session ids, tids and Message-IDs.
func rsID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// client dials the relay as a new endpoint with its own MSRP URI.
func (e *rsEnv) client(t *testing.T) *rawConn {
	t.Helper()
	// The port is never dialled: every case reaches clients over the
	// connection they opened.
	return dialRaw(t, e.addr, "msrp://127.0.0.1:40100/rs"+rsID()+";tcp")
}

// authFrame writes one AUTH (RFC 4976 §5.1: To-Path the relay URI) and
// returns the response.
func (e *rsEnv) authFrame(t *testing.T, rc *rawConn, extra string) *rawFrame {
	t.Helper()
	tid := "a" + rsID()
	rc.write(fmt.Sprintf("MSRP %s AUTH\r\nTo-Path: %s\r\nFrom-Path: %s\r\n%s-------%s$\r\n", tid, e.uri, rc.Self, extra, tid))
	r := rc.expect("AUTH response")
	if r.TID != tid || r.Method != "" {
		t.Fatalf("AUTH %s answered with:\n%s", tid, r)
	}
	return r
}

// login runs the challenge-response exchange for user/password with the
// extra header lines on the second AUTH, and returns the final response.
func (e *rsEnv) login(t *testing.T, rc *rawConn, user, pw, extra string) (*rawFrame, rsDigest) {
	t.Helper()
	first := e.authFrame(t, rc, "")
	if first.Code != 401 {
		t.Fatalf("first AUTH: want 401, got:\n%s", first)
	}
	ch, ok := rsPick(rsChallenges(t, first))
	if !ok {
		t.Fatalf("no MD5 or SHA-256 challenge in:\n%s", first)
	}
	d := rsAuthorize(ch, user, pw, e.uri)
	return e.authFrame(t, rc, "Authorization: "+d.header+"\r\n"+extra), d
}

// session authenticates rc as account i and returns its Use-Path URI.
func (e *rsEnv) session(t *testing.T, rc *rawConn, i int) string {
	t.Helper()
	r, _ := e.login(t, rc, e.users[i][0], e.users[i][1], "")
	if r.Code != 200 || r.Get("Use-Path") == "" {
		t.Fatalf("AUTH as %s:\n%s", e.users[i][0], r)
	}
	return r.Get("Use-Path")
}

// pair returns two authenticated clients and their relay URIs.
func (e *rsEnv) pair(t *testing.T) (a, b *rawConn, ua, ub string) {
	t.Helper()
	a, b = e.client(t), e.client(t)
	return a, b, e.session(t, a, 0), e.session(t, b, 1)
}

// send writes a complete SEND of body with the given extra header lines.
func rsSend(rc *rawConn, tid, toPath, msgID, body, extra string) {
	rc.t.Helper()
	rc.write(fmt.Sprintf("MSRP %s SEND\r\nTo-Path: %s\r\nFrom-Path: %s\r\nMessage-ID: %s\r\n%sByte-Range: 1-%d/%d\r\nContent-Type: text/plain\r\n\r\n%s\r\n-------%s$\r\n",
		tid, toPath, rc.Self, msgID, extra, len(body), len(body), body, tid))
}

// answer writes an endpoint's 200 to request f (RFC 4975 §7.2: To-Path
// the previous hop, From-Path its own URI).
func rsAnswer(rc *rawConn, f *rawFrame) {
	rc.t.Helper()
	prev := strings.Fields(f.Get("From-Path"))[0]
	rc.write(fmt.Sprintf("MSRP %s 200 OK\r\nTo-Path: %s\r\nFrom-Path: %s\r\nMessage-ID: %s\r\n-------%s$\r\n", f.TID, prev, rc.Self, f.Get("Message-ID"), f.TID))
}

// twoHop sends body from a on the two-hop path (A's URL, B's URL, B) and
// checks the hop-by-hop 200 at A (RFC 4976 §6.4.1) and the SEND B gets
// (§6.4.1: the relay's URIs moved from the head of To-Path to the head of
// From-Path). It returns the SEND as B received it.
func twoHop(t *testing.T, a, b *rawConn, ua, ub, msgID, body, extra string) *rawFrame {
	t.Helper()
	tid := "s" + rsID()
	rsSend(a, tid, ua+" "+ub+" "+b.Self, msgID, body, extra)
	ok := a.expect("200 from the relay")
	if ok.Code != 200 || ok.TID != tid || ok.Get("To-Path") != a.Self || ok.Get("From-Path") != ua || ok.Get("Message-ID") != msgID {
		t.Fatalf("hop-by-hop response, want 200 To-Path %s From-Path %s:\n%s", a.Self, ua, ok)
	}
	got := b.expect("relayed SEND")
	if got.Method != "SEND" || got.Get("To-Path") != b.Self || got.Get("From-Path") != ub+" "+ua+" "+a.Self ||
		got.Get("Message-ID") != msgID || got.Body != body {
		t.Fatalf("relayed SEND, want To-Path %s From-Path %s and the body (%d octets); got %d octets:\n%.600s",
			b.Self, ub+" "+ua+" "+a.Self, len(body), len(got.Body), got)
	}
	return got
}

// closedOrNothing waits d for a frame on rc and tells what happened:
// "frame", "closed" or "nothing".
func closedOrNothing(rc *rawConn, d time.Duration) (string, *rawFrame) {
	f, err := rc.read(d)
	switch {
	case err == nil:
		return "frame", f
	case errors.Is(err, io.EOF) || isReset(err):
		return "closed", nil
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "nothing", nil
	}
	return "error: " + err.Error(), nil
}

func swapCase(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsUpper(r) {
			return unicode.ToLower(r)
		}
		return unicode.ToUpper(r)
	}, s)
}

// sessionPart splits a relay URI msrp://host:port/id;tcp around its id.
func sessionPart(t *testing.T, u string) (prefix, id, suffix string) {
	t.Helper()
	rest := strings.TrimPrefix(strings.TrimPrefix(u, "msrps://"), "msrp://")
	slash := strings.IndexByte(rest, '/')
	semi := strings.IndexByte(rest, ';')
	if slash < 0 || semi < slash {
		t.Fatalf("relay URI without session id: %q", u)
	}
	head := len(u) - len(rest)
	return u[:head+slash+1], rest[slash+1 : semi], rest[semi:]
}

var relayCases = []relayCase{
	{name: "AUTH without credentials", rfc: "4976 §5.1, §9.1", run: func(t *testing.T, e *rsEnv) string {
		rc := e.client(t)
		r := e.authFrame(t, rc, "")
		if r.Code != 401 || r.Get("To-Path") != rc.Self || r.Get("From-Path") != e.uri {
			t.Fatalf("want 401 To-Path %s From-Path %s:\n%s", rc.Self, e.uri, r)
		}
		chs := rsChallenges(t, r)
		if len(chs) == 0 {
			t.Fatalf("401 without WWW-Authenticate:\n%s", r)
		}
		var algs []string
		for _, c := range chs {
			if q := c.qops(); len(q) != 1 || q[0] != "auth" {
				t.Errorf("challenge qop %q: RFC 4976 §9.1 wants qop=\"auth\" (no auth-int)", q)
			}
			if a := c.algorithm(); strings.HasSuffix(a, "-SESS") {
				t.Errorf("challenge algorithm %s: §9.1 forbids -sess", a)
			}
			algs = append(algs, c.algorithm())
		}
		return fmt.Sprintf("401, qop=auth, %s", strings.Join(algs, "+"))
	}},
	{name: "AUTH with digest", rfc: "4976 §4.2, §6.3, §9.1", run: func(t *testing.T, e *rsEnv) string {
		rc := e.client(t)
		r, d := e.login(t, rc, e.users[0][0], e.users[0][1], "")
		if r.Code != 200 {
			t.Fatalf("want 200:\n%s", r)
		}
		use := strings.Fields(r.Get("Use-Path"))
		if len(use) != 1 {
			t.Fatalf("Use-Path %q: want one URI", r.Get("Use-Path"))
		}
		prefix, id, suffix := sessionPart(t, use[0])
		if prefix != "msrp://"+e.addr+"/" || suffix != ";tcp" {
			t.Errorf("Use-Path %s: want msrp://%s/<id>;tcp (explicit port, §4.2)", use[0], e.addr)
		}
		// §6.3: at least 64 bits of randomness; 11 base64 or 16 hex chars.
		if len(id) < 11 {
			t.Errorf("session id %q: too short for 64 random bits", id)
		}
		exp, err := strconv.Atoi(r.Get("Expires"))
		if err != nil || exp < 60 || exp > 3600 {
			t.Errorf("Expires %q: want seconds within the relay's 60–3600", r.Get("Expires"))
		}
		info, err := rsParseParams(r.Get("Authentication-Info"))
		if err != nil {
			t.Fatalf("Authentication-Info: %v", err)
		}
		if info["rspauth"] != d.rspauth() || info["cnonce"] != d.cnonce || info["nc"] != d.nc || info["qop"] != "auth" {
			t.Errorf("Authentication-Info %q: want rspauth %s, cnonce, nc, qop (§9.1)", r.Get("Authentication-Info"), d.rspauth())
		}
		return fmt.Sprintf("200, Use-Path with %d-char id, Expires %d, rspauth ok (%s)", len(id), exp, d.alg)
	}},
	{name: "wrong password", rfc: "4976 §6.3, §9.1", run: func(t *testing.T, e *rsEnv) string {
		rc := e.client(t)
		r, _ := e.login(t, rc, e.users[0][0], "not-"+e.users[0][1], "")
		if r.Code != 401 && r.Code != 403 {
			t.Fatalf("want 401 or 403:\n%s", r)
		}
		if r.Get("Use-Path") != "" {
			t.Errorf("a refused AUTH carries Use-Path %q", r.Get("Use-Path"))
		}
		return strconv.Itoa(r.Code)
	}},
	{name: "unknown user", rfc: "4976 §6.3, §9.1", run: func(t *testing.T, e *rsEnv) string {
		rc := e.client(t)
		r, _ := e.login(t, rc, "mallory", "mallory-secret", "")
		if r.Code != 401 && r.Code != 403 {
			t.Fatalf("want 401 or 403:\n%s", r)
		}
		if r.Get("Use-Path") != "" {
			t.Errorf("a refused AUTH carries Use-Path %q", r.Get("Use-Path"))
		}
		return strconv.Itoa(r.Code)
	}},
	{name: "authenticated but not authorised", rfc: "4976 §6.3", run: func(t *testing.T, e *rsEnv) string {
		rc := e.client(t)
		r, _ := e.login(t, rc, e.denied[0], e.denied[1], "")
		if r.Code != 403 || r.Get("Use-Path") != "" {
			t.Fatalf("want 403 without Use-Path:\n%s", r)
		}
		return "403"
	}},
	{name: "Expires out of bounds", rfc: "4976 §4.6, §6.3", run: func(t *testing.T, e *rsEnv) string {
		var out []string
		for _, tc := range []struct{ expires, hdr, want string }{
			{"10", "Min-Expires", "60"},
			{"99999", "Max-Expires", "3600"},
		} {
			rc := e.client(t)
			r, _ := e.login(t, rc, e.users[0][0], e.users[0][1], "Expires: "+tc.expires+"\r\n")
			if r.Code != 423 || r.Get(tc.hdr) != tc.want {
				t.Errorf("Expires %s: want 423 with %s: %s, got:\n%s", tc.expires, tc.hdr, tc.want, r)
			}
			out = append(out, fmt.Sprintf("%s→%d %s %s", tc.expires, r.Code, tc.hdr, r.Get(tc.hdr)))
		}
		rc := e.client(t)
		r, _ := e.login(t, rc, e.users[0][0], e.users[0][1], "Expires: 600\r\n")
		if r.Code != 200 || r.Get("Expires") != "600" {
			t.Errorf("Expires 600 (in bounds): want 200 Expires 600, got:\n%s", r)
		}
		return strings.Join(out, "; ") + "; 600→" + strconv.Itoa(r.Code) + " " + r.Get("Expires")
	}},
	{name: "SEND on the two-hop path", rfc: "4976 §5.1, §6.4, §6.4.1", run: func(t *testing.T, e *rsEnv) string {
		a, b, ua, ub := e.pair(t)
		tid := "s" + rsID()
		rsSend(a, tid, ua+" "+ub+" "+b.Self, "m"+tid, "hello bob", "Success-Report: no\r\n")
		ok := a.expect("200 from the relay")
		if ok.Code != 200 || ok.TID != tid || ok.Get("To-Path") != a.Self || ok.Get("From-Path") != ua {
			t.Fatalf("hop-by-hop response, want 200 To-Path %s From-Path %s:\n%s", a.Self, ua, ok)
		}
		got := b.expect("relayed SEND")
		if got.Method != "SEND" || got.Get("To-Path") != b.Self || got.Get("From-Path") != ub+" "+ua+" "+a.Self || got.Body != "hello bob" {
			t.Fatalf("relayed SEND, want To-Path %s From-Path %s:\n%s", b.Self, ub+" "+ua+" "+a.Self, got)
		}
		rsAnswer(b, got)
		a.expectNothing(300*time.Millisecond, "B's hop-by-hop 200 ends at the relay")
		tids := "fresh tid"
		if got.TID == tid {
			tids = "tid kept"
			if e.kamailio {
				// README finding 5: harmless, so only logged.
				t.Logf("kamailio deviates: the relayed SEND keeps the sender's tid (RFC 4976 §6.4: relays generally mint new ones)")
			}
		}
		return "200 to A, delivered with To-Path B, From-Path UB UA A, " + tids
	}},
	{name: "success REPORT from B back to A", rfc: "4975 §7.1.2, 4976 §6.4.2", run: func(t *testing.T, e *rsEnv) string {
		a, b, ua, ub := e.pair(t)
		msgID := "m" + rsID()
		got := twoHop(t, a, b, ua, ub, msgID, "report me", "Success-Report: yes\r\n")
		rsAnswer(b, got)
		tid := "r" + rsID()
		b.write(fmt.Sprintf("MSRP %s REPORT\r\nTo-Path: %s\r\nFrom-Path: %s\r\nMessage-ID: %s\r\nByte-Range: 1-9/9\r\nStatus: 000 200 OK\r\n-------%s$\r\n",
			tid, got.Get("From-Path"), b.Self, msgID, tid))
		rep := a.expect("REPORT")
		if rep.Method != "REPORT" || rep.Get("To-Path") != a.Self || rep.Get("From-Path") != ua+" "+ub+" "+b.Self ||
			rep.Get("Status") != "000 200 OK" || rep.Get("Message-ID") != msgID || rep.Get("Byte-Range") != "1-9/9" {
			t.Fatalf("REPORT at A, want To-Path %s From-Path %s Status 000 200 OK:\n%s", a.Self, ua+" "+ub+" "+b.Self, rep)
		}
		b.expectNothing(300*time.Millisecond, "a REPORT is not answered")
		return "delivered to A with From-Path UA UB B, B gets no response"
	}},
	{name: "REPORT is never answered", rfc: "4975 §7.1.2, §7.2", run: func(t *testing.T, e *rsEnv) string {
		a, b, ua, ub := e.pair(t)
		tid := "r" + rsID()
		a.write(fmt.Sprintf("MSRP %s REPORT\r\nTo-Path: %s %s %s\r\nFrom-Path: %s\r\nMessage-ID: m%s\r\nByte-Range: 1-1/1\r\nStatus: 000 200 OK\r\n-------%s$\r\n",
			tid, ua, ub, b.Self, a.Self, tid, tid))
		if got := b.expect("REPORT"); got.Method != "REPORT" || got.Get("To-Path") != b.Self {
			t.Fatalf("at B:\n%s", got)
		}
		a.expectNothing(500*time.Millisecond, "no response to a REPORT")
		return "forwarded, no response"
	}},
	{name: "SEND to an unknown session URL", rfc: "4976 §6.2, §6.4", run: func(t *testing.T, e *rsEnv) string {
		a, b, _, _ := e.pair(t)
		tid := "s" + rsID()
		rsSend(a, tid, "msrp://"+e.addr+"/nosuch"+rsID()+";tcp "+b.Self, "m"+tid, "x", "")
		r := a.expect("481")
		if r.Code != 481 || r.TID != tid {
			t.Fatalf("want 481:\n%s", r)
		}
		b.expectNothing(300*time.Millisecond, "nothing is forwarded")
		return "481, nothing delivered"
	}},
	{name: "case-altered session id", rfc: "4975 §6.1, 4976 §6.3", run: func(t *testing.T, e *rsEnv) string {
		a, b, ua, ub := e.pair(t)
		prefix, id, suffix := sessionPart(t, ua)
		alt := swapCase(id)
		if alt == id {
			t.Fatalf("session id %q has no letters to alter", id)
		}
		tid := "s" + rsID()
		rsSend(a, tid, prefix+alt+suffix+" "+ub+" "+b.Self, "m"+tid, "x", "")
		what, r := closedOrNothing(a, 2*time.Second)
		switch {
		case what == "frame" && r.Code != 200 && r.Code != 0:
			what = strconv.Itoa(r.Code)
		case what == "frame":
			t.Fatalf("case-altered session id accepted:\n%s", r)
		case what != "closed":
			t.Fatalf("no rejection: %s", what)
		}
		b.expectNothing(300*time.Millisecond, "nothing is forwarded")
		return what + ", nothing delivered"
	}},
	{name: "stranger routes through A's URL", rfc: "4976 §3.1, §6.4", run: func(t *testing.T, e *rsEnv) string {
		// An unauthenticated connection uses A's URL as its first hop to
		// reach B's relay session: the relay must not forward for it.
		a, b, ua, ub := e.pair(t)
		c := e.client(t)
		tid := "s" + rsID()
		rsSend(c, tid, ua+" "+ub+" "+b.Self, "m"+tid, "x", "")
		what, r := closedOrNothing(c, 2*time.Second)
		switch {
		case what == "frame" && r.Code != 200 && r.Code != 0:
			what = strconv.Itoa(r.Code)
		case what == "frame":
			t.Fatalf("relayed for a stranger:\n%s", r)
		case what != "closed":
			t.Fatalf("no rejection: %s", what)
		}
		b.expectNothing(300*time.Millisecond, "nothing reaches B")
		a.expectNothing(100*time.Millisecond, "nothing reaches A")
		return what + ", nothing delivered"
	}},
	{name: "stranger sends inbound to A", rfc: "4976 §6.4", run: func(t *testing.T, e *rsEnv) string {
		// The legitimate inbound direction: anyone may reach A through A's
		// URL (To-Path UA A), over A's connection.
		a := e.client(t)
		ua := e.session(t, a, 0)
		c := e.client(t)
		tid := "s" + rsID()
		rsSend(c, tid, ua+" "+a.Self, "m"+tid, "hi A", "")
		if r := c.expect("200"); r.Code != 200 || r.Get("From-Path") != ua {
			t.Fatalf("want 200 From-Path %s:\n%s", ua, r)
		}
		got := a.expect("SEND")
		if got.Method != "SEND" || got.Body != "hi A" || got.Get("To-Path") != a.Self || got.Get("From-Path") != ua+" "+c.Self {
			t.Fatalf("at A, want From-Path %s:\n%s", ua+" "+c.Self, got)
		}
		rsAnswer(a, got)
		return "200, delivered to A"
	}},
	{name: "Failure-Report: no", rfc: "4975 §7.1.2, 4976 §6.4.1", run: func(t *testing.T, e *rsEnv) string {
		a, b, ua, ub := e.pair(t)
		tid := "s" + rsID()
		rsSend(a, tid, ua+" "+ub+" "+b.Self, "m"+tid, "fire and forget", "Failure-Report: no\r\n")
		got := b.expect("SEND")
		if got.Body != "fire and forget" || got.Get("Failure-Report") != "no" {
			t.Fatalf("at B:\n%s", got)
		}
		what, r := closedOrNothing(a, 500*time.Millisecond)
		if e.kamailio {
			// Recorded in README.md, "Relay conformance: Parley vs
			// Kamailio": the config script (msrp_reply before
			// msrp_relay) answers every SEND it forwards.
			if what != "frame" || r.Code != 200 {
				t.Fatalf("kamailio no longer answers 200 to Failure-Report: no (%s %v): update README.md", what, r)
			}
			t.Logf("kamailio deviates: 200 to a SEND with Failure-Report: no (RFC 4975 §7.1.2: no response)")
			return "200 (deviation), delivered"
		}
		if what != "nothing" {
			t.Fatalf("want no response, got %s:\n%v", what, r)
		}
		return "no response, delivered"
	}},
	{name: "8 KiB chunk", rfc: "4975 §7.1, 4976 §6.4.1", run: func(t *testing.T, e *rsEnv) string {
		a, b, ua, ub := e.pair(t)
		body := string(printable(8<<10, 3))
		rsAnswer(b, twoHop(t, a, b, ua, ub, "m"+rsID(), body, ""))
		return "200, delivered intact"
	}},
	{name: "64 KiB chunk", rfc: "4975 §7.1, 4976 §6.4.1", run: func(t *testing.T, e *rsEnv) string {
		a, b, ua, ub := e.pair(t)
		body := string(printable(64<<10, 5))
		if !e.kamailio {
			rsAnswer(b, twoHop(t, a, b, ua, ub, "m"+rsID(), body, ""))
			return "200, delivered intact"
		}
		// README finding 4: frames beyond Kamailio's 64 KiB TCP buffer
		// close the connection.
		tid := "s" + rsID()
		rsSend(a, tid, ua+" "+ub+" "+b.Self, "m"+tid, body, "")
		what, r := closedOrNothing(a, 2*time.Second)
		if what != "closed" {
			t.Fatalf("kamailio with a 64 KiB chunk: %s %v, expected the connection closed (README finding 4): update README.md", what, r)
		}
		if got, _ := closedOrNothing(b, 500*time.Millisecond); got != "nothing" {
			t.Fatalf("B: %s", got)
		}
		t.Logf("kamailio deviates: a 64 KiB chunk closes the sender's connection, nothing relayed (RFC 4975 §7.1 has no size limit)")
		return "connection closed, not relayed (deviation)"
	}},
	{name: "receiver gone (connection closed)", rfc: "4976 §6.3, §6.4.1, §6.4.3", run: func(t *testing.T, e *rsEnv) string {
		a, b, ua, ub := e.pair(t)
		b.c.Close()
		time.Sleep(200 * time.Millisecond) // let the relay see the close
		tid := "s" + rsID()
		rsSend(a, tid, ua+" "+ub+" "+b.Self, "m"+tid, "anyone there?", "")
		return rsSenderLearns(t, e, a, tid, "documented in kamailio-as-peer.md: on the two-hop path a message to a vanished receiver is lost")
	}},
	{name: "receiver silent (no response)", rfc: "4976 §6.4.1", run: func(t *testing.T, e *rsEnv) string {
		a, b, ua, ub := e.pair(t)
		tid := "s" + rsID()
		rsSend(a, tid, ua+" "+ub+" "+b.Self, "m"+tid, "answer me", "")
		if got := b.expect("SEND"); got.Method != "SEND" {
			t.Fatalf("at B:\n%s", got)
		}
		// B never answers.
		return rsSenderLearns(t, e, a, tid, "documented in kamailio-as-peer.md: Kamailio never generates REPORTs")
	}},
}

// rsSenderLearns reads what A hears after a SEND whose receiver cannot
// answer. RFC 4976 §6.4.1/§6.4.3: either an error response, or a 200 then
// a failure REPORT (408 after the relay's timer). Kamailio's documented
// behaviour: a 200 and then nothing.
func rsSenderLearns(t *testing.T, e *rsEnv, a *rawConn, tid, known string) string {
	t.Helper()
	r := a.expect("response")
	if r.TID != tid || r.Method != "" {
		t.Fatalf("want the response to %s:\n%s", tid, r)
	}
	if r.Code != 200 {
		if e.kamailio {
			t.Fatalf("kamailio now answers %d here: update README.md", r.Code)
		}
		return fmt.Sprintf("%d response", r.Code)
	}
	what, rep := closedOrNothing(a, 3500*time.Millisecond)
	if e.kamailio {
		if what != "nothing" {
			t.Fatalf("kamailio now tells the sender (%s):\n%v\nupdate README.md", what, rep)
		}
		t.Logf("kamailio deviates: 200, then silence; the message is lost (%s)", known)
		return "200, then nothing (deviation)"
	}
	if what != "frame" || rep.Method != "REPORT" || !strings.HasPrefix(rep.Get("Status"), "000 4") {
		t.Fatalf("after the 200: want a failure REPORT, got %s:\n%v", what, rep)
	}
	return "200, then failure REPORT " + strings.TrimPrefix(rep.Get("Status"), "000 ")
}
