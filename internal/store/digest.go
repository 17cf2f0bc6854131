package store

import (
	"crypto/md5"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"hash"
	"strings"
)

// Algorithm is a digest algorithm name as written in the algorithm parameter
// of a challenge (RFC 7616 §3.3, RFC 8760 §2 for SIP). The "-sess" variants
// use the same stored HA1: RFC 7616 §3.4.2 derives the session HA1 as
// H(H(user:realm:password):nonce:cnonce), so the base HA1 is enough.
type Algorithm string

// Supported algorithms.
const (
	MD5       Algorithm = "MD5"
	SHA256    Algorithm = "SHA-256"
	SHA512256 Algorithm = "SHA-512-256"
)

// Canonical maps an algorithm parameter (any case, with or without "-sess")
// to the base algorithm whose HA1 is stored. "" means MD5 (RFC 7616 §3.3).
func (a Algorithm) Canonical() (Algorithm, error) {
	s := strings.ToUpper(string(a))
	s = strings.TrimSuffix(s, "-SESS")
	switch Algorithm(s) {
	case "", MD5:
		return MD5, nil
	case SHA256:
		return SHA256, nil
	case SHA512256:
		return SHA512256, nil
	}
	return "", fmt.Errorf("%w: unknown digest algorithm %q", ErrInvalid, string(a))
}

func (a Algorithm) newHash() hash.Hash {
	switch a {
	case SHA256:
		return sha256.New()
	case SHA512256:
		return sha512.New512_256()
	}
	return md5.New()
}

// Credential is one digest HA1: H(user:realm:password) in lower-case hex
// (RFC 7616 §3.4.2, RFC 2617 §3.2.2.2).
//
// Why HA1 and not a salted slow hash (bcrypt, argon2)? SIP digest
// authentication needs the server to compute the expected response from
// H(user:realm:password); a slow one-way hash of the password cannot produce
// it, so the only alternative to HA1 would be keeping the password itself.
// HA1 is the standard trade-off (Kamailio's subscriber.ha1, Asterisk's
// md5secret): a leaked HA1 lets an attacker authenticate to this realm
// without cracking it (it is a password equivalent for this realm), but it
// does not reveal the password, so it cannot be replayed against other
// realms or services, and changing the realm invalidates all of them. Treat
// the database as secret: the SQLite file is created mode 0600.
type Credential struct {
	Realm     string
	Algorithm Algorithm
	HA1       string
}

// NewCredential computes the HA1 of user:realm:password for alg.
func NewCredential(user, realm, password string, alg Algorithm) (Credential, error) {
	c, err := alg.Canonical()
	if err != nil {
		return Credential{}, err
	}
	h := c.newHash()
	h.Write([]byte(user + ":" + realm + ":" + password))
	return Credential{Realm: realm, Algorithm: c, HA1: hex.EncodeToString(h.Sum(nil))}, nil
}

// NewCredentials computes the HA1 for each algorithm (MD5 and SHA-256 if
// none is given), for one realm.
func NewCredentials(user, realm, password string, algs ...Algorithm) ([]Credential, error) {
	if len(algs) == 0 {
		algs = []Algorithm{MD5, SHA256}
	}
	out := make([]Credential, 0, len(algs))
	for _, a := range algs {
		c, err := NewCredential(user, realm, password, a)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// Response computes the expected digest response for this credential
// (RFC 7616 §3.4.1, with qop "auth" or, when qop is "", RFC 2069 style). alg
// is the algorithm parameter of the challenge, which may carry "-sess".
func (c Credential) Response(alg Algorithm, method, uri, nonce, nc, cnonce, qop string) (string, error) {
	base, err := alg.Canonical()
	if err != nil {
		return "", err
	}
	if base != c.Algorithm {
		return "", fmt.Errorf("%w: credential is %s, challenge is %s", ErrInvalid, c.Algorithm, alg)
	}
	hx := func(s string) string {
		h := base.newHash()
		h.Write([]byte(s))
		return hex.EncodeToString(h.Sum(nil))
	}
	ha1 := c.HA1
	if strings.HasSuffix(strings.ToUpper(string(alg)), "-SESS") {
		ha1 = hx(ha1 + ":" + nonce + ":" + cnonce) // RFC 7616 §3.4.2
	}
	ha2 := hx(method + ":" + uri) // qop=auth; auth-int is not supported
	switch qop {
	case "":
		return hx(ha1 + ":" + nonce + ":" + ha2), nil
	case "auth":
		return hx(ha1 + ":" + nonce + ":" + nc + ":" + cnonce + ":" + qop + ":" + ha2), nil
	}
	return "", fmt.Errorf("%w: unsupported qop %q", ErrInvalid, qop)
}

// Verify reports whether response is the right digest response, comparing
// in constant time.
func (c Credential) Verify(response string, alg Algorithm, method, uri, nonce, nc, cnonce, qop string) bool {
	want, err := c.Response(alg, method, uri, nonce, nc, cnonce, qop)
	if err != nil {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(want), []byte(strings.ToLower(response))) == 1
}
