package relay

import (
	"net"
	"testing"
	"time"

	"github.com/parley-im/parley/msrp"
)

// pairRaw authenticates two raw clients and returns them with their URIs.
func pairRaw(t *testing.T, s *Server) (a, b *rawClient, ra, rb msrp.URI) {
	a, b = dialRaw(t, s), dialRaw(t, s)
	return a, b, a.auth(s, "alice"), b.auth(s, "bob")
}

func TestForwardTwoHopPaths(t *testing.T) {
	s, _ := startRelay(t, Config{})
	a, b, ra, rb := pairRaw(t, s)
	req := send([]msrp.URI{ra, rb, b.self}, a.self, "msg1", "hello")
	req.SuccessReport = "yes"
	a.write(req, []byte("hello"))
	// §6.4.1: the previous hop gets 200 at once, from the relay.
	resp, _ := a.read()
	if resp.StatusCode != 200 || resp.TID != req.TID || !resp.ToPath[0].Equal(a.self) || !resp.FromPath[0].Equal(ra) {
		t.Fatalf("response %+v", resp)
	}
	got, body := b.read()
	if string(body) != "hello" || got.MessageID != "msg1" || got.TID == req.TID {
		t.Fatalf("delivered %+v %q", got, body)
	}
	// §6.4.1: own URIs moved from To-Path to From-Path, nearest first.
	if msrp.FormatPath(got.ToPath) != b.self.String() ||
		msrp.FormatPath(got.FromPath) != msrp.FormatPath([]msrp.URI{rb, ra, a.self}) {
		t.Fatalf("paths To %v From %v", got.ToPath, got.FromPath)
	}
	// B's 200 is hop-by-hop; B's success REPORT travels to A.
	b.write(msrp.Respond(got, 200, ""), nil)
	rep := &msrp.Frame{Method: msrp.MethodREPORT, ToPath: got.FromPath, FromPath: []msrp.URI{b.self}, MessageID: "msg1",
		ByteRange: got.ByteRange, HasByteRange: true, Status: msrp.Status{Code: 200, Comment: "OK"}, HasStatus: true}
	b.write(rep, nil)
	f, _ := a.read()
	if f.Method != msrp.MethodREPORT || f.Status.Code != 200 || msrp.FormatPath(f.ToPath) != a.self.String() {
		t.Fatalf("report %+v", f)
	}
	if msrp.FormatPath(f.FromPath) != msrp.FormatPath([]msrp.URI{ra, rb, b.self}) {
		t.Fatalf("report From-Path %v", f.FromPath)
	}
	// Nothing answered the REPORT (RFC 4975 §7.1.2).
	if _, _, err := b.tryRead(100 * time.Millisecond); err != errReadTimeout {
		t.Fatalf("B got something: %v", err)
	}
}

func TestFailureReportFromDownstream(t *testing.T) {
	s, _ := startRelay(t, Config{})
	a, b, ra, rb := pairRaw(t, s)
	for _, tc := range []struct {
		fr     string
		report bool
		ok200  bool
	}{{"", true, true}, {"yes", true, true}, {"partial", true, false}, {"no", false, false}} {
		req := send([]msrp.URI{ra, rb, b.self}, a.self, "msg-"+tc.fr+"x", "x")
		req.FailureReport = tc.fr
		a.write(req, []byte("x"))
		got, _ := b.read()
		b.write(msrp.Respond(got, 481, ""), nil)
		var frames []*msrp.Frame
		for {
			f, _, err := a.tryRead(300 * time.Millisecond)
			if err != nil {
				break
			}
			frames = append(frames, f)
		}
		var saw200, sawReport bool
		for _, f := range frames {
			if f.StatusCode == 200 {
				saw200 = true
			}
			if f.Method == msrp.MethodREPORT {
				sawReport = true
				if f.Status.Code != 481 || f.MessageID != req.MessageID || !f.HasByteRange || msrp.FormatPath(f.ToPath) != a.self.String() || !f.FromPath[0].Equal(ra) {
					t.Fatalf("FR %q: report %+v", tc.fr, f)
				}
			}
		}
		if saw200 != tc.ok200 || sawReport != tc.report {
			t.Fatalf("Failure-Report %q: 200 %v REPORT %v", tc.fr, saw200, sawReport)
		}
	}
	if m := s.Metrics(); m.Reports != 3 {
		t.Fatalf("reports %d", m.Reports)
	}
}

