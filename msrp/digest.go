package msrp

// HTTP Digest authentication for MSRP AUTH requests: RFC 2617 as profiled
// by RFC 4976 §9.1 (read as draft-ietf-simple-msrp-relays-10), with the
// SHA-256 and SHA-512-256 algorithms of RFC 7616 §3.4.2 accepted as well.
//
// The profile, and what this file does about each rule:
//   - No Basic (§9.1): a Basic challenge is refused with ErrDigestBasic.
//   - No qop=auth-int (§9.1): a challenge must offer qop "auth"; one that
//     offers only auth-int (or no qop at all, RFC 2069 style: §9.1 says qop
//     MUST be present) is refused with ErrDigestQOP.
//   - No MD5-sess (§9.1): every "-sess" algorithm is refused with
//     ErrDigestAlgorithm.
//   - The "domain" parameter is ignored (§9.1 MUST).
//   - Clients always send qop, cnonce and nc (§9.1 MUST).
//   - The digest-uri is the rightmost To-Path URI, and it is quoted (§9.1).
//   - HA2 is computed over the method "AUTH" (RFC 2617 §3.2.2.3: A2 =
//     Method ":" digest-uri-value).
//   - The 200 carries Authentication-Info with rspauth, cnonce, nc and qop
//     (§9.1); VerifyResponseAuth checks them (rspauth uses A2 = ":" uri,
//     RFC 2617 §3.2.3).

import (
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"strings"
)

// Digest errors. Parse errors wrap ErrDigestSyntax; the others name a part
// of RFC 4976 §9.1 that a challenge or header violates.
var (
	// ErrDigestSyntax: a WWW-Authenticate, Authorization or
	// Authentication-Info value is malformed.
	ErrDigestSyntax = errors.New("msrp: malformed digest header")
	// ErrDigestBasic: the relay asked for Basic authentication, which
	// RFC 4976 §9.1 forbids clients to use.
	ErrDigestBasic = errors.New("msrp: Basic authentication is forbidden for MSRP (RFC 4976 §9.1)")
	// ErrDigestScheme: the challenge names a scheme other than Digest.
	ErrDigestScheme = errors.New("msrp: unsupported authentication scheme")
	// ErrDigestQOP: the challenge does not offer qop "auth" (no qop, or
	// only auth-int, both excluded by RFC 4976 §9.1).
	ErrDigestQOP = errors.New(`msrp: digest challenge does not offer qop "auth" (RFC 4976 §9.1)`)
	// ErrDigestAlgorithm: the algorithm is unknown or a "-sess" variant
	// (MD5-sess is forbidden by RFC 4976 §9.1).
	ErrDigestAlgorithm = errors.New("msrp: unsupported digest algorithm")
	// ErrDigestValue: a credential (username, realm, nonce, uri, ...) holds
	// characters that RFC 4976 §7 does not allow in a quoted-string.
	ErrDigestValue = errors.New("msrp: value cannot be sent in a digest quoted-string")
	// ErrDigestMismatch: a response digest or rspauth does not match.
	ErrDigestMismatch = errors.New("msrp: digest mismatch")
)

// Limits applied while parsing a digest header value.
const (
	maxDigestHeaderLen = 8192
	maxDigestParams    = 32
)

// DigestParam is one name=value pair of a digest header that has no typed
// field (an RFC 2617 auth-param). Value is unquoted.
type DigestParam struct {
	Name, Value string
}

// Challenge is a Digest challenge from a WWW-Authenticate header in a 401
// response to AUTH (RFC 4976 §4.3, §5.1, §7; RFC 2617 §3.2.1).
type Challenge struct {
	Realm string
	Nonce string
	// Opaque is echoed in the Authorization header when non-empty.
	Opaque string
	// Algorithm is as sent ("" means MD5).
	Algorithm string
	// QOP lists the qop-options in order, e.g. ["auth"].
	QOP []string
	// Stale is true when the relay says the nonce was stale but the
	// credentials were good (RFC 2617 §3.2.1): retry without asking the
	// user again.
	Stale bool
	// Params holds auth-params with no typed field ("domain" is dropped,
	// RFC 4976 §9.1).
	Params []DigestParam
}

