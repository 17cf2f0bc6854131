package sipserver

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
	"github.com/parley-im/parley/internal/store"
)

// nonces issues digest nonces and enforces their lifetime and the
// nonce-count rule (RFC 7616 §3.4: nc must increase; a request with an nc
// already seen is a replay). Nonces live in memory: after a restart every
// client gets a new challenge, with stale=true.
type nonces struct {
	life time.Duration
	mu   sync.Mutex
	m    map[string]*nonceState
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
	return &nonces{life: life, m: map[string]*nonceState{}}
}

// maxNonces bounds the table; beyond it the oldest half is dropped.
const maxNonces = 100000

func (n *nonces) issue(now time.Time) string {
	var b [16]byte
	rand.Read(b[:])
	v := hex.EncodeToString(b[:])
	n.mu.Lock()
	if len(n.m) >= maxNonces {
		n.sweepLocked(now.Add(n.life / 2))
	}
	n.m[v] = &nonceState{issued: now}
	n.mu.Unlock()
	return v
}

// use checks nonce with nonce-count nc (0 when the client sent no qop).
func (n *nonces) use(nonce string, nc int, now time.Time) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	st, ok := n.m[nonce]
	if !ok {
		return errNonceUnknown
	}
	if now.Sub(st.issued) > n.life {
		delete(n.m, nonce)
		return errNonceStale
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
	for k, st := range n.m {
		if now.Sub(st.issued) > n.life {
			delete(n.m, k)
		}
	}
}

// authResult is the outcome of checking a request's credentials.
type authResult int

const (
	authNone   authResult = iota // no credentials for our realm: challenge
	authOK                       // verified
	authStale                    // right password, expired nonce: challenge with stale=true
	authFailed                   // wrong credentials: 403 (or re-challenge)
)

// challenge answers req with 401 (registrar, WWW-Authenticate) or 407
// (proxy, Proxy-Authenticate), one header per algorithm (RFC 3261 §22.1,
// RFC 8760 §2.4).
func (s *Server) challenge(tx sip.ServerTransaction, req *sip.Request, domain string, proxy, stale bool) {
	name, code, reason := "WWW-Authenticate", 401, "Unauthorized"
	if proxy {
		name, code, reason = "Proxy-Authenticate", 407, "Proxy Authentication Required"
	}
	nonce := s.nc.issue(time.Now())
	hdrs := make([]sip.Header, 0, len(s.cfg.Algorithms))
	for _, a := range s.cfg.Algorithms {
		c := digest.Challenge{Realm: s.realmFor(domain), Nonce: nonce, Algorithm: string(a), QOP: []string{"auth"}, Stale: stale}
		hdrs = append(hdrs, sip.NewHeader(name, c.String()))
	}
	s.respond(tx, req, code, reason, hdrs...)
}

// authenticate checks the credentials of req for user@domain in our
// realm (RFC 3261 §22.2, §22.3; RFC 7616 §3.4). It returns the reason of
// a failure for the log and the 403.
func (s *Server) authenticate(ctx context.Context, req *sip.Request, proxy bool, domain, user string) (authResult, string) {
	name := "Authorization"
	if proxy {
		name = "Proxy-Authorization"
	}
	realm := s.realmFor(domain)
	var creds *digest.Credentials
	for _, h := range req.GetHeaders(name) {
		c, err := digest.ParseCredentials(h.Value())
		if err != nil {
			return authFailed, "malformed " + name + " header"
		}
		if c.Realm == realm {
			creds = c
			break
		}
	}
	if creds == nil {
		return authNone, ""
	}
	if creds.Username != user {
		return authFailed, fmt.Sprintf("credentials of %q used for %q", creds.Username, user)
	}
	alg := store.Algorithm(creds.Algorithm)
	base, err := alg.Canonical()
	if err != nil {
		return authFailed, "unsupported digest algorithm " + creds.Algorithm
	}
	offered := false
	for _, a := range s.cfg.Algorithms {
		if a == base {
			offered = true
		}
	}
	if !offered {
		return authFailed, "digest algorithm " + creds.Algorithm + " was not offered"
	}
	qop := creds.QOP
	if qop != "" && qop != "auth" {
		return authFailed, "unsupported qop " + qop
	}
	if creds.URI == "" {
		return authFailed, "credentials without uri"
	}
	cred, err := s.st.Credential(ctx, domain, user, realm, base)
	if errors.Is(err, store.ErrNotFound) {
		return authFailed, "no such user or no " + string(base) + " credential"
	}
	if err != nil {
		s.log.Warn("credential lookup", "user", user, "err", err)
		return authFailed, "credential store unavailable"
	}
	nc := ""
	if qop != "" {
		nc = fmt.Sprintf("%08x", creds.Nc)
	}
	if !cred.Verify(creds.Response, alg, string(req.Method), creds.URI, creds.Nonce, nc, creds.Cnonce, qop) {
		return authFailed, "wrong password"
	}
	n := 0
	if qop != "" {
		n = creds.Nc
		if n <= 0 {
			return authFailed, "bad nonce count"
		}
	}
	switch err := s.nc.use(creds.Nonce, n, time.Now()); {
	case err == nil:
		return authOK, ""
	case errors.Is(err, errNonceReplay):
		return authFailed, "replayed nonce count"
	default:
		// Unknown (e.g. issued before a restart) or expired: the
		// password was right, so ask again with stale=true.
		return authStale, err.Error()
	}
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
