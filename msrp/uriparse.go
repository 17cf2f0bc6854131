package msrp

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// MSRP URI syntax (RFC 4975 §6, §9; authority from RFC 3986 §3.2):
//
//	MSRP-URI   = msrp-scheme "://" authority ["/" session-id] ";" transport *( ";" URI-parameter)
//	msrp-scheme = "msrp" / "msrps"
//	session-id = 1*( unreserved / "+" / "=" / "/" )   ; as corrected in RFC 4975
//	transport  = "tcp" / 1*ALPHANUM
//	URI-parameter = token ["=" token]
//
// Parsing is strict where a wrong guess would misroute: the scheme, a
// numeric port in 1..65535, a well-formed IPv6 literal, a transport
// parameter, and no password in the userinfo (§6 MUST NOT). It is liberal
// where the grammar is defective: percent-encoded octets are accepted in
// the session-id, and an IP address without a port is accepted (§6 says it
// MUST have one; the dialler will then fail with a clear error).

// ParseURI parses one MSRP or MSRPS URI. The strings in the result are
// substrings of s (no copy); only Params allocates.
func ParseURI(s string) (URI, error) {
	var u URI
	if err := parseURIInto(&u, s); err != nil {
		return URI{}, fmt.Errorf("%w %q: %s", ErrBadURI, s, err.Error())
	}
	return u, nil
}

type uriError string

func (e uriError) Error() string { return string(e) }

// parseURIInto parses s into *up, which must be the zero URI.
func parseURIInto(up *URI, s string) error {
	u := up
	rest := s
	switch {
	case hasPrefixFold(rest, "msrp://"):
		rest = rest[len("msrp://"):]
	case hasPrefixFold(rest, "msrps://"):
		u.Secure = true
		rest = rest[len("msrps://"):]
	default:
		return uriError("scheme is not msrp:// or msrps://")
	}
	// authority ends at the session-id "/" or the transport ";"; note the
	// last "@" on the way.
	end, at := 0, -1
	for end < len(rest) && rest[end] != '/' && rest[end] != ';' {
		if rest[end] == '@' {
			at = end
		}
		end++
	}
	if end == len(rest) {
		return uriError("missing ;transport parameter")
	}
	auth := rest[:end]
	rest = rest[end:]
	if at >= 0 {
		u.User = auth[:at]
		auth = auth[at+1:]
		if err := checkUserinfo(u.User); err != nil {
			return err
		}
	}
	if err := parseHostPort(u, auth); err != nil {
		return err
	}
	if rest[0] == '/' {
		// session-id: validated while looking for the ";" that ends it.
		i := 1
		for i < len(rest) && rest[i] != ';' {
			c := rest[i]
			if chars[c]&cSessionID == 0 {
				if c != '%' || !pctAt(rest, i) {
					return uriError("malformed session-id")
				}
				i += 2
			}
			i++
		}
		if i >= len(rest) {
			return uriError("missing ;transport parameter")
		}
		if i == 1 {
			return uriError("malformed session-id")
		}
		u.SessionID = rest[1:i]
		rest = rest[i:]
	}
	// rest starts with ';'. transport = 1*ALPHANUM.
	i := 1
	for i < len(rest) && chars[rest[i]]&(cAlpha|cDigit) != 0 {
		i++
	}
	if i == 1 || i < len(rest) && rest[i] != ';' {
		return uriError("malformed transport parameter")
	}
	u.Transport, rest = rest[1:i], rest[i:]
	for rest != "" {
		rest = rest[1:] // ';'
		var p string
		if semi := strings.IndexByte(rest, ';'); semi < 0 {
			p, rest = rest, ""
		} else {
			p, rest = rest[:semi], rest[semi:]
		}
		if !validURIParam(p) {
			return uriError("malformed URI parameter")
		}
		u.Params = append(u.Params, p)
	}
	return nil
}

