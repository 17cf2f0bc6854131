package sipserver

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// fakeClock is a settable clock for the throttle.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// registerAs sends a REGISTER for the AOR of user and answers the
// challenge with the digest of username/password.
func registerAs(t *testing.T, c *sipgo.Client, s *testServer, user, username, password string) *sip.Response {
	t.Helper()
	aor := "sip:" + user + "@" + domain
	req := rawRequest(sip.REGISTER, "sip:"+s.Addr("udp"), aor, aor)
	res := do(t, c, req)
	if res.StatusCode != 401 {
		t.Fatalf("REGISTER without credentials: %d, want 401", res.StatusCode)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	res, err := c.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: username, Password: password})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// messageAs sends a MESSAGE From user (a local user: challenged with 407)
// to bob, answering the challenge with password.
func messageAs(t *testing.T, c *sipgo.Client, s *testServer, user, password string) *sip.Response {
	t.Helper()
	req := rawRequest(sip.MESSAGE, "sip:bob@"+domain, "sip:"+user+"@"+domain, "sip:bob@"+domain, sip.NewHeader("Content-Type", "text/plain"))
	req.SetBody([]byte("hi"))
	req.SetDestination(s.Addr("udp"))
	res := do(t, c, req)
	if res.StatusCode != 407 {
		t.Fatalf("MESSAGE without credentials: %d, want 407", res.StatusCode)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	res, err := c.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: user, Password: password})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// shape is what a response tells a client beyond the echoed headers.
func shape(res *sip.Response) string {
	out := strconv.Itoa(res.StatusCode) + " " + res.Reason
	for _, h := range res.Headers() {
		switch h.Name() {
		case "Via", "From", "To", "Call-ID", "CSeq", "Content-Length":
		default:
			out += "|" + h.Name() + ": " + h.Value()
		}
	}
	return out + "|" + string(res.Body())
}

// TestAuthFailureSameResponse: an unknown user and a wrong password get
// the same response, at the registrar and at the proxy (FINDINGS.md F12).
func TestAuthFailureSameResponse(t *testing.T) {
	s := newTestServer(t, nil, Config{MaxAuthFailures: -1}, "alice", "bob")
	c := rawClient(t)
	wrong := shape(registerAs(t, c, s, "alice", "alice", "not-the-password"))
	unknown := shape(registerAs(t, c, s, "nosuch", "nosuch", "whatever"))
	if wrong != unknown || wrong != "403 Forbidden|Server: parley|" {
		t.Errorf("REGISTER: wrong password %q, unknown user %q; want both %q", wrong, unknown, "403 Forbidden|Server: parley|")
	}
	wrong = shape(messageAs(t, c, s, "alice", "not-the-password"))
	unknown = shape(messageAs(t, c, s, "nosuch", "whatever"))
	if wrong != unknown || wrong != "403 Forbidden|Server: parley|" {
		t.Errorf("MESSAGE: wrong password %q, unknown user %q; want both the same 403", wrong, unknown)
	}
	if got := s.Metrics().AuthFailures.Load(); got != 4 {
		t.Errorf("AuthFailures = %d, want 4", got)
	}
	// The dummy HA1 checked for unknown users exists for every algorithm
	// the server may offer.
	for _, a := range s.cfg.Algorithms {
		if c, ok := s.dummy[a]; !ok || len(c.HA1) == 0 {
			t.Errorf("no dummy HA1 for %s", a)
		}
	}
}

