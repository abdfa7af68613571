package secret

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
)

// passwordBytes is the number of random bytes in a NewPassword result.
const passwordBytes = 32

// NewPassword returns a random password of 43 characters: 32 bytes from
// crypto/rand in unpadded base64url. Its alphabet (A-Z, a-z, 0-9, '-' and '_')
// needs no escaping in a URL userinfo or a SQL string literal, and it is
// ASCII, as SCRAMVerifier requires.
func NewPassword() (string, error) {
	raw := make([]byte, passwordBytes)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("generate password: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(raw), nil
}
