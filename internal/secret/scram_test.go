package secret

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"regexp"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// scramVerifierPattern matches PostgreSQL's stored SCRAM-SHA-256 format and
// captures iterations, salt, StoredKey and ServerKey.
var scramVerifierPattern = regexp.MustCompile(`^SCRAM-SHA-256\$([0-9]+):([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+):([A-Za-z0-9+/=]+)$`)

type parsedVerifier struct {
	iterations int
	salt       []byte
	storedKey  []byte
	serverKey  []byte
}

func parseVerifier(t *testing.T, verifier string) parsedVerifier {
	t.Helper()

	match := scramVerifierPattern.FindStringSubmatch(verifier)
	require.NotNil(t, match, "verifier %q does not match the PostgreSQL format", verifier)

	iterations, err := strconv.Atoi(match[1])
	require.NoError(t, err)

	decode := func(field string) []byte {
		t.Helper()
		decoded, err := base64.StdEncoding.DecodeString(field)
		require.NoError(t, err)
		return decoded
	}

	return parsedVerifier{
		iterations: iterations,
		salt:       decode(match[2]),
		storedKey:  decode(match[3]),
		serverKey:  decode(match[4]),
	}
}

func hmacSHA256(key []byte, message string) []byte {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(message))
	return mac.Sum(nil)
}

// TestSCRAMVerifierRFC7677Vector checks StoredKey and ServerKey against the
// SCRAM-SHA-256 exchange in RFC 7677 section 3. The RFC publishes ClientProof
// and ServerSignature only, so the test verifies them the way a server does:
// ServerSignature = HMAC(ServerKey, AuthMessage), and
// SHA-256(ClientProof XOR HMAC(StoredKey, AuthMessage)) = StoredKey.
func TestSCRAMVerifierRFC7677Vector(t *testing.T) {
	const (
		password        = "pencil"
		saltBase64      = "W22ZaJ0SNY7soEsUEjb6gQ=="
		iterations      = 4096
		clientProof     = "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
		serverSignature = "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="

		clientFirstBare         = "n=user,r=rOprNGfwEbeRWgbNEkqO"
		serverFirst             = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
		clientFinalWithoutProof = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
		authMessage             = clientFirstBare + "," + serverFirst + "," + clientFinalWithoutProof
	)

	salt, err := base64.StdEncoding.DecodeString(saltBase64)
	require.NoError(t, err)

	verifier, err := scramVerifier(password, salt, iterations)
	require.NoError(t, err)

	parsed := parseVerifier(t, verifier)
	require.Equal(t, iterations, parsed.iterations)
	require.Equal(t, salt, parsed.salt)

	wantServerSignature, err := base64.StdEncoding.DecodeString(serverSignature)
	require.NoError(t, err)
	require.Equal(t, wantServerSignature, hmacSHA256(parsed.serverKey, authMessage), "ServerKey does not reproduce the RFC's ServerSignature")

	proof, err := base64.StdEncoding.DecodeString(clientProof)
	require.NoError(t, err)
	clientSignature := hmacSHA256(parsed.storedKey, authMessage)
	require.Len(t, proof, len(clientSignature))

	clientKey := make([]byte, len(proof))
	for i := range proof {
		clientKey[i] = proof[i] ^ clientSignature[i]
	}
	recoveredStoredKey := sha256.Sum256(clientKey)
	require.Equal(t, parsed.storedKey, recoveredStoredKey[:], "StoredKey does not verify the RFC's ClientProof")
}

func TestSCRAMVerifierFormat(t *testing.T) {
	password, err := NewPassword()
	require.NoError(t, err)

	first, err := SCRAMVerifier(password)
	require.NoError(t, err)
	require.NotContains(t, first, password)

	parsed := parseVerifier(t, first)
	require.Equal(t, 4096, parsed.iterations)
	require.Len(t, parsed.salt, 16)
	require.Len(t, parsed.storedKey, sha256.Size)
	require.Len(t, parsed.serverKey, sha256.Size)

	second, err := SCRAMVerifier(password)
	require.NoError(t, err)
	require.NotEqual(t, first, second, "two verifiers of one password must use different salts")
}

func TestSCRAMVerifierRejectsInput(t *testing.T) {
	testCases := []struct {
		name       string
		password   string
		salt       []byte
		iterations int
		wantErr    string
	}{
		{
			name:       "empty password",
			password:   "",
			salt:       []byte("0123456789abcdef"),
			iterations: 4096,
			wantErr:    "compute SCRAM verifier: password is empty",
		},
		{
			name:       "non-ASCII password",
			password:   "pässword",
			salt:       []byte("0123456789abcdef"),
			iterations: 4096,
			wantErr:    "compute SCRAM verifier: password byte at offset 1 is not ASCII 0x01 to 0x7f, which is required because SASLprep normalization is not implemented",
		},
		{
			name:       "NUL in password",
			password:   "pass\x00word",
			salt:       []byte("0123456789abcdef"),
			iterations: 4096,
			wantErr:    "compute SCRAM verifier: password byte at offset 4 is not ASCII 0x01 to 0x7f, which is required because SASLprep normalization is not implemented",
		},
		{
			name:       "empty salt",
			password:   "pencil",
			salt:       nil,
			iterations: 4096,
			wantErr:    "compute SCRAM verifier: salt is empty",
		},
		{
			name:       "zero iterations",
			password:   "pencil",
			salt:       []byte("0123456789abcdef"),
			iterations: 0,
			wantErr:    "compute SCRAM verifier: iteration count is 0, want at least 1",
		},
	}

	for _, tc := range testCases {
		t.Run(tc.name, func(t *testing.T) {
			verifier, err := scramVerifier(tc.password, tc.salt, tc.iterations)
			require.EqualError(t, err, tc.wantErr)
			require.Empty(t, verifier)
		})
	}
}

func TestSCRAMVerifierRejectsNonASCII(t *testing.T) {
	verifier, err := SCRAMVerifier("pässword")
	require.ErrorContains(t, err, "is not ASCII")
	require.NotContains(t, err.Error(), "pässword")
	require.Empty(t, verifier)
}