func parseHostPort(u *URI, auth string) error {
	var port string
	if strings.HasPrefix(auth, "[") {
		rb := strings.IndexByte(auth, ']')
		if rb < 0 {
			return uriError("unterminated IPv6 literal")
		}
		u.Host = auth[1:rb]
		if _, err := netip.ParseAddr(unescapeZone(u.Host)); err != nil || !strings.Contains(u.Host, ":") {
			return uriError("malformed IPv6 literal")
		}
		auth = auth[rb+1:]
		if auth != "" {
			if auth[0] != ':' {
				return uriError("junk after IPv6 literal")
			}
			port = auth[1:]
			if port == "" {
				return uriError("empty port")
			}
		}
	} else {
		// reg-name or IPv4address, validated up to the ":" of the port.
		i := 0
		for ; i < len(auth) && auth[i] != ':'; i++ {
			c := auth[i]
			if chars[c]&(cUnreserved|cSubDelim) == 0 || c == ';' {
				if c != '%' || !pctAt(auth, i) {
					return uriError("malformed host")
				}
				i += 2
			}
		}
		u.Host = auth[:i]
		if u.Host == "" {
			return uriError("empty host")
		}
		if i < len(auth) {
			port = auth[i+1:]
			if port == "" {
				return uriError("empty port")
			}
		}
	}
	if port != "" {
		if len(port) > 5 || !allDigits(port) {
			return uriError("malformed port")
		}
		n := 0
		for i := 0; i < len(port); i++ {
			n = n*10 + int(port[i]-'0')
		}
		if n < 1 || n > 65535 {
			return uriError("port out of range")
		}
		u.Port = n
	}
	return nil
}

// check reports whether the fields of u form a valid URI, without
// formatting it: what ParseURI(u.String()) would accept.
func (u URI) check() error {
	if u.User != "" {
		if err := checkUserinfo(u.User); err != nil {
			return err
		}
	}
	if strings.IndexByte(u.Host, ':') >= 0 {
		if _, err := netip.ParseAddr(unescapeZone(u.Host)); err != nil {
			return uriError("malformed IPv6 literal")
		}
	} else if u.Host == "" || !validRegName(u.Host) {
		return uriError("malformed host")
	}
	if u.Port < 0 || u.Port > 65535 {
		return uriError("port out of range")
	}
	if u.SessionID != "" && !validSessionID(u.SessionID) {
		return uriError("malformed session-id")
	}
	if u.Transport == "" || !allAlnum(u.Transport) {
		return uriError("malformed transport parameter")
	}
	for _, p := range u.Params {
		if !validURIParam(p) {
			return uriError("malformed URI parameter")
		}
	}
	return nil
}

// unescapeZone turns an RFC 6874 zone "%25" into the "%" netip expects.
func unescapeZone(h string) string {
	if i := strings.Index(h, "%25"); i >= 0 {
		return h[:i] + "%" + h[i+3:]
	}
	return h
}

func checkUserinfo(s string) error {
	if s == "" {
		return uriError("empty userinfo")
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ':':
			return uriError("userinfo must not contain a password") // §6
		case c == '%':
			if !pctAt(s, i) {
				return uriError("bad percent-encoding in userinfo")
			}
			i += 2
		case isUnreserved(c) || isSubDelim(c):
		default:
			return uriError("malformed userinfo")
		}
	}
	return nil
}

// validRegName accepts reg-name and IPv4address (RFC 3986 §3.2.2), except
// ";", which ends the authority in an MSRP URI.
func validRegName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case chars[c]&(cUnreserved|cSubDelim) != 0 && c != ';':
		case c == '%' && pctAt(s, i):
			i += 2
		default:
			return false
		}
	}
	return true
}

func validSessionID(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case chars[c]&cSessionID != 0:
		case c == '%' && pctAt(s, i):
			i += 2
		default:
			return false
		}
	}
	return true
}

func validURIParam(p string) bool {
	name, val, hasVal := strings.Cut(p, "=")
	if !isToken(name) {
		return false
	}
	return !hasVal || isToken(val)
}

func pctAt(s string, i int) bool {
	return i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2])
}

func isHex(c byte) bool {
	return isDigit(c) || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func isUnreserved(c byte) bool { return chars[c]&cUnreserved != 0 }
func isSubDelim(c byte) bool   { return chars[c]&cSubDelim != 0 }

// isTokenChar reports whether c is in token (RFC 4975 §9).
func isTokenChar(c byte) bool { return chars[c]&cToken != 0 }

func isToken(s string) bool   { return s != "" && allIn(s, cToken) }
func allAlnum(s string) bool  { return allIn(s, cAlpha|cDigit) }
func allDigits(s string) bool { return allIn(s, cDigit) }

// hasPrefixFold reports whether s begins with prefix, which is
// lowercase, ignoring ASCII case.
func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && (s[:len(prefix)] == prefix || equalFoldLower(s[:len(prefix)], prefix))
}

// ParsePath parses a To-Path or From-Path value or an SDP a=path value:
// one or more URIs separated by spaces (RFC 4975 §8.2, §9). Runs of spaces
// and surrounding spaces are tolerated.
func ParsePath(s string) ([]URI, error) {
	p, err := parsePathInto(nil, s)
	if err != nil {
		return nil, err
	}
	return p, nil
}

