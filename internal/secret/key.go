package secret

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
)

// KeySize is the length of a Key in bytes.
const KeySize = 32

// Key is an AES-256 key. Its String method returns the key material, so a
// Key must never be logged or put in an error message.
type Key [KeySize]byte

// ParseKey decodes a key from standard base64 (with padding) of exactly
// KeySize bytes. Its errors never contain s.
func ParseKey(s string) (Key, error) {
	var k Key

	decoded, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return k, errors.New("parse key: value is not valid standard base64")
	}
	if len(decoded) != KeySize {
		return k, fmt.Errorf("parse key: decoded length is %d bytes, want %d", len(decoded), KeySize)
	}

	copy(k[:], decoded)
	return k, nil
}

// NewKey returns a key read from crypto/rand.
func NewKey() (Key, error) {
	var k Key
	if _, err := rand.Read(k[:]); err != nil {
		return Key{}, fmt.Errorf("generate key: %w", err)
	}
	return k, nil
}

// String returns the key in standard base64, the form that ParseKey accepts.
// silo calls it only to write a newly generated key for a development data
// folder.
func (k Key) String() string {
	return base64.StdEncoding.EncodeToString(k[:])
}
