package msrp

import "crypto/rand"

// Identifier generation (RFC 4975 §7.1, §7.1.1, §14.1) and the ident
// syntax shared by transaction identifiers and Message-IDs (§9):
//
//	ident      = ALPHANUM 3*31ident-char
//	ident-char = ALPHANUM / "." / "-" / "+" / "%" / "="

// idAlphabet is lowercase base32 (RFC 4648 without padding): 5 random
// bits per character, only ALPHANUM, hence valid in an ident, a
// session-id and a URI without escaping.
const idAlphabet = "abcdefghijklmnopqrstuvwxyz234567"

// randomID returns n characters carrying 5n random bits from crypto/rand.
func randomID(n int) string {
	var raw [32]byte
	b := raw[:n]
	rand.Read(b) // never returns an error (crypto/rand, Go ≥ 1.24)
	for i := range b {
		b[i] = idAlphabet[b[i]&31]
	}
	return string(b)
}

// NewSessionID returns a fresh session-id for an MSRP URI: 20 characters,
// 100 random bits (RFC 4975 §14.1 requires at least 80).
func NewSessionID() string { return randomID(20) }

// NewTransactionID returns a fresh transaction identifier: 14 characters,
// 70 random bits (RFC 4975 §7.1 requires at least 64).
func NewTransactionID() string { return randomID(14) }

// NewMessageID returns a fresh Message-ID: 20 characters, 100 random bits,
// "highly unlikely to be repeated" (RFC 4975 §7.1.1).
func NewMessageID() string { return randomID(20) }

// ValidIdent reports whether s is an ident (RFC 4975 §9): 4 to 32
// characters, the first alphanumeric, the rest alphanumeric or one of
// ". - + % =". Transaction identifiers and Message-IDs are idents.
func ValidIdent(s string) bool {
	return len(s) >= 4 && len(s) <= 32 && isAlnum(s[0]) && allIn(s, cIdent)
}

func validIdentBytes(s []byte) bool {
	if len(s) < 4 || len(s) > 32 || !isAlnum(s[0]) {
		return false
	}
	for _, c := range s[1:] {
		if !isIdentChar(c) {
			return false
		}
	}
	return true
}

// Character classes (RFC 4975 §9, RFC 3986 §2), one bit each in chars.
const (
	cAlpha      = 1 << iota // ALPHA
	cDigit                  // DIGIT
	cIdent                  // ident-char: ALPHANUM . - + % =
	cUnreserved             // RFC 3986 unreserved: ALPHANUM - . _ ~
	cSubDelim               // RFC 3986 sub-delims
	cToken                  // RFC 4975 token
	cText                   // utf8text octet: HTAB, SP..~, ≥ 0x80
	cSessionID              // session-id: unreserved + = / (and % escapes)
)

var chars = func() (t [256]uint8) {
	for c := 0; c < 256; c++ {
		b := byte(c)
		var m uint8
		if 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' {
			m |= cAlpha
		}
		if '0' <= b && b <= '9' {
			m |= cDigit
		}
		alnum := m&(cAlpha|cDigit) != 0
		if alnum || b == '.' || b == '-' || b == '+' || b == '%' || b == '=' {
			m |= cIdent
		}
		if alnum || b == '-' || b == '.' || b == '_' || b == '~' {
			m |= cUnreserved | cSessionID
		}
		if b == '+' || b == '=' || b == '/' {
			m |= cSessionID
		}
		switch b {
		case '!', '$', '&', '\'', '(', ')', '*', '+', ',', ';', '=':
			m |= cSubDelim
		}
		if b == 0x21 || 0x23 <= b && b <= 0x27 || b == 0x2a || b == 0x2b || b == 0x2d || b == 0x2e ||
			'0' <= b && b <= '9' || 'A' <= b && b <= 'Z' || 0x5e <= b && b <= 0x7e {
			m |= cToken
		}
		if b == '\t' || 0x20 <= b && b < 0x7f || b >= 0x80 {
			m |= cText
		}
		t[c] = m
	}
	return t
}()

func isAlpha(c byte) bool     { return chars[c]&cAlpha != 0 }
func isAlnum(c byte) bool     { return chars[c]&(cAlpha|cDigit) != 0 }
func isIdentChar(c byte) bool { return chars[c]&cIdent != 0 }

// allIn reports whether every octet of s has a class in mask.
func allIn(s string, mask uint8) bool {
	for i := 0; i < len(s); i++ {
		if chars[s[i]]&mask == 0 {
			return false
		}
	}
	return true
}
