package relay

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/parley-im/parley/msrp"
)

func TestAuthNoCredentials401(t *testing.T) {
	s, _ := startRelay(t, Config{})
	c := dialRaw(t, s)
	c.write(authReq(s.URI(), c.self), nil)
	f, _ := c.read()
	if f.StatusCode != 401 {
		t.Fatalf("got %d", f.StatusCode)
	}
	var algs []string
	for _, h := range f.Headers {
		if h.Name != "WWW-Authenticate" {
			continue
		}
		ch, err := msrp.ParseChallenge(h.Value)
		if err != nil {
			t.Fatal(err)
		}
		if ch.Realm != "127.0.0.1" || len(ch.QOP) != 1 || ch.QOP[0] != "auth" || ch.Stale {
			t.Fatalf("challenge %+v", ch)
		}
		algs = append(algs, ch.Algorithm)
	}
	if strings.Join(algs, ",") != "SHA-256,MD5" {
		t.Fatalf("algorithms %v", algs)
	}
	// §7.2: the response goes back along the From-Path.
	if len(f.ToPath) != 1 || !f.ToPath[0].Equal(c.self) || !f.FromPath[0].Equal(s.URI()) {
		t.Fatalf("paths %v %v", f.ToPath, f.FromPath)
	}
}

func TestAuthSuccess(t *testing.T) {
	for _, alg := range []string{"SHA-256", "MD5"} {
		t.Run(alg, func(t *testing.T) {
			s, _ := startRelay(t, Config{Algorithms: []string{alg}})
			c := dialRaw(t, s)
			ra, err := msrp.Authenticate(context.Background(), c, s.URI(), msrp.Credentials{Username: "alice", Password: "alice-pw"},
				msrp.AuthOptions{From: c.self, Expires: 120 * time.Second, RequireResponseAuth: true})
			if err != nil {
				t.Fatal(err)
			}
			u := ra.UsePath[0]
			if len(ra.UsePath) != 1 || u.Secure || u.Host != "127.0.0.1" || u.Port != s.URI().Port || u.Transport != "tcp" || len(u.SessionID) < 16 {
				t.Fatalf("Use-Path %v", ra.UsePath)
			}
			if ra.Expires != 120*time.Second || !ra.ResponseAuthVerified {
				t.Fatalf("grant %+v", ra)
			}
			if m := s.Metrics(); m.AuthOK != 1 || m.SessionsLive != 1 {
				t.Fatalf("metrics %+v", m)
			}
		})
	}
}

// authWith sends one AUTH answering a fresh challenge with the given
// password, nonce-count and Expires, and returns the response.
func authWith(t *testing.T, c *rawClient, s *Server, user, password string, expires string) *msrp.Frame {
	t.Helper()
	c.write(authReq(s.URI(), c.self), nil)
	f, _ := c.read()
	ch, err := msrp.ParseChallenge(header(f, "WWW-Authenticate"))
	if err != nil {
		t.Fatal(err)
	}
	a, err := ch.Authorize(msrp.Credentials{Username: user, Password: password}, s.URI().String(), 1, "")
	if err != nil {
		t.Fatal(err)
	}
	hdrs := []msrp.Header{{Name: "Authorization", Value: a.String()}}
	if expires != "" {
		hdrs = append(hdrs, msrp.Header{Name: "Expires", Value: expires})
	}
	c.write(authReq(s.URI(), c.self, hdrs...), nil)
	f, _ = c.read()
	return f
}

func TestAuthBadPasswordThrottled(t *testing.T) {
	s, _ := startRelay(t, Config{MaxAuthFailures: 3})
	c := dialRaw(t, s)
	for i := range 3 {
		f := authWith(t, c, s, "alice", "wrong", "")
		if f.StatusCode != 401 {
			t.Fatalf("attempt %d: %d", i, f.StatusCode)
		}
	}
	if !isClosed(t, c) {
		t.Fatal("connection still open after 3 failed AUTHs")
	}
	if m := s.Metrics(); m.AuthFailures != 3 || m.AuthOK != 0 {
		t.Fatalf("metrics %+v", m)
	}
	// Unknown user looks the same as a bad password.
	c = dialRaw(t, s)
	if f := authWith(t, c, s, "mallory", "x", ""); f.StatusCode != 401 {
		t.Fatalf("unknown user: %d", f.StatusCode)
	}
	// And the client library reports it as rejected.
	c = dialRaw(t, s)
	_, err := msrp.Authenticate(context.Background(), c, s.URI(), msrp.Credentials{Username: "bob", Password: "nope"}, msrp.AuthOptions{From: c.self})
	if !errors.Is(err, msrp.ErrAuthRejected) {
		t.Fatalf("got %v", err)
	}
}

