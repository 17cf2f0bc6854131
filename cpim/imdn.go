package cpim

import (
	"crypto/rand"
	"encoding/base64"
)

// NewMessageID returns a fresh value for the imdn.Message-ID header (RFC
// 5438 §6.3): 96 random bits from crypto/rand in base64url, 16 characters,
// all valid in a CPIM Token.
func NewMessageID() string {
	var b [12]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b[:])
}