// ParseChallenge parses the value of a WWW-Authenticate header, e.g.
//
//	Digest realm="relay.example.com", qop="auth", nonce="dcd98b7102dd2f0e"
//
// It enforces RFC 4976 §9.1: Basic is refused (ErrDigestBasic), and so are
// challenges without qop "auth" (ErrDigestQOP) and "-sess" or unknown
// algorithms (ErrDigestAlgorithm). Realm and nonce are required.
func ParseChallenge(value string) (*Challenge, error) {
	params, err := parseDigestHeader(value, true)
	if err != nil {
		return nil, err
	}
	c := new(Challenge)
	var haveRealm, haveNonce, haveQOP bool
	for _, p := range params {
		switch strings.ToLower(p.Name) {
		case "realm":
			c.Realm, haveRealm = p.Value, true
		case "nonce":
			c.Nonce, haveNonce = p.Value, true
		case "opaque":
			c.Opaque = p.Value
		case "algorithm":
			c.Algorithm = p.Value
		case "qop":
			haveQOP = true
			for q := range strings.SplitSeq(p.Value, ",") {
				q = strings.TrimSpace(q)
				if q == "" || !isDigestToken(q) {
					return nil, fmt.Errorf("%w: bad qop-options %q", ErrDigestSyntax, p.Value)
				}
				c.QOP = append(c.QOP, q)
			}
		case "stale":
			switch strings.ToLower(p.Value) {
			case "true":
				c.Stale = true
			case "false":
			default:
				return nil, fmt.Errorf("%w: stale=%q", ErrDigestSyntax, p.Value)
			}
		case "domain":
			// RFC 4976 §9.1: clients MUST ignore it.
		default:
			c.Params = append(c.Params, p)
		}
	}
	if !haveRealm || !haveNonce {
		return nil, fmt.Errorf("%w: challenge without realm or nonce", ErrDigestSyntax)
	}
	if _, err := digestHash(c.Algorithm); err != nil {
		return nil, err
	}
	if !haveQOP || !c.offersAuth() {
		return nil, ErrDigestQOP
	}
	return c, nil
}

func (c *Challenge) offersAuth() bool {
	for _, q := range c.QOP {
		if strings.EqualFold(q, "auth") {
			return true
		}
	}
	return false
}

// String formats c as a WWW-Authenticate value, as a relay sends it
// (RFC 4976 §7: qop-options quoted).
func (c *Challenge) String() string {
	var b strings.Builder
	b.WriteString("Digest realm=")
	b.WriteString(quoteDigest(c.Realm))
	b.WriteString(", nonce=")
	b.WriteString(quoteDigest(c.Nonce))
	if c.Opaque != "" {
		b.WriteString(", opaque=")
		b.WriteString(quoteDigest(c.Opaque))
	}
	if c.Algorithm != "" {
		b.WriteString(", algorithm=")
		b.WriteString(c.Algorithm)
	}
	if len(c.QOP) > 0 {
		b.WriteString(`, qop="`)
		b.WriteString(strings.Join(c.QOP, ","))
		b.WriteByte('"')
	}
	if c.Stale {
		b.WriteString(", stale=true")
	}
	for _, p := range c.Params {
		b.WriteString(", ")
		b.WriteString(p.Name)
		b.WriteByte('=')
		b.WriteString(quoteDigest(p.Value))
	}
	return b.String()
}

// Credentials are what a client proves to a relay: a username and password
// for the relay's realm.
type Credentials struct {
	Username string
	Password string
}

// Authorization is the value of an Authorization header in an AUTH request
// (RFC 4976 §4.4, §7, §9.1; RFC 2617 §3.2.2).
type Authorization struct {
	Username  string
	Realm     string
	Nonce     string
	URI       string // the rightmost To-Path URI (RFC 4976 §9.1)
	Response  string // request-digest, lowercase hex
	Algorithm string // as in the challenge; "" means MD5
	Cnonce    string
	Opaque    string
	QOP       string // always "auth" when built by Authorize
	NC        uint32 // nonce-count
	Params    []DigestParam
}