func parsePathInto(dst []URI, s string) ([]URI, error) {
	for {
		s = trimLeftSP(s)
		if s == "" {
			break
		}
		var one string
		if sp := strings.IndexByte(s, ' '); sp < 0 {
			one, s = s, ""
		} else {
			one, s = s[:sp], s[sp:]
		}
		n := len(dst)
		if n < cap(dst) {
			dst = dst[:n+1]
			dst[n] = URI{}
		} else {
			dst = append(dst, URI{})
		}
		if err := parseURIInto(&dst[n], one); err != nil {
			return dst[:n], fmt.Errorf("%w %q: %s", ErrBadURI, one, err.Error())
		}
	}
	if len(dst) == 0 {
		return dst, fmt.Errorf("%w: empty path", ErrBadURI)
	}
	return dst, nil
}

// String returns the URI in its wire form, e.g.
// "msrp://host.example.com:8493/asfd34;tcp". The scheme is lowercase; an
// IPv6 host is bracketed.
func (u URI) String() string { return string(u.AppendTo(nil)) }

// AppendTo appends the wire form of u to b.
func (u URI) AppendTo(b []byte) []byte {
	if u.Secure {
		b = append(b, "msrps://"...)
	} else {
		b = append(b, "msrp://"...)
	}
	if u.User != "" {
		b = append(b, u.User...)
		b = append(b, '@')
	}
	if strings.IndexByte(u.Host, ':') >= 0 {
		b = append(b, '[')
		b = append(b, u.Host...)
		b = append(b, ']')
	} else {
		b = append(b, u.Host...)
	}
	if u.Port != 0 {
		b = append(b, ':')
		b = strconv.AppendInt(b, int64(u.Port), 10)
	}
	if u.SessionID != "" {
		b = append(b, '/')
		b = append(b, u.SessionID...)
	}
	b = append(b, ';')
	b = append(b, u.Transport...)
	for _, p := range u.Params {
		b = append(b, ';')
		b = append(b, p...)
	}
	return b
}

// AppendPath appends the URIs of p separated by single spaces, the form of
// To-Path, From-Path and a=path values.
func AppendPath(b []byte, p []URI) []byte {
	for i, u := range p {
		if i > 0 {
			b = append(b, ' ')
		}
		b = u.AppendTo(b)
	}
	return b
}

// FormatPath returns the space-separated wire form of p.
func FormatPath(p []URI) string { return string(AppendPath(nil, p)) }

// HostPort returns the address to dial for u (RFC 4975 §6.2): "host:port",
// with an IPv6 host bracketed. Without an explicit port it returns the
// host alone (bracketed if IPv6): MSRP has no default port, so dialling
// such an address fails clearly.
func (u URI) HostPort() string {
	h := u.Host
	if strings.IndexByte(h, ':') >= 0 {
		h = "[" + unescapeZone(h) + "]"
	}
	if u.Port == 0 {
		return h
	}
	return h + ":" + strconv.Itoa(u.Port)
}

// Equal reports whether u and v identify the same resource under the
// comparison rules of RFC 4975 §6.1:
//
//  1. the scheme matches (Secure);
//  2. the host matches: IP addresses by address value (so IPv6 spellings
//     are normalised), names case-insensitively, both after decoding
//     percent-encoded octets; the userinfo is ignored;
//  3. the port matches exactly, and an explicit port never equals an
//     absent one;
//  4. the session-id matches case-sensitively, and a present one never
//     equals an absent one;
//  5. the transport matches case-insensitively.
//
// Other URI parameters are not compared, and no path normalisation is done.
func (u URI) Equal(v URI) bool {
	return u.Secure == v.Secure &&
		u.Port == v.Port &&
		u.SessionID == v.SessionID &&
		equalFoldASCII(u.Transport, v.Transport) &&
		hostEqual(u.Host, v.Host)
}

func hostEqual(a, b string) bool {
	if equalFoldASCII(a, b) {
		return true
	}
	a, b = pctDecode(a), pctDecode(b)
	if equalFoldASCII(a, b) {
		return true
	}
	ia, erra := netip.ParseAddr(a)
	ib, errb := netip.ParseAddr(b)
	return erra == nil && errb == nil && ia == ib
}

// pctDecode decodes %HH escapes; malformed escapes are kept as is.
func pctDecode(s string) string {
	if strings.IndexByte(s, '%') < 0 {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && pctAt(s, i) {
			b = append(b, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
			continue
		}
		b = append(b, s[i])
	}
	return string(b)
}

func unhex(c byte) byte {
	switch {
	case isDigit(c):
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}
