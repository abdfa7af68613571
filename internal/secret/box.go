package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
)

// ErrDecrypt is returned, wrapped, by Box.Open for every input it cannot
// decrypt: a wrong key, altered bytes, wrong associated data, an unknown
// format version or a truncated value. The wrapping message contains no
// plaintext and no key material.
var ErrDecrypt = errors.New("decrypt failed")

const (
	// formatVersion is the first byte of every value that Seal returns.
	formatVersion byte = 1

	nonceSize = 12
	tagSize   = 16

	// minSealedSize is the length of a sealed empty plaintext.
	minSealedSize = 1 + nonceSize + tagSize
)

// Box encrypts and decrypts values with AES-256-GCM. A Box is safe for
// concurrent use.
type Box struct {
	aead cipher.AEAD
}

// NewBox returns a Box that uses k. It rejects the all-zero key because that
// value is almost always a Key that was never set.
func NewBox(k Key) (*Box, error) {
	if k == (Key{}) {
		return nil, errors.New("create box: invalid key: all 32 bytes are zero, which usually means the key was never set")
	}

	block, err := aes.NewCipher(k[:])
	if err != nil {
		return nil, fmt.Errorf("create box: %w", err)
	}

	aead, err := cipher.NewGCMWithNonceSize(block, nonceSize)
	if err != nil {
		return nil, fmt.Errorf("create box: %w", err)
	}

	return &Box{aead: aead}, nil
}

// Seal encrypts plaintext and authenticates it together with associatedData,
// which is not stored in the output. The output is the format version byte 1,
// a 12-byte random nonce, then the ciphertext with its 16-byte GCM tag.
//
// Callers bind a value to its row by passing the row's id as associatedData,
// so a value copied to another row fails to open. Nonces are random, so NIST
// SP 800-38D limits one key to 2^32 calls to Seal.
func (b *Box) Seal(plaintext, associatedData []byte) ([]byte, error) {
	sealed := make([]byte, 1+nonceSize, minSealedSize+len(plaintext))
	sealed[0] = formatVersion

	nonce := sealed[1 : 1+nonceSize]
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("seal: generate nonce: %w", err)
	}

	return b.aead.Seal(sealed, nonce, plaintext, associatedData), nil
}

// Open decrypts a value that Seal returned for the same associatedData. Every
// failure wraps ErrDecrypt.
func (b *Box) Open(sealed, associatedData []byte) ([]byte, error) {
	if len(sealed) < minSealedSize {
		return nil, fmt.Errorf("%w: sealed value is %d bytes, want at least %d", ErrDecrypt, len(sealed), minSealedSize)
	}
	if sealed[0] != formatVersion {
		return nil, fmt.Errorf("%w: unknown format version %d, want %d", ErrDecrypt, sealed[0], formatVersion)
	}

	nonce := sealed[1 : 1+nonceSize]
	ciphertext := sealed[1+nonceSize:]

	plaintext, err := b.aead.Open(nil, nonce, ciphertext, associatedData)
	if err != nil {
		// GCM cannot tell these causes apart, and its own error adds nothing.
		return nil, fmt.Errorf("%w: authentication failed, so the key, the associated data or the sealed bytes are wrong", ErrDecrypt)
	}

	return plaintext, nil
}