func TestTimeoutReport408(t *testing.T) {
	s, _ := startRelay(t, Config{TransactionTimeout: 200 * time.Millisecond})
	a, b, ra, rb := pairRaw(t, s)
	req := send([]msrp.URI{ra, rb, b.self}, a.self, "silent", "x")
	a.write(req, []byte("x"))
	if f, _ := a.read(); f.StatusCode != 200 {
		t.Fatalf("got %+v", f)
	}
	if _, body := b.read(); string(body) != "x" {
		t.Fatal("not delivered")
	}
	// B never answers.
	start := time.Now()
	f, _ := a.read()
	if f.Method != msrp.MethodREPORT || f.Status.Code != 408 || f.MessageID != "silent" {
		t.Fatalf("got %+v", f)
	}
	if el := time.Since(start); el < 150*time.Millisecond {
		t.Fatalf("408 after %v, before the timeout", el)
	}
	if m := s.Metrics(); m.Timeouts != 1 {
		t.Fatalf("timeouts %d", m.Timeouts)
	}
	// A late answer is dropped; no second REPORT.
	_ = b
	if _, _, err := a.tryRead(300 * time.Millisecond); err == nil {
		t.Fatal("unexpected frame")
	}
}

func TestReceiverGoneReports(t *testing.T) {
	s, _ := startRelay(t, Config{TransactionTimeout: 5 * time.Second})
	a, b, ra, rb := pairRaw(t, s)
	a.write(send([]msrp.URI{ra, rb, b.self}, a.self, "msg1", "x"), []byte("x"))
	a.read()
	b.read()
	b.nc.Close()
	// The pending SEND fails at once (Kamailio loses it silently).
	f, _ := a.read()
	if f.Method != msrp.MethodREPORT || f.Status.Code != 408 {
		t.Fatalf("got %+v", f)
	}
	// B's URL died with its connection (§6.3): 481 now.
	a.write(send([]msrp.URI{ra, rb, b.self}, a.self, "msg2", "x"), []byte("x"))
	if f, _ := a.read(); f.StatusCode != 481 {
		t.Fatalf("got %d", f.StatusCode)
	}
}

// TestSecurity: issue 7's relay abuse cases. Nothing may be delivered.
func TestSecurity(t *testing.T) {
	s, _ := startRelay(t, Config{})
	a, b, ra, rb := pairRaw(t, s)
	// An outside target that must never be reached.
	target, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	reached := make(chan struct{}, 1)
	go func() {
		if c, err := target.Accept(); err == nil {
			reached <- struct{}{}
			c.Close()
		}
	}()
	outside := msrp.URI{Host: "127.0.0.1", Port: target.Addr().(*net.TCPAddr).Port, SessionID: "victim", Transport: "tcp"}
	mallory := dialRaw(t, s)
	mallory.auth(s, "alice") // authenticated, but for its own URL only

	altered := ra
	altered.SessionID = toggleCase(ra.SessionID)
	guessed := ra
	guessed.SessionID = msrp.NewSessionID()
	for _, tc := range []struct {
		name string
		from *rawClient
		to   []msrp.URI
		code int
	}{
		{"other connection uses A's URL to reach B", mallory, []msrp.URI{ra, rb, b.self}, 403},
		{"other connection uses A's URL to go outside", mallory, []msrp.URI{ra, outside}, -1}, // delivered to A only
		{"B uses A's URL as first hop", b, []msrp.URI{ra, rb, b.self}, 403},
		{"guessed URL", mallory, []msrp.URI{guessed, outside}, 481},
		{"case-altered URL", mallory, []msrp.URI{altered, outside}, 481},
		{"A's own URL then a guessed one", a, []msrp.URI{ra, guessed, b.self}, 481},
	} {
		req := send(tc.to, tc.from.self, "evil", "evil")
		tc.from.write(req, []byte("evil"))
		if tc.code > 0 {
			f, _ := tc.from.read()
			if f.StatusCode != tc.code {
				t.Fatalf("%s: %d", tc.name, f.StatusCode)
			}
		} else {
			// Inbound toward A over A's own connection: the only place
			// an unauthenticated peer may send to. It never goes outside.
			f, _ := a.read()
			if !f.ToPath[0].Equal(outside) || f.MessageID != "evil" {
				t.Fatalf("%s: %+v", tc.name, f)
			}
			if f, _ := tc.from.read(); f.StatusCode != 200 {
				t.Fatalf("%s: %d", tc.name, f.StatusCode)
			}
		}
	}
	for _, c := range []*rawClient{a, b} {
		if f, _, err := c.tryRead(200 * time.Millisecond); err == nil {
			t.Fatalf("delivered: %+v", f)
		}
	}
	select {
	case <-reached:
		t.Fatal("the relay connected to the outside target")
	default:
	}
	// A request not addressed to this relay at all drops the connection
	// (§6.2).
	c := dialRaw(t, s)
	c.write(send([]msrp.URI{outside, b.self}, c.self, "msg0", "x"), []byte("x"))
	if !isClosed(t, c) {
		t.Fatal("not closed")
	}
}