// Authorize answers the challenge c for an AUTH request whose rightmost
// To-Path URI is uri (RFC 4976 §9.1), with nonce-count nc (1 for the first
// use of a nonce) and client nonce cnonce; an empty cnonce is replaced by
// 64 random bits in hex.
func (c *Challenge) Authorize(cred Credentials, uri string, nc uint32, cnonce string) (*Authorization, error) {
	if !c.offersAuth() {
		return nil, ErrDigestQOP
	}
	if nc == 0 {
		return nil, fmt.Errorf("%w: nonce-count 0", ErrDigestValue)
	}
	if cnonce == "" {
		cnonce = NewCnonce()
	}
	a := &Authorization{
		Username:  cred.Username,
		Realm:     c.Realm,
		Nonce:     c.Nonce,
		URI:       uri,
		Algorithm: c.Algorithm,
		Cnonce:    cnonce,
		Opaque:    c.Opaque,
		QOP:       "auth",
		NC:        nc,
	}
	for _, f := range [...]struct{ name, v string }{
		{"username", a.Username}, {"realm", a.Realm}, {"nonce", a.Nonce},
		{"uri", a.URI}, {"cnonce", a.Cnonce}, {"opaque", a.Opaque},
	} {
		if !validDigestQuoted(f.v) {
			return nil, fmt.Errorf("%w: %s %q", ErrDigestValue, f.name, f.v)
		}
	}
	resp, err := a.digest(cred.Password, MethodAUTH)
	if err != nil {
		return nil, err
	}
	a.Response = resp
	return a, nil
}

// NewCnonce returns a fresh client nonce: 64 random bits in lowercase hex.
func NewCnonce() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b[:])
}

// digest computes KD(H(A1), nonce:nc:cnonce:qop:H(A2)) with
// A2 = method ":" uri (RFC 2617 §3.2.2.1, §3.2.2.3). An empty method gives
// the rspauth of §3.2.3.
func (a *Authorization) digest(password, method string) (string, error) {
	h, err := digestHash(a.Algorithm)
	if err != nil {
		return "", err
	}
	ha1 := hashHex(h, a.Username, ":", a.Realm, ":", password)
	ha2 := hashHex(h, method, ":", a.URI)
	return hashHex(h, ha1, ":", a.Nonce, ":", formatNC(a.NC), ":", a.Cnonce, ":", a.QOP, ":", ha2), nil
}

// Check verifies, as a relay does, that a.Response is right for password
// and the AUTH method (RFC 4976 §6.3). It does not check the nonce's
// freshness or the nonce-count: that is the relay's nonce store's job.
func (a *Authorization) Check(password string) error {
	if !strings.EqualFold(a.QOP, "auth") {
		return ErrDigestQOP
	}
	want, err := a.digest(password, MethodAUTH)
	if err != nil {
		return err
	}
	if subtle.ConstantTimeCompare([]byte(want), []byte(strings.ToLower(a.Response))) != 1 {
		return fmt.Errorf("%w: response", ErrDigestMismatch)
	}
	return nil
}

// ResponseAuth returns the rspauth a relay puts in Authentication-Info for
// these credentials (RFC 2617 §3.2.3: A2 = ":" digest-uri).
func (a *Authorization) ResponseAuth(password string) (string, error) {
	return a.digest(password, "")
}

// VerifyResponseAuth checks the Authentication-Info of a 200 response to
// the AUTH request that carried a: rspauth must be the digest of the
// relay's knowledge of password, and cnonce, nc and qop, when present,
// must echo a's (RFC 4976 §9.1, RFC 2617 §3.2.3). This authenticates a
// relay the client is not directly connected to (RFC 4976 §9.4).
func (a *Authorization) VerifyResponseAuth(info *AuthenticationInfo, password string) error {
	if info.RspAuth == "" {
		return fmt.Errorf("%w: Authentication-Info without rspauth", ErrDigestSyntax)
	}
	if info.Cnonce != "" && info.Cnonce != a.Cnonce {
		return fmt.Errorf("%w: Authentication-Info cnonce %q, sent %q", ErrDigestMismatch, info.Cnonce, a.Cnonce)
	}
	if info.HasNC && info.NC != a.NC {
		return fmt.Errorf("%w: Authentication-Info nc %s, sent %s", ErrDigestMismatch, formatNC(info.NC), formatNC(a.NC))
	}
	if info.QOP != "" && !strings.EqualFold(info.QOP, a.QOP) {
		return fmt.Errorf("%w: Authentication-Info qop %q, sent %q", ErrDigestMismatch, info.QOP, a.QOP)
	}
	want, err := a.ResponseAuth(password)
	if err != nil {
		return err
	}
	if subtle.ConstantTimeCompare([]byte(want), []byte(strings.ToLower(info.RspAuth))) != 1 {
		return fmt.Errorf("%w: rspauth", ErrDigestMismatch)
	}
	return nil
}

