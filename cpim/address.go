package cpim

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Address is the value of a From, To or cc header (RFC 3862 §4.1–4.3):
// an optional formal name and a URI, written [Formal-name] <URI>.
// Name holds the decoded text (escapes resolved, quotes removed).
type Address struct {
	Name string
	URI  string
}

// ParseAddress parses a From, To or cc header value as it appears on the
// wire: `<im:pooh@100akerwood.com>`, `Winnie the Pooh <im:pooh@…>` (a
// Formal-name of tokens) or `"Pooh \"Bear\"" <im:pooh@…>` (a quoted String
// with escapes). It tolerates a missing space before '<', several spaces
// between tokens and, as a real-world deviation, a bare absolute URI with
// no angle brackets and no name.
func ParseAddress(s string) (Address, error) {
	s = strings.Trim(s, " ")
	if s == "" {
		return Address{}, fmt.Errorf("%w: empty value", ErrBadAddress)
	}
	var a Address
	rest := s
	switch {
	case s[0] == '"': // Formal-name = String (§3.6)
		end := -1
		for i := 1; i < len(s); i++ {
			if s[i] == '\\' {
				i++
				continue
			}
			if s[i] == '"' {
				end = i
				break
			}
		}
		if end < 0 {
			return Address{}, fmt.Errorf("%w: unterminated quoted name in %q", ErrBadAddress, s)
		}
		a.Name = unescape([]byte(s[1:end]))
		rest = strings.TrimLeft(s[end+1:], " ")
	case s[0] != '<':
		lt := strings.IndexByte(s, '<')
		if lt < 0 {
			// Deviation: a bare URI, e.g. "From: sip:alice@example.com".
			if validURI(s) {
				return Address{URI: s}, nil
			}
			return Address{}, fmt.Errorf("%w: no <URI> in %q", ErrBadAddress, s)
		}
		a.Name = unescape([]byte(strings.TrimRight(s[:lt], " "))) // Formal-name = 1*(Token SP)
		rest = s[lt:]
	}
	if len(rest) < 2 || rest[0] != '<' || rest[len(rest)-1] != '>' {
		return Address{}, fmt.Errorf("%w: want <URI> in %q", ErrBadAddress, s)
	}
	a.URI = rest[1 : len(rest)-1]
	if !validURI(a.URI) {
		return Address{}, fmt.Errorf("%w: bad URI %q", ErrBadAddress, a.URI)
	}
	return a, nil
}

// String returns the address in wire form: `<uri>` without a name, `Name
// <uri>` when the name is a sequence of tokens separated by single spaces,
// and `"Name" <uri>` with escapes otherwise (§3.6 Formal-name, §2.3.1).
func (a Address) String() string {
	return string(a.appendTo(nil))
}

func (a Address) appendTo(b []byte) []byte {
	switch {
	case a.Name == "":
	case isTokens(a.Name):
		b = append(b, a.Name...)
		b = append(b, ' ')
	default:
		b = append(b, '"')
		b = appendEscaped(b, a.Name, '"')
		b = append(b, '"', ' ')
	}
	b = append(b, '<')
	b = append(b, a.URI...)
	return append(b, '>')
}

func (a Address) validate() error {
	if !validURI(a.URI) {
		return fmt.Errorf("%w: address URI %q is not an absolute URI", ErrInvalid, a.URI)
	}
	if !utf8.ValidString(a.Name) {
		return fmt.Errorf("%w: address name is not UTF-8", ErrInvalid)
	}
	return nil
}

// isTokens reports whether s is 1*(Token SP) without the final SP: tokens
// of TOKENCHAR separated by single spaces (§3.6).
func isTokens(s string) bool {
	if s == "" || !utf8.ValidString(s) {
		return false
	}
	prevSP := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == ' ' {
			if prevSP {
				return false
			}
			prevSP = true
			continue
		}
		if !isTokenChar(c) {
			return false
		}
		prevSP = false
	}
	return !prevSP
}

// validURI is a light check for an absolute URI (RFC 3986 §4.3): a scheme
// (ALPHA *(ALPHA / DIGIT / "+" / "-" / ".")), a colon, and no space,
// control character, angle bracket, double quote or backslash (which
// would start an escape, §2.3) anywhere.
func validURI(s string) bool {
	colon := -1
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c == 0x7f || c == '<' || c == '>' || c == '"' || c == '\\' {
			return false
		}
		if colon < 0 {
			switch {
			case c == ':':
				if i == 0 {
					return false
				}
				colon = i
			case isAlpha(c), i > 0 && (isDigit(c) || c == '+' || c == '-' || c == '.'):
			default:
				return false
			}
		}
	}
	return colon > 0
}

func isAlpha(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// isNameChar reports NAMECHAR (§3.6): US-ASCII except '.', CTLs and
// SEPARATORS.
func isNameChar(c byte) bool {
	return nameChars[c]
}

// isTokenChar reports TOKENCHAR (§3.6): NAMECHAR, '.', or a UTF-8 octet of
// a non-ASCII character.
func isTokenChar(c byte) bool {
	return nameChars[c] || c == '.' || c >= 0x80
}

var nameChars = func() (t [256]bool) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for _, c := range "!#$%&'*+-^_`|~" {
		t[c] = true
	}
	return t
}()