// TestUnauthenticatedPeerInbound: a peer that did no AUTH (the far end, or
// its relay) reaches the client through the client's URL.
func TestUnauthenticatedPeerInbound(t *testing.T) {
	s, _ := startRelay(t, Config{})
	a := dialRaw(t, s)
	ra := a.auth(s, "alice")
	peer := dialRaw(t, s)
	peer.write(send([]msrp.URI{ra, a.self}, peer.self, "in001", "hi A"), []byte("hi A"))
	f, body := a.read()
	if string(body) != "hi A" || msrp.FormatPath(f.FromPath) != msrp.FormatPath([]msrp.URI{ra, peer.self}) {
		t.Fatalf("%+v %q", f, body)
	}
	a.write(msrp.Respond(f, 200, ""), nil)
	if f, _ := peer.read(); f.StatusCode != 200 {
		t.Fatal(f.StatusCode)
	}
	// And A's answer goes back to the peer over the relay's outbound
	// connection to the peer's address? No: the peer's URI here is the
	// raw client's address, so A's SEND makes the relay dial it. That is
	// covered by TestOneSideRelayed; here only the inbound direction.
}

func TestSlowloris(t *testing.T) {
	s, _ := startRelay(t, Config{ProbationTimeout: 300 * time.Millisecond})
	c := dialRaw(t, s)
	start := time.Now()
	// A request start that never completes.
	c.nc.Write([]byte("MSRP abcd SEND\r\nTo-Path: msrp://127.0.0.1:1/x;tcp\r\n"))
	trickled := make(chan struct{})
	go func(nc net.Conn) {
		defer close(trickled)
		for range 10 {
			time.Sleep(50 * time.Millisecond)
			if _, err := nc.Write([]byte("X")); err != nil {
				return
			}
		}
	}(c.nc)
	if !isClosed(t, c) {
		t.Fatal("not closed")
	}
	<-trickled
	if el := time.Since(start); el < 250*time.Millisecond {
		t.Fatalf("closed after %v", el)
	}
	// A connection that only fails is closed too (§6.1).
	s2, _ := startRelay(t, Config{MaxFailures: 3})
	c = dialRaw(t, s2)
	u := s2.URI()
	u.SessionID = "nosuchsession"
	for range 3 {
		c.write(send([]msrp.URI{u, c.self}, c.self, "msg0", "x"), []byte("x"))
	}
	for range 3 {
		if f, _ := c.read(); f.StatusCode != 481 {
			t.Fatal(f.StatusCode)
		}
	}
	if !isClosed(t, c) {
		t.Fatal("failing connection not closed")
	}
}

func TestExpiredSession481(t *testing.T) {
	now := time.Now()
	var mu = make(chan struct{}, 1)
	mu <- struct{}{}
	clock := func() time.Time { <-mu; defer func() { mu <- struct{}{} }(); return now }
	s, _ := startRelay(t, Config{Now: clock})
	a, b, ra, rb := pairRaw(t, s)
	<-mu
	now = now.Add(2 * time.Hour)
	mu <- struct{}{}
	a.write(send([]msrp.URI{ra, rb, b.self}, a.self, "late", "x"), []byte("x"))
	if f, _ := a.read(); f.StatusCode != 481 {
		t.Fatalf("got %d", f.StatusCode)
	}
	if _, _, err := b.tryRead(100 * time.Millisecond); err == nil {
		t.Fatal("delivered")
	}
}

// toggleCase flips the case of the first letter of s.
func toggleCase(s string) string {
	b := []byte(s)
	for i, c := range b {
		switch {
		case 'a' <= c && c <= 'z':
			b[i] -= 'a' - 'A'
			return string(b)
		case 'A' <= c && c <= 'Z':
			b[i] += 'a' - 'A'
			return string(b)
		}
	}
	panic("no letter in " + s)
}