// ParseAuthorization parses the value of an Authorization header. It
// requires username, realm, nonce, uri and response, and, per RFC 4976
// §9.1, qop, cnonce and nc.
func ParseAuthorization(value string) (*Authorization, error) {
	params, err := parseDigestHeader(value, true)
	if err != nil {
		return nil, err
	}
	a := new(Authorization)
	seen := 0
	const (
		sUser = 1 << iota
		sRealm
		sNonce
		sURI
		sResponse
		sCnonce
		sQOP
		sNC
		sRequired = sUser | sRealm | sNonce | sURI | sResponse | sCnonce | sQOP | sNC
	)
	for _, p := range params {
		switch strings.ToLower(p.Name) {
		case "username":
			a.Username, seen = p.Value, seen|sUser
		case "realm":
			a.Realm, seen = p.Value, seen|sRealm
		case "nonce":
			a.Nonce, seen = p.Value, seen|sNonce
		case "uri":
			a.URI, seen = p.Value, seen|sURI
		case "response":
			if !isLowerHexDigest(p.Value) {
				return nil, fmt.Errorf("%w: response=%q", ErrDigestSyntax, p.Value)
			}
			a.Response, seen = p.Value, seen|sResponse
		case "algorithm":
			a.Algorithm = p.Value
		case "cnonce":
			a.Cnonce, seen = p.Value, seen|sCnonce
		case "opaque":
			a.Opaque = p.Value
		case "qop":
			a.QOP, seen = p.Value, seen|sQOP
		case "nc":
			n, err := parseNC(p.Value)
			if err != nil {
				return nil, err
			}
			a.NC, seen = n, seen|sNC
		default:
			a.Params = append(a.Params, p)
		}
	}
	if seen&sRequired != sRequired {
		return nil, fmt.Errorf("%w: Authorization lacks a required parameter (username, realm, nonce, uri, response, cnonce, qop, nc)", ErrDigestSyntax)
	}
	if _, err := digestHash(a.Algorithm); err != nil {
		return nil, err
	}
	return a, nil
}

// String formats a as an Authorization value: uri quoted (RFC 4976 §9.1),
// qop unquoted and nc as 8 hex digits (RFC 4976 §7).
func (a *Authorization) String() string {
	var b strings.Builder
	b.WriteString("Digest username=")
	b.WriteString(quoteDigest(a.Username))
	b.WriteString(", realm=")
	b.WriteString(quoteDigest(a.Realm))
	b.WriteString(", nonce=")
	b.WriteString(quoteDigest(a.Nonce))
	b.WriteString(", uri=")
	b.WriteString(quoteDigest(a.URI))
	b.WriteString(", response=")
	b.WriteString(quoteDigest(a.Response))
	if a.Algorithm != "" {
		b.WriteString(", algorithm=")
		b.WriteString(a.Algorithm)
	}
	b.WriteString(", cnonce=")
	b.WriteString(quoteDigest(a.Cnonce))
	if a.Opaque != "" {
		b.WriteString(", opaque=")
		b.WriteString(quoteDigest(a.Opaque))
	}
	b.WriteString(", qop=")
	if isDigestToken(a.QOP) {
		b.WriteString(a.QOP)
	} else {
		b.WriteString(quoteDigest(a.QOP))
	}
	b.WriteString(", nc=")
	b.WriteString(formatNC(a.NC))
	for _, p := range a.Params {
		b.WriteString(", ")
		b.WriteString(p.Name)
		b.WriteByte('=')
		b.WriteString(quoteDigest(p.Value))
	}
	return b.String()
}

// AuthenticationInfo is the value of an Authentication-Info header in a
// 200 response to AUTH (RFC 4976 §4.5, §7; RFC 2617 §3.2.3). Unlike the
// other two headers it has no scheme token.
type AuthenticationInfo struct {
	NextNonce string
	QOP       string
	RspAuth   string
	Cnonce    string
	NC        uint32
	HasNC     bool
	Params    []DigestParam
}

// ParseAuthenticationInfo parses an Authentication-Info value such as
//
//	nextnonce="40f2e879", rspauth="7327570c586207eca2afae94fc20903d", cnonce="0a4f113b", nc=00000001, qop="auth"
func ParseAuthenticationInfo(value string) (*AuthenticationInfo, error) {
	params, err := parseDigestHeader(value, false)
	if err != nil {
		return nil, err
	}
	info := new(AuthenticationInfo)
	for _, p := range params {
		switch strings.ToLower(p.Name) {
		case "nextnonce":
			info.NextNonce = p.Value
		case "qop":
			info.QOP = p.Value
		case "rspauth":
			if p.Value != "" && !isHexString(p.Value) {
				return nil, fmt.Errorf("%w: rspauth=%q", ErrDigestSyntax, p.Value)
			}
			info.RspAuth = p.Value
		case "cnonce":
			info.Cnonce = p.Value
		case "nc":
			n, err := parseNC(p.Value)
			if err != nil {
				return nil, err
			}
			info.NC, info.HasNC = n, true
		default:
			info.Params = append(info.Params, p)
		}
	}
	return info, nil
}