// TestAuthThrottle: after MaxAuthFailures failures from one address the
// next attempts, even with the right password, get 503 with Retry-After
// and are not checked; an unknown user is throttled alike; one interval
// later an attempt is allowed again.
func TestAuthThrottle(t *testing.T) {
	const burst, interval = 3, time.Minute
	s := newTestServer(t, nil, Config{MaxAuthFailures: burst, AuthFailureInterval: interval}, "alice", "bob")
	clock := &fakeClock{t: time.Now()}
	s.throttle.now = clock.Now
	c := rawClient(t)
	for i := range burst {
		if res := registerAs(t, c, s, "alice", "alice", "guess"+strconv.Itoa(i)); res.StatusCode != 403 {
			t.Fatalf("failure %d: %d, want 403", i, res.StatusCode)
		}
	}
	for _, user := range []string{"alice", "nosuch"} {
		pw := user + "-pw"
		res := registerAs(t, c, s, user, user, pw)
		if res.StatusCode != 503 || headerValue(res, "Retry-After") != "60" {
			t.Fatalf("%s after %d failures: %d Retry-After %q, want 503 60", user, burst, res.StatusCode, headerValue(res, "Retry-After"))
		}
	}
	if res := messageAs(t, c, s, "alice", "alice-pw"); res.StatusCode != 503 {
		t.Fatalf("MESSAGE while throttled: %d, want 503", res.StatusCode)
	}
	if got := s.Metrics().AuthThrottled.Load(); got != 3 {
		t.Errorf("AuthThrottled = %d, want 3", got)
	}
	clock.Advance(interval / 2)
	if res := registerAs(t, c, s, "alice", "alice", "alice-pw"); res.StatusCode != 503 || headerValue(res, "Retry-After") != "30" {
		t.Fatalf("half an interval later: %d Retry-After %q, want 503 30", res.StatusCode, headerValue(res, "Retry-After"))
	}
	clock.Advance(interval / 2)
	if res := registerAs(t, c, s, "alice", "alice", "alice-pw"); res.StatusCode != 200 {
		t.Fatalf("one interval later with the right password: %d, want 200", res.StatusCode)
	}
	// One token earned, one failure spends it.
	if res := registerAs(t, c, s, "alice", "alice", "guess"); res.StatusCode != 403 {
		t.Fatalf("a failure after recovery: %d, want 403", res.StatusCode)
	}
	if res := registerAs(t, c, s, "alice", "alice", "alice-pw"); res.StatusCode != 503 {
		t.Fatalf("after spending the earned attempt: %d, want 503", res.StatusCode)
	}
	// Full buckets are forgotten.
	clock.Advance(burst * interval)
	s.throttle.sweep()
	if ips, aors := s.throttle.size(); ips != 0 || aors != 0 {
		t.Errorf("after refilling: %d IPs and %d AORs tracked, want 0", ips, aors)
	}
}

// TestThrottleKeys: the per-AOR bucket stops guesses spread over many
// addresses, and the per-IP bucket guesses spread over many AORs.
func TestThrottleKeys(t *testing.T) {
	th := newThrottle(2, time.Second)
	clock := &fakeClock{t: time.Unix(1000, 0)}
	th.now = clock.Now
	th.failed("192.0.2.1", "sip:a@x")
	th.failed("192.0.2.2", "sip:a@x")
	if _, b := th.blocked("192.0.2.3", "sip:a@x"); !b {
		t.Error("AOR with 2 failures from 2 addresses not blocked from a third")
	}
	if _, b := th.blocked("192.0.2.3", "sip:b@x"); b {
		t.Error("a fresh address and AOR blocked")
	}
	th.failed("192.0.2.9", "sip:c@x")
	th.failed("192.0.2.9", "sip:d@x")
	if d, b := th.blocked("192.0.2.9", "sip:e@x"); !b || d != time.Second {
		t.Errorf("address with 2 failures on 2 AORs: blocked %v for %v, want blocked 1s", b, d)
	}
	clock.Advance(1500 * time.Millisecond)
	if _, b := th.blocked("192.0.2.9", "sip:e@x"); b {
		t.Error("still blocked after the interval")
	}
	// The tables are bounded.
	for i := range maxThrottled + 10 {
		th.failed("10.0."+strconv.Itoa(i/256)+"."+strconv.Itoa(i%256), "sip:z@x")
	}
	if ips, _ := th.size(); ips > maxThrottled {
		t.Errorf("%d addresses tracked, cap %d", ips, maxThrottled)
	}
	var off *throttle // MaxAuthFailures < 0
	off.failed("a", "b")
	if _, b := off.blocked("a", "b"); b {
		t.Error("disabled throttle blocks")
	}
}
