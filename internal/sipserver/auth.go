package sipserver

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
	"github.com/parley-im/parley/internal/store"
)

// nonces issues digest nonces and enforces their lifetime and the
// nonce-count rule (RFC 7616 §3.4: nc must increase; a request with an nc
// already seen is a replay).
//
// Nonces are stateless (RFC 7616 §3.3 leaves their construction to the
// server): the issue time and an HMAC of it and the realm under a secret
// made at start, so a challenge costs no memory (FINDINGS F11). State is
// kept only for nonces that authenticated a request (their highest nc),
// at most maxUsed of them; when the table is full the expired entries go,
// then arbitrary ones, and every nonce issued no later than an evicted
// one is answered stale from then on, so eviction never reopens a replay.
// After a restart every client gets a new challenge, with stale=true.
type nonces struct {
	life   time.Duration
	secret [32]byte

	mu    sync.Mutex
	used  map[string]*nonceState
	floor int64 // nonces issued at or before this (UnixNano) and not in used are stale
}

type nonceState struct {
	issued time.Time
	maxNC  int
	noQOP  bool // used once without qop (RFC 2069 style): single use
}

// Nonce errors.
var (
	errNonceUnknown = errors.New("unknown nonce")
	errNonceStale   = errors.New("nonce expired")
	errNonceReplay  = errors.New("nonce count replayed")
)

func newNonces(life time.Duration) *nonces {
	n := &nonces{life: life, used: map[string]*nonceState{}}
	rand.Read(n.secret[:])
	return n
}

// maxUsed bounds the nonce-count table.
const maxUsed = 100000

// nonceLen is the length of a nonce: 16 hex digits of time, 16 random,
// 32 of MAC.
const nonceLen = 16 + 16 + 32

func (n *nonces) mac(ts, realm string) string {
	h := hmac.New(sha256.New, n.secret[:])
	h.Write([]byte(ts))
	h.Write([]byte{0})
	h.Write([]byte(realm))
	return hex.EncodeToString(h.Sum(nil)[:16])
}

func (n *nonces) issue(now time.Time, realm string) string {
	var r [8]byte
	rand.Read(r[:])
	ts := fmt.Sprintf("%016x", uint64(now.UnixNano())) + hex.EncodeToString(r[:])
	return ts + n.mac(ts, realm)
}

// use checks nonce, issued for realm, with nonce-count nc (0 when the
// client sent no qop). Call it only for requests whose digest verified.
func (n *nonces) use(nonce, realm string, nc int, now time.Time) error {
	if len(nonce) != nonceLen {
		return errNonceUnknown
	}
	ts := nonce[:32]
	if !hmac.Equal([]byte(nonce[32:]), []byte(n.mac(ts, realm))) {
		return errNonceUnknown
	}
	v, err := strconv.ParseUint(ts[:16], 16, 64)
	if err != nil {
		return errNonceUnknown
	}
	issued := time.Unix(0, int64(v))
	if age := now.Sub(issued); age > n.life || age < -time.Minute {
		return errNonceStale
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	st, ok := n.used[nonce]
	if !ok {
		if int64(v) <= n.floor {
			return errNonceStale
		}
		if len(n.used) >= maxUsed {
			n.sweepLocked(now)
		}
		for k, old := range n.used {
			if len(n.used) < maxUsed {
				break
			}
			n.floor = max(n.floor, old.issued.UnixNano())
			delete(n.used, k)
		}
		if int64(v) <= n.floor {
			return errNonceStale
		}
		st = &nonceState{issued: issued}
		n.used[nonce] = st
	}
	if nc == 0 {
		if st.noQOP || st.maxNC > 0 {
			return errNonceReplay
		}
		st.noQOP = true
		return nil
	}
	if nc <= st.maxNC || st.noQOP {
		return errNonceReplay
	}
	st.maxNC = nc
	return nil
}

func (n *nonces) sweep(now time.Time) {
	n.mu.Lock()
	n.sweepLocked(now)
	n.mu.Unlock()
}

func (n *nonces) sweepLocked(now time.Time) {
	for k, st := range n.used {
		if now.Sub(st.issued) > n.life {
			delete(n.used, k)
		}
	}
}

// tracked returns the size of the nonce-count table (tests).
func (n *nonces) tracked() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.used)
}

// authResult is the outcome of checking a request's credentials.
type authResult int

const (
	authNone      authResult = iota // no credentials for our realm: challenge
	authOK                          // verified
	authStale                       // right password, expired nonce: challenge with stale=true
	authFailed                      // wrong credentials: 403
	authThrottled                   // too many failures from this IP or for this AOR: 503
)

// challenge answers req with 401 (registrar, WWW-Authenticate) or 407
// (proxy, Proxy-Authenticate), one header per algorithm (RFC 3261 §22.1,
// RFC 8760 §2.4).
func (s *Server) challenge(tx sip.ServerTransaction, req *sip.Request, domain string, proxy, stale bool) {
	name, code, reason := "WWW-Authenticate", 401, "Unauthorized"
	if proxy {
		name, code, reason = "Proxy-Authenticate", 407, "Proxy Authentication Required"
	}
	nonce := s.nc.issue(time.Now(), s.realmFor(domain))
	hdrs := make([]sip.Header, 0, len(s.cfg.Algorithms))
	for _, a := range s.cfg.Algorithms {
		c := digest.Challenge{Realm: s.realmFor(domain), Nonce: nonce, Algorithm: string(a), QOP: []string{"auth"}, Stale: stale}
		hdrs = append(hdrs, sip.NewHeader(name, c.String()))
	}
	s.respond(tx, req, code, reason, hdrs...)
}