func TestAuthForbidden(t *testing.T) {
	s, auth := startRelay(t, Config{})
	auth.Deny("bob")
	c := dialRaw(t, s)
	if f := authWith(t, c, s, "bob", "bob-pw", ""); f.StatusCode != 403 {
		t.Fatalf("got %d", f.StatusCode)
	}
}

func TestAuthExpiresBounds(t *testing.T) {
	s, _ := startRelay(t, Config{MinExpires: 60 * time.Second, MaxExpires: 600 * time.Second})
	for _, tc := range []struct {
		expires string
		code    int
		grant   string
	}{
		{"59", 423, ""},
		{"601", 423, ""},
		{"60", 200, "60"},
		{"600", 200, "600"},
		{"", 200, "600"},
		{"x1", 400, ""},
	} {
		c := dialRaw(t, s)
		f := authWith(t, c, s, "alice", "alice-pw", tc.expires)
		if f.StatusCode != tc.code {
			t.Fatalf("Expires %q: %d", tc.expires, f.StatusCode)
		}
		if tc.code == 423 && (header(f, "Min-Expires") != "60" || header(f, "Max-Expires") != "600") {
			t.Fatalf("423 headers %v", f.Headers)
		}
		if tc.code == 200 && header(f, "Expires") != tc.grant {
			t.Fatalf("Expires %q granted %q", tc.expires, header(f, "Expires"))
		}
	}
	// The client library moves into the bounds on its own.
	c := dialRaw(t, s)
	ra, err := msrp.Authenticate(context.Background(), c, s.URI(), msrp.Credentials{Username: "alice", Password: "alice-pw"},
		msrp.AuthOptions{From: c.self, Expires: 2 * time.Hour})
	if err != nil || ra.Expires != 600*time.Second {
		t.Fatalf("%v %+v", err, ra)
	}
}

func TestAuthReplayAndStale(t *testing.T) {
	now := time.Now()
	clock := func() time.Time { return now }
	s, _ := startRelay(t, Config{Now: clock, NonceLifetime: time.Minute})
	c := dialRaw(t, s)
	c.write(authReq(s.URI(), c.self), nil)
	f, _ := c.read()
	ch, _ := msrp.ParseChallenge(header(f, "WWW-Authenticate"))
	a, _ := ch.Authorize(msrp.Credentials{Username: "alice", Password: "alice-pw"}, s.URI().String(), 1, "")
	req := func() *msrp.Frame {
		c.write(authReq(s.URI(), c.self, msrp.Header{Name: "Authorization", Value: a.String()}), nil)
		f, _ := c.read()
		return f
	}
	if f := req(); f.StatusCode != 200 {
		t.Fatalf("first use: %d", f.StatusCode)
	}
	// The same nonce-count again is a replay: stale, not accepted.
	f = req()
	if f.StatusCode != 401 {
		t.Fatalf("replay: %d", f.StatusCode)
	}
	if ch2, _ := msrp.ParseChallenge(header(f, "WWW-Authenticate")); !ch2.Stale {
		t.Fatal("replay not answered stale=true")
	}
	// A higher nc on the same nonce is fine.
	a, _ = ch.Authorize(msrp.Credentials{Username: "alice", Password: "alice-pw"}, s.URI().String(), 2, "")
	if f := req(); f.StatusCode != 200 {
		t.Fatalf("nc=2: %d", f.StatusCode)
	}
	// After the nonce lifetime: stale.
	now = now.Add(2 * time.Minute)
	a, _ = ch.Authorize(msrp.Credentials{Username: "alice", Password: "alice-pw"}, s.URI().String(), 3, "")
	f = req()
	if ch2, _ := msrp.ParseChallenge(header(f, "WWW-Authenticate")); f.StatusCode != 401 || !ch2.Stale {
		t.Fatalf("old nonce: %d %v", f.StatusCode, f.Headers)
	}
	// A forged nonce is a failure, not stale.
	a.Nonce = strings.Repeat("ab", nonceRawLen)
	a, _ = (&msrp.Challenge{Realm: ch.Realm, Nonce: a.Nonce, Algorithm: ch.Algorithm, QOP: []string{"auth"}}).Authorize(
		msrp.Credentials{Username: "alice", Password: "alice-pw"}, s.URI().String(), 1, "")
	f = req()
	if ch2, _ := msrp.ParseChallenge(header(f, "WWW-Authenticate")); f.StatusCode != 401 || ch2.Stale {
		t.Fatalf("forged nonce: %d %v", f.StatusCode, f.Headers)
	}
}

func TestHA1(t *testing.T) {
	if got := HA1(md5.New, "Mufasa", "testrealm@host.com", "Circle Of Life"); got != "939e7578ed9e3c518a452acee763bce9" {
		t.Fatalf("RFC 2617 §3.5 HA1: %s", got)
	}
	if len(HA1(sha256.New, "a", "b", "c")) != 64 {
		t.Fatal("sha256 HA1 length")
	}
}
