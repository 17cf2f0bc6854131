package relay

import (
	"context"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strings"
	"sync"
	"time"

	"github.com/parley-im/parley/msrp"
)

// Authenticator looks up the digest secret of a user (RFC 4976 §6.3,
// RFC 2617 §3.2.2.2). It is the hook for the server's account store.
type Authenticator interface {
	// Lookup returns H(A1) = H(user ":" realm ":" password) in lowercase
	// hex for the digest algorithm ("MD5" or "SHA-256"), and ok false if
	// the user is unknown. A non-nil error is an outage of the store: the
	// AUTH is answered 500-style (403) and not counted as a failure.
	Lookup(ctx context.Context, user, realm, algorithm string) (ha1 string, ok bool, err error)
}

// Authorizer may be implemented by an Authenticator to refuse service to
// users whose credentials are right (403, RFC 4976 §6.3).
type Authorizer interface {
	Allowed(ctx context.Context, user string) (bool, error)
}

// MemoryAuthenticator is an in-memory Authenticator and Authorizer keyed
// by username, for the standalone relay and for tests. It is safe for
// concurrent use.
type MemoryAuthenticator struct {
	mu    sync.RWMutex
	users map[string]memUser
}

type memUser struct {
	password string
	denied   bool
}

// NewMemoryAuthenticator returns an empty MemoryAuthenticator.
func NewMemoryAuthenticator() *MemoryAuthenticator {
	return &MemoryAuthenticator{users: make(map[string]memUser)}
}

// Add sets user's password (and allows the user).
func (m *MemoryAuthenticator) Add(user, password string) {
	m.mu.Lock()
	m.users[user] = memUser{password: password}
	m.mu.Unlock()
}

// Deny keeps user's credentials valid but refuses service (403).
func (m *MemoryAuthenticator) Deny(user string) {
	m.mu.Lock()
	u := m.users[user]
	u.denied = true
	m.users[user] = u
	m.mu.Unlock()
}

// Lookup implements Authenticator.
func (m *MemoryAuthenticator) Lookup(_ context.Context, user, realm, algorithm string) (string, bool, error) {
	m.mu.RLock()
	u, ok := m.users[user]
	m.mu.RUnlock()
	if !ok {
		return "", false, nil
	}
	h, err := hashFor(algorithm)
	if err != nil {
		return "", false, err
	}
	return HA1(h, user, realm, u.password), true, nil
}

// Allowed implements Authorizer.
func (m *MemoryAuthenticator) Allowed(_ context.Context, user string) (bool, error) {
	m.mu.RLock()
	u := m.users[user]
	m.mu.RUnlock()
	return !u.denied, nil
}

// HA1 returns hex(H(user ":" realm ":" password)) for the hash h
// (RFC 2617 §3.2.2.2), the form an account store keeps.
func HA1(h func() hash.Hash, user, realm, password string) string {
	return hexHash(h, user, ":", realm, ":", password)
}

// hashFor maps a digest algorithm name to its hash ("" is MD5, RFC 2617
// §3.2.1). "-sess" variants are refused (RFC 4976 §9.1).
func hashFor(alg string) (func() hash.Hash, error) {
	switch {
	case alg == "" || strings.EqualFold(alg, "MD5"):
		return md5.New, nil
	case strings.EqualFold(alg, "SHA-256"):
		return sha256.New, nil
	}
	return nil, fmt.Errorf("%w: %q", msrp.ErrDigestAlgorithm, alg)
}

func canonicalAlg(alg string) string {
	if alg == "" || strings.EqualFold(alg, "MD5") {
		return "MD5"
	}
	return "SHA-256"
}

func hexHash(h func() hash.Hash, parts ...string) string {
	d := h()
	for _, p := range parts {
		d.Write([]byte(p))
	}
	var buf [64]byte
	return hex.EncodeToString(d.Sum(buf[:0]))
}

// digestResponse computes KD(HA1, nonce:nc:cnonce:qop:H(A2)) with
// A2 = method ":" uri (RFC 2617 §3.2.2.1); method "AUTH" for the request
// digest (RFC 4976 §9.1), "" for rspauth (RFC 2617 §3.2.3).
func digestResponse(h func() hash.Hash, ha1 string, a *msrp.Authorization, method string) string {
	ha2 := hexHash(h, method, ":", a.URI)
	return hexHash(h, ha1, ":", a.Nonce, ":", fmt.Sprintf("%08x", a.NC), ":", a.Cnonce, ":", a.QOP, ":", ha2)
}

// nonces issues and checks digest nonces: hex(issued-unix-nanos ‖ 64
// random bits ‖ HMAC-SHA-256(key, first two)[:16]). Nothing is stored per
// issued nonce; a nonce-count is remembered only once a nonce has been
// used, so that each (nonce, nc) is accepted once and nc only grows
// (RFC 2617 §3.2.2 replay protection).
type nonces struct {
	key      [32]byte
	lifetime time.Duration

	mu   sync.Mutex
	used map[string]nonceUse
}

type nonceUse struct {
	nc      uint32
	expires time.Time
}

const nonceRawLen = 8 + 8 + 16

// maxTrackedNonces bounds the replay table; beyond it new nonces are
// refused as stale until old ones expire (the client just retries).
const maxTrackedNonces = 1 << 20

func newNonces(lifetime time.Duration) *nonces {
	n := &nonces{lifetime: lifetime, used: make(map[string]nonceUse)}
	_, _ = rand.Read(n.key[:])
	return n
}

func (n *nonces) issue(now time.Time) string {
	var raw [nonceRawLen]byte
	binary.BigEndian.PutUint64(raw[:8], uint64(now.UnixNano()))
	_, _ = rand.Read(raw[8:16])
	m := hmac.New(sha256.New, n.key[:])
	m.Write(raw[:16])
	copy(raw[16:], m.Sum(nil))
	return hex.EncodeToString(raw[:])
}

// Nonce check results.
var (
	errNonceForged = errors.New("relay: nonce not issued by this relay")
	errNonceStale  = errors.New("relay: nonce expired")
	errNonceReplay = errors.New("relay: nonce-count replayed")
)

// valid checks that nonce is ours and fresh, without consuming it.
func (n *nonces) valid(nonce string, now time.Time) error {
	var raw [nonceRawLen]byte
	if len(nonce) != 2*nonceRawLen {
		return errNonceForged
	}
	if _, err := hex.Decode(raw[:], []byte(nonce)); err != nil {
		return errNonceForged
	}
	m := hmac.New(sha256.New, n.key[:])
	m.Write(raw[:16])
	if subtle.ConstantTimeCompare(m.Sum(nil)[:16], raw[16:]) != 1 {
		return errNonceForged
	}
	issued := time.Unix(0, int64(binary.BigEndian.Uint64(raw[:8])))
	if now.Sub(issued) > n.lifetime || issued.After(now.Add(time.Minute)) {
		return errNonceStale
	}
	return nil
}

// use records nonce-count nc for a valid nonce; it fails unless nc is
// greater than every count seen for that nonce.
func (n *nonces) use(nonce string, nc uint32, now time.Time) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	u, seen := n.used[nonce]
	if seen && nc <= u.nc {
		return errNonceReplay
	}
	if !seen && len(n.used) >= maxTrackedNonces {
		return errNonceStale
	}
	n.used[nonce] = nonceUse{nc: nc, expires: now.Add(n.lifetime + time.Minute)}
	return nil
}

func (n *nonces) sweep(now time.Time) {
	n.mu.Lock()
	for k, u := range n.used {
		if now.After(u.expires) {
			delete(n.used, k)
		}
	}
	n.mu.Unlock()
}