// authCheck is the outcome of authenticate: why (for the log only: the
// response never tells, FINDINGS.md F12) and, when throttled, when to
// come back.
type authCheck struct {
	res   authResult
	why   string
	retry time.Duration
}

// authenticate checks the credentials of req for user@domain in our
// realm (RFC 3261 §22.2, §22.3; RFC 7616 §3.4). Every failure is counted
// against the source IP and the AOR; beyond Config.MaxAuthFailures the
// credentials are not checked at all (authThrottled). An unknown user is
// checked against a dummy HA1, so that the work done, like the response,
// does not depend on whether the user exists.
func (s *Server) authenticate(ctx context.Context, req *sip.Request, proxy bool, domain, user string) authCheck {
	name := "Authorization"
	if proxy {
		name = "Proxy-Authorization"
	}
	realm := s.realmFor(domain)
	aor := "sip:" + user + "@" + domain
	ip := sourceIP(req)
	var creds *digest.Credentials
	malformed := false
	for _, h := range req.GetHeaders(name) {
		c, err := digest.ParseCredentials(h.Value())
		if err != nil {
			malformed = true
			break
		}
		if c.Realm == realm {
			creds = c
			break
		}
	}
	if creds == nil && !malformed {
		return authCheck{res: authNone}
	}
	if retry, ok := s.throttle.blocked(ip, aor); ok {
		return authCheck{res: authThrottled, why: "too many failed authentications", retry: retry}
	}
	fail := func(why string) authCheck {
		s.throttle.failed(ip, aor)
		return authCheck{res: authFailed, why: why}
	}
	if malformed {
		return fail("malformed " + name + " header")
	}
	if creds.Username != user {
		return fail(fmt.Sprintf("credentials of %q used for %q", creds.Username, user))
	}
	alg := store.Algorithm(creds.Algorithm)
	base, err := alg.Canonical()
	if err != nil {
		return fail("unsupported digest algorithm " + creds.Algorithm)
	}
	offered := false
	for _, a := range s.cfg.Algorithms {
		if a == base {
			offered = true
		}
	}
	if !offered {
		return fail("digest algorithm " + creds.Algorithm + " was not offered")
	}
	qop := creds.QOP
	if qop != "" && qop != "auth" {
		return fail("unsupported qop " + qop)
	}
	if creds.URI == "" {
		return fail("credentials without uri")
	}
	cred, err := s.credential(ctx, domain, user, realm, base)
	known := err == nil
	if errors.Is(err, store.ErrNotFound) {
		cred = s.dummy[base] // same work as for a user who exists
	} else if err != nil {
		s.log.Warn("credential lookup", "user", user, "err", err)
		return authCheck{res: authFailed, why: "credential store unavailable"}
	}
	nc := ""
	if qop != "" {
		nc = fmt.Sprintf("%08x", creds.Nc)
	}
	if !cred.Verify(creds.Response, alg, string(req.Method), creds.URI, creds.Nonce, nc, creds.Cnonce, qop) || !known {
		if !known {
			return fail("no such user or no " + string(base) + " credential")
		}
		return fail("wrong password")
	}
	n := 0
	if qop != "" {
		n = creds.Nc
		if n <= 0 {
			return fail("bad nonce count")
		}
	}
	switch err := s.nc.use(creds.Nonce, realm, n, time.Now()); {
	case err == nil:
		return authCheck{res: authOK}
	case errors.Is(err, errNonceReplay):
		return fail("replayed nonce count")
	default:
		// Unknown (e.g. issued before a restart) or expired: the
		// password was right, so ask again with stale=true.
		return authCheck{res: authStale, why: err.Error()}
	}
}

// refuseAuth answers a request whose authentication failed or was
// throttled: one response for every failure, whatever the reason (which
// goes to the log), so that it does not tell whether the user exists
// (FINDINGS.md F12).
func (s *Server) refuseAuth(tx sip.ServerTransaction, req *sip.Request, who string, chk authCheck) {
	if chk.res == authThrottled {
		s.metrics.AuthThrottled.Add(1)
		s.log.Info("authentication throttled", "method", req.Method, "user", who, "source", req.Source())
		secs := max(1, int((chk.retry+time.Second-1)/time.Second))
		s.respond(tx, req, 503, "Service Unavailable", sip.NewHeader("Retry-After", strconv.Itoa(secs)))
		return
	}
	s.metrics.AuthFailures.Add(1)
	s.log.Info("authentication failed", "method", req.Method, "user", who, "source", req.Source(), "reason", chk.why)
	s.respond(tx, req, 403, "Forbidden")
}

// sourceIP is the IP address a request came from (its transport source
// without the port).
func sourceIP(req *sip.Request) string {
	src := req.Source()
	if h, _, err := net.SplitHostPort(src); err == nil {
		return h
	}
	return src
}

// newDummyHA1s makes one random HA1 per algorithm, checked instead of the
// HA1 of a user who does not exist.
func newDummyHA1s() map[store.Algorithm]store.Credential {
	m := map[store.Algorithm]store.Credential{}
	for _, a := range []store.Algorithm{store.MD5, store.SHA256, store.SHA512256} {
		c, _ := store.NewCredential("", "", randHex(16), a)
		m[a] = c
	}
	return m
}

// realmFor is the digest realm of a domain's users: Config.Realm, or the
// domain itself (so that `parley user add` can compute HA1 per domain).
func (s *Server) realmFor(domain string) string {
	if s.cfg.Realm != "" {
		return s.cfg.Realm
	}
	return domain
}

// userOf returns the user and domain a request's From claims, lower-casing
// the domain.
func userOf(u sip.Uri) (user, domain string) {
	return u.User, strings.ToLower(u.Host)
}