// String formats info as an Authentication-Info value, comma-separated as
// RFC 4976 §9.1 requires.
func (info *AuthenticationInfo) String() string {
	var parts []string
	if info.NextNonce != "" {
		parts = append(parts, "nextnonce="+quoteDigest(info.NextNonce))
	}
	if info.RspAuth != "" {
		parts = append(parts, "rspauth="+quoteDigest(info.RspAuth))
	}
	if info.Cnonce != "" {
		parts = append(parts, "cnonce="+quoteDigest(info.Cnonce))
	}
	if info.HasNC {
		parts = append(parts, "nc="+formatNC(info.NC))
	}
	if info.QOP != "" {
		parts = append(parts, "qop="+quoteDigest(info.QOP))
	}
	for _, p := range info.Params {
		parts = append(parts, p.Name+"="+quoteDigest(p.Value))
	}
	return strings.Join(parts, ", ")
}

// parseDigestHeader is the one scanner of the three digest headers. With
// scheme it reads "Digest" followed by the parameters, as in
// WWW-Authenticate and Authorization (a Basic scheme is refused with
// ErrDigestBasic, any other with ErrDigestScheme); without, the bare
// parameters of Authentication-Info. The parameters are a comma-separated
// list of token "=" (token / quoted-string) pairs (RFC 2617 §1.2
// auth-param), with linear white space tolerated around the separators.
// Quoted-strings may use RFC 2616 quoted-pairs. Names may not repeat (RFC
// 2617 §3.2.1 "each directive may appear only once"). The value is at most
// maxDigestHeaderLen octets and holds at most maxDigestParams parameters.
func parseDigestHeader(value string, scheme bool) ([]DigestParam, error) {
	if len(value) > maxDigestHeaderLen {
		return nil, fmt.Errorf("%w: value longer than %d bytes", ErrDigestSyntax, maxDigestHeaderLen)
	}
	s := value
	if scheme {
		v := strings.TrimLeft(value, " \t")
		i := digestTokenEnd(v, 0)
		if i == 0 {
			return nil, fmt.Errorf("%w: no authentication scheme", ErrDigestSyntax)
		}
		name, rest := v[:i], v[i:]
		if rest != "" && rest[0] != ' ' && rest[0] != '\t' {
			return nil, fmt.Errorf("%w: bad authentication scheme", ErrDigestSyntax)
		}
		if !strings.EqualFold(name, "Digest") {
			if strings.EqualFold(name, "Basic") {
				return nil, ErrDigestBasic
			}
			return nil, fmt.Errorf("%w: %q", ErrDigestScheme, name)
		}
		s = rest
	}
	var out []DigestParam
	i := 0
	skipWS := func() {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
	}
	for {
		skipWS()
		if i == len(s) {
			break
		}
		if len(out) == maxDigestParams {
			return nil, fmt.Errorf("%w: more than %d parameters", ErrDigestSyntax, maxDigestParams)
		}
		start := i
		i = digestTokenEnd(s, i)
		if i == start {
			return nil, fmt.Errorf("%w: expected a parameter name at offset %d", ErrDigestSyntax, i)
		}
		name := s[start:i]
		skipWS()
		if i == len(s) || s[i] != '=' {
			return nil, fmt.Errorf("%w: parameter %q has no value", ErrDigestSyntax, name)
		}
		i++
		skipWS()
		var val string
		if i < len(s) && s[i] == '"' {
			i++
			var b strings.Builder
			closed := false
			for i < len(s) {
				c := s[i]
				switch {
				case c == '"':
					closed = true
					i++
				case c == '\\' && i+1 < len(s):
					// RFC 3261 §25.1 lets a quoted-pair carry a
					// control character; MSRP header values cannot
					// (RFC 4975 §9 utf8text), so neither may an
					// escaped one: it could never be sent back.
					if e := s[i+1]; e < 0x20 && e != '\t' || e == 0x7f {
						return nil, fmt.Errorf("%w: control character in %q", ErrDigestSyntax, name)
					}
					b.WriteByte(s[i+1])
					i += 2
					continue
				case c < 0x20 && c != '\t' || c == 0x7f:
					return nil, fmt.Errorf("%w: control character in %q", ErrDigestSyntax, name)
				default:
					b.WriteByte(c)
					i++
					continue
				}
				break
			}
			if !closed {
				return nil, fmt.Errorf("%w: unterminated quoted-string in %q", ErrDigestSyntax, name)
			}
			val = b.String()
		} else {
			start := i
			i = digestTokenEnd(s, i)
			if i == start {
				return nil, fmt.Errorf("%w: parameter %q has an empty value", ErrDigestSyntax, name)
			}
			val = s[start:i]
		}
		for _, p := range out {
			if strings.EqualFold(p.Name, name) {
				return nil, fmt.Errorf("%w: parameter %q repeated", ErrDigestSyntax, name)
			}
		}
		out = append(out, DigestParam{Name: name, Value: val})
		skipWS()
		if i == len(s) {
			break
		}
		if s[i] != ',' {
			return nil, fmt.Errorf("%w: expected ',' after %q", ErrDigestSyntax, name)
		}
		i++
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no parameters", ErrDigestSyntax)
	}
	return out, nil
}

