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
	if len(s) < 4 || len(s) > 32 || !isAlnum(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !isIdentChar(s[i]) {
			return false
		}
	}
	return true
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

func isAlpha(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
func isAlnum(c byte) bool { return isAlpha(c) || isDigit(c) }

func isIdentChar(c byte) bool {
	return isAlnum(c) || c == '.' || c == '-' || c == '+' || c == '%' || c == '='
}
