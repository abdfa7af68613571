package secret

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
)

const (
	// scramIterations is the PBKDF2 iteration count. It is PostgreSQL's
	// default, and RFC 7677 names 4096 as the minimum.
	scramIterations = 4096

	// scramSaltSize is the salt length in bytes, the one PostgreSQL uses.
	scramSaltSize = 16
)

// SCRAMVerifier returns the SCRAM-SHA-256 verifier of password in the format
// that PostgreSQL stores in pg_authid.rolpassword:
//
//	SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>
//
// with 4096 iterations, a random 16-byte salt and standard base64 for the
// binary fields, as defined by RFC 5802 and RFC 7677. A role created WITH
// PASSWORD '<verifier>' can log in with password, and the password itself
// never reaches the server.
//
// The password is not SASLprep-normalized. PostgreSQL and pgx leave an ASCII
// password unchanged, so the verifier matches only for ASCII, and
// SCRAMVerifier rejects an empty password, a NUL byte or any byte above 0x7F.
// NewPassword returns ASCII.
func SCRAMVerifier(password string) (string, error) {
	salt := make([]byte, scramSaltSize)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("compute SCRAM verifier: generate salt: %w", err)
	}

	return scramVerifier(password, salt, scramIterations)
}

// scramVerifier is SCRAMVerifier with a given salt and iteration count, so that
// tests can compare against a known vector.
func scramVerifier(password string, salt []byte, iterations int) (string, error) {
	if err := validateSCRAMPassword(password); err != nil {
		return "", fmt.Errorf("compute SCRAM verifier: %w", err)
	}
	if len(salt) == 0 {
		return "", errors.New("compute SCRAM verifier: salt is empty")
	}
	if iterations < 1 {
		return "", fmt.Errorf("compute SCRAM verifier: iteration count is %d, want at least 1", iterations)
	}

	saltedPassword, err := pbkdf2.Key(sha256.New, password, salt, iterations, sha256.Size)
	if err != nil {
		return "", fmt.Errorf("compute SCRAM verifier: derive salted password: %w", err)
	}

	clientKey := computeHMAC(saltedPassword, "Client Key")
	storedKey := sha256.Sum256(clientKey)
	serverKey := computeHMAC(saltedPassword, "Server Key")

	b64 := base64.StdEncoding
	return fmt.Sprintf("SCRAM-SHA-256$%d:%s$%s:%s",
		iterations,
		b64.EncodeToString(salt),
		b64.EncodeToString(storedKey[:]),
		b64.EncodeToString(serverKey),
	), nil
}

// validateSCRAMPassword rejects passwords that SASLprep might change or that
// PostgreSQL cannot receive. Its errors give a byte offset, never the password.
func validateSCRAMPassword(password string) error {
	if password == "" {
		return errors.New("password is empty")
	}

	for i := 0; i < len(password); i++ {
		c := password[i]
		if c == 0 || c > 0x7f {
			return fmt.Errorf("password byte at offset %d is not ASCII 0x01 to 0x7f, which is required because SASLprep normalization is not implemented", i)
		}
	}

	return nil
}

func computeHMAC(key []byte, message string) []byte {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(message))
	return mac.Sum(nil)
}