// digestTokenEnd returns the end of the RFC 2616 token starting at s[i]
// (i itself when there is none).
func digestTokenEnd(s string, i int) int {
	for i < len(s) && isDigestTokenChar(s[i]) {
		i++
	}
	return i
}

// isDigestTokenChar reports whether c is an RFC 2616 token character.
func isDigestTokenChar(c byte) bool {
	if c <= ' ' || c >= 0x7f {
		return false
	}
	return !strings.ContainsRune("()<>@,;:\\\"/[]?={}", rune(c))
}

func isDigestToken(s string) bool {
	return s != "" && digestTokenEnd(s, 0) == len(s)
}

// validDigestQuoted reports whether s fits RFC 4976 §7's quoted-string
// (%x20-21 / %x23-7E) without escapes: no '"', no backslash (which RFC 2617
// peers would read as an escape), no controls, ASCII only.
func validDigestQuoted(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// quoteDigest quotes s, escaping '"' and '\' as RFC 2616 quoted-pairs so
// that String always round-trips through the parsers; Authorize refuses
// such values before they reach the wire.
func quoteDigest(s string) string {
	if !strings.ContainsAny(s, "\"\\") {
		return `"` + s + `"`
	}
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('"')
	return b.String()
}

func parseNC(s string) (uint32, error) {
	if len(s) != 8 || !isHexString(s) {
		return 0, fmt.Errorf("%w: nc=%q is not 8 hex digits", ErrDigestSyntax, s)
	}
	n, err := strconv.ParseUint(s, 16, 32)
	if err != nil {
		return 0, fmt.Errorf("%w: nc=%q", ErrDigestSyntax, s)
	}
	return uint32(n), nil
}

func formatNC(n uint32) string { return fmt.Sprintf("%08x", n) }

func isHexString(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return s != ""
}

// isLowerHexDigest accepts a request-digest: hex of an MD5 (32), SHA-256
// or SHA-512-256 (64) output. RFC 4976 §7 says lowercase; uppercase is
// tolerated on input.
func isLowerHexDigest(s string) bool {
	return (len(s) == 32 || len(s) == 64) && isHexString(s)
}

// digestHash maps an algorithm name to its hash (RFC 2617 §3.2.1, RFC 7616
// §3.4.2). "-sess" variants are refused (RFC 4976 §9.1).
func digestHash(alg string) (func() hash.Hash, error) {
	switch strings.ToUpper(alg) {
	case "", "MD5":
		return md5.New, nil
	case "SHA-256":
		return sha256.New, nil
	case "SHA-512-256":
		return sha512.New512_256, nil
	}
	if strings.HasSuffix(strings.ToUpper(alg), "-SESS") {
		return nil, fmt.Errorf("%w: %q (session variants are forbidden by RFC 4976 §9.1)", ErrDigestAlgorithm, alg)
	}
	return nil, fmt.Errorf("%w: %q", ErrDigestAlgorithm, alg)
}

func hashHex(newHash func() hash.Hash, parts ...string) string {
	h := newHash()
	for _, p := range parts {
		h.Write([]byte(p))
	}
	return hex.EncodeToString(h.Sum(nil))
}