// TestTunnelledAuth: RFC 4976 §5.1's second AUTH, sent through relay 1
// to relay 2; its 401 and 200 travel the full reverse path, and the
// resulting path A → relay 1 → relay 2 → B carries a message.
func TestTunnelledAuth(t *testing.T) {
	s1, _ := startRelay(t, Config{})
	s2, _ := startRelay(t, Config{})
	a := dialRaw(t, s1)
	grants, err := msrp.AuthenticateChain(testCtx(t), a, []msrp.RelayHop{
		{URI: s1.URI(), Credentials: msrp.Credentials{Username: "alice", Password: "alice-pw"}},
		{URI: s2.URI(), Credentials: msrp.Credentials{Username: "alice", Password: "alice-pw"}},
	}, msrp.AuthOptions{From: a.self, RequireResponseAuth: true})
	if err != nil {
		t.Fatal(err)
	}
	use := grants[1].UsePath
	if len(use) != 2 || !s1.isSelf(use[0], false) || !s2.isSelf(use[1], false) {
		t.Fatalf("Use-Path %v", use)
	}
	b := dialRaw(t, s2)
	rb := b.auth(s2, "bob")
	to := append(append([]msrp.URI{}, use...), rb, b.self)
	a.write(send(to, a.self, "tunnelled", "via two relays"), []byte("via two relays"))
	f, body := b.read()
	if string(body) != "via two relays" || msrp.FormatPath(f.FromPath) != msrp.FormatPath([]msrp.URI{rb, use[1], use[0], a.self}) {
		t.Fatalf("%q From-Path %v", body, f.FromPath)
	}
	if r, _ := a.read(); r.StatusCode != 200 {
		t.Fatal(r.StatusCode)
	}
}

// TestPartialForgotten: Failure-Report partial gets no response on
// success, so its transaction must be forgotten, silently, at the timeout.
func TestPartialForgotten(t *testing.T) {
	s, _ := startRelay(t, Config{TransactionTimeout: 100 * time.Millisecond})
	a, b, ra, rb := pairRaw(t, s)
	req := send([]msrp.URI{ra, rb, b.self}, a.self, "partial1", "x")
	req.FailureReport = "partial"
	a.write(req, []byte("x"))
	b.read()
	s.mu.RLock()
	bc := s.grantFor(rb.SessionID).owner
	s.mu.RUnlock()
	pending := func() int {
		bc.tmu.Lock()
		defer bc.tmu.Unlock()
		return bc.pending.len()
	}
	if pending() != 1 {
		t.Fatalf("pending %d", pending())
	}
	if f, _, err := a.tryRead(400 * time.Millisecond); err == nil {
		t.Fatalf("A got %+v", f)
	}
	if pending() != 0 || s.Metrics().Reports != 0 {
		t.Fatalf("pending %d, %+v", pending(), s.Metrics())
	}
}

// TestFailureReportAfterNextFrame: the relay parses every frame of a
// connection into the same Frame; a transaction answered after later
// frames were read still reports to its own From-Path and Message-ID, and
// a non-SEND's 408 goes back along its own path.
func TestFailureReportAfterNextFrame(t *testing.T) {
	s, _ := startRelay(t, Config{TransactionTimeout: 300 * time.Millisecond})
	a, b, ra, rb := pairRaw(t, s)
	first, second := a.self, a.self
	first.SessionID, second.SessionID = "firstfrom1", "secondfrom2"
	a.write(send([]msrp.URI{ra, rb, b.self}, first, "first001", "one"), []byte("one"))
	a.write(send([]msrp.URI{ra, rb, b.self}, second, "second02", "two"), []byte("two"))
	nick := &msrp.Frame{Method: "NICKNAME", ToPath: []msrp.URI{ra, rb, b.self}, FromPath: []msrp.URI{second}, Flag: msrp.FlagEnd}
	a.write(nick, nil)
	got1, _ := b.read()
	got2, _ := b.read()
	if got1.MessageID != "first001" || got2.MessageID != "second02" {
		t.Fatalf("%q %q", got1.MessageID, got2.MessageID)
	}
	if g, _ := b.read(); g.Method != "NICKNAME" {
		t.Fatal(g.Method)
	}
	// The relay has read all three requests; answer the first one now.
	b.write(msrp.Respond(got2, 200, ""), nil)
	b.write(msrp.Respond(got1, 481, ""), nil)
	var report, timeout *msrp.Frame
	for report == nil || timeout == nil {
		f, _ := a.read()
		switch {
		case f.Method == msrp.MethodREPORT:
			report = f
		case f.StatusCode == 408:
			timeout = f
		case f.StatusCode != 200:
			t.Fatalf("unexpected %+v", f)
		}
	}
	if report.Status.Code != 481 || report.MessageID != "first001" || msrp.FormatPath(report.ToPath) != first.String() {
		t.Fatalf("REPORT %+v to %s", report, msrp.FormatPath(report.ToPath))
	}
	if timeout.TID != nick.TID || msrp.FormatPath(timeout.ToPath) != second.String() {
		t.Fatalf("408 %+v to %s", timeout, msrp.FormatPath(timeout.ToPath))
	}
}
