package relay

import (
	"context"
	"crypto/subtle"
	"strconv"
	"strings"
	"time"

	"github.com/parley-im/parley/msrp"
)

// handleAuth answers an AUTH addressed to this relay (RFC 4976 §5.1,
// §6.3, §9.1); false closes the connection.
func (c *conn) handleAuth(f *msrp.Frame) bool {
	s := c.s
	now := s.cfg.Now()
	// §5.1, §9.2: AUTH only over TLS (loopback or AllowInsecure excepted).
	if !c.secure && !s.cfg.AllowInsecure && !c.addr.IsLoopback() {
		return c.authFailed(f, msrp.StatusForbidden, "AUTH requires TLS")
	}
	// §6.3: a relay peer (verified certificate) must be the host of the
	// first From-Path URI.
	if c.peerID != "" && !c.hasName(f.FromPath[0].Host) {
		return c.authFailed(f, msrp.StatusForbidden, "Certificate does not match From-Path")
	}
	value, ok := f.Header("Authorization")
	if !ok {
		c.challenge(f, false, now)
		return true
	}
	a, err := msrp.ParseAuthorization(value)
	if err != nil {
		return c.authFailed(f, msrp.StatusBadRequest, "Malformed Authorization")
	}
	alg := ""
	for _, x := range s.cfg.Algorithms {
		if strings.EqualFold(x, a.Algorithm) || (a.Algorithm == "" && strings.EqualFold(x, "MD5")) {
			alg = canonicalAlg(x)
		}
	}
	if alg == "" || !strings.EqualFold(a.QOP, "auth") || a.Realm != s.cfg.Realm || a.Username == "" {
		c.s.metrics.authFail.Add(1)
		c.challenge(f, false, now)
		return c.countAuthFailure()
	}
	// §9.1: the digest-uri is the rightmost To-Path URI.
	du, err := msrp.ParseURI(a.URI)
	if err != nil || !du.Equal(f.ToPath[len(f.ToPath)-1]) {
		return c.authFailed(f, msrp.StatusBadRequest, "Authorization uri is not the To-Path")
	}
	nonceErr := s.nonces.valid(a.Nonce, now)
	if nonceErr == errNonceForged {
		c.s.metrics.authFail.Add(1)
		c.challenge(f, false, now)
		return c.countAuthFailure()
	}
	h, _ := hashFor(alg)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ha1, known, err := s.cfg.Authenticator.Lookup(ctx, a.Username, a.Realm, alg)
	if err != nil {
		s.cfg.Logger.Warn("relay: authenticator lookup failed", "err", err)
		c.respond(f, msrp.StatusForbidden, "Authentication service unavailable")
		return true
	}
	if !known {
		ha1 = strings.Repeat("0", len(hexHash(h))) // same work, no oracle
	}
	want := digestResponse(h, ha1, a, msrp.MethodAUTH)
	if subtle.ConstantTimeCompare([]byte(want), []byte(strings.ToLower(a.Response))) != 1 || !known {
		c.s.metrics.authFail.Add(1)
		c.challenge(f, false, now)
		return c.countAuthFailure()
	}
	if nonceErr != nil || s.nonces.use(a.Nonce, a.NC, now) != nil {
		// Right password, old or replayed nonce: RFC 2617 stale=true.
		c.challenge(f, true, now)
		return true
	}
	if az, ok := s.cfg.Authenticator.(Authorizer); ok {
		allowed, err := az.Allowed(ctx, a.Username)
		if err != nil || !allowed {
			return c.authFailed(f, msrp.StatusForbidden, "")
		}
	}
	// §6.3: Expires within Min-Expires..Max-Expires, else 423.
	life := s.cfg.MaxExpires
	minS, maxS := int64(s.cfg.MinExpires/time.Second), int64(s.cfg.MaxExpires/time.Second)
	if v, ok := f.Header("Expires"); ok {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 || v == "" || v[0] == '+' {
			return c.authFailed(f, msrp.StatusBadRequest, "Malformed Expires")
		}
		switch {
		case n < minS:
			c.respond(f, msrp.StatusIntervalOutOfBounds, "",
				msrp.Header{Name: "Min-Expires", Value: strconv.FormatInt(minS, 10)},
				msrp.Header{Name: "Max-Expires", Value: strconv.FormatInt(maxS, 10)})
			c.failures++
			return c.proven || c.failures < s.cfg.MaxFailures
		case n > maxS:
			c.respond(f, msrp.StatusIntervalOutOfBounds, "",
				msrp.Header{Name: "Min-Expires", Value: strconv.FormatInt(minS, 10)},
				msrp.Header{Name: "Max-Expires", Value: strconv.FormatInt(maxS, 10)})
			c.failures++
			return c.proven || c.failures < s.cfg.MaxFailures
		}
		life = time.Duration(n) * time.Second
	}
	ss, err := s.addSession(c, a.Username, life)
	if err != nil {
		return c.authFailed(f, msrp.StatusForbidden, "Too many sessions")
	}
	info := msrp.AuthenticationInfo{
		RspAuth: digestResponse(h, ha1, a, ""),
		Cnonce:  a.Cnonce, NC: a.NC, HasNC: true, QOP: "auth",
	}
	c.respond(f, msrp.StatusOK, "",
		msrp.Header{Name: "Use-Path", Value: ss.uri.String()},
		msrp.Header{Name: "Expires", Value: strconv.FormatInt(int64(life/time.Second), 10)},
		msrp.Header{Name: "Authentication-Info", Value: info.String()})
	s.metrics.authOK.Add(1)
	c.authFailures = 0
	c.succeeded()
	// The client usually goes quiet now (until a session starts): let go
	// of the buffers at once rather than after IdleRelease. A bodiless
	// frame leaves the Reader at a frame boundary.
	c.releaseSoon = !f.HasBody()
	return true
}

// challenge answers 401 with one WWW-Authenticate per configured
// algorithm (RFC 4976 §5.1, §9.1: qop="auth", no domain, no -sess).
func (c *conn) challenge(f *msrp.Frame, stale bool, now time.Time) {
	s := c.s
	nonce := s.nonces.issue(now)
	hdrs := make([]msrp.Header, 0, len(s.cfg.Algorithms))
	for _, alg := range s.cfg.Algorithms {
		ch := msrp.Challenge{Realm: s.cfg.Realm, Nonce: nonce, Algorithm: canonicalAlg(alg), QOP: []string{"auth"}, Stale: stale}
		hdrs = append(hdrs, msrp.Header{Name: "WWW-Authenticate", Value: ch.String()})
	}
	c.respond(f, msrp.StatusUnauthorized, "", hdrs...)
}

// authFailed answers an AUTH with an error and counts the failure.
func (c *conn) authFailed(f *msrp.Frame, code int, comment string) bool {
	c.s.metrics.authFail.Add(1)
	c.respond(f, code, comment)
	return c.countAuthFailure()
}

// countAuthFailure applies RFC 4976 §6.3: a client connection making
// several failed AUTHs is closed (a relay peer is not: §6.3 last
// paragraph). false closes the connection.
func (c *conn) countAuthFailure() bool {
	c.failures++
	c.authFailures++
	if c.peerID == "" && c.authFailures >= c.s.cfg.MaxAuthFailures {
		return false
	}
	return c.proven || c.failures < c.s.cfg.MaxFailures
}
