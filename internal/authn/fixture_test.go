package authn_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"maps"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"silo.dev/silo/internal/authn"
)

const (
	testIssuer      = "https://idp.example.test"
	testAudience    = "silo"
	testTokenIssuer = "silo"
	testLeeway      = 30 * time.Second
	testSubject     = "user-1"
	testTenantID    = "0b5e1f3c-7d2a-4c8e-9f10-2a3b4c5d6e7f"
)

// fixture holds the keys of one test: the HMAC keys, the identity
// provider's key pairs and the JWKS file that publishes them.
type fixture struct {
	cfg authn.Config

	rsaKey   *rsa.PrivateKey // kid "rsa-1", alg RS256
	edKey    ed25519.PrivateKey
	ecKey    *ecdsa.PrivateKey // kid "ec-1", alg ES256
	encKey   *rsa.PrivateKey   // kid "enc-1", use "enc"
	jwksJSON []byte
	jwksPath string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()

	f := &fixture{}
	var err error
	f.rsaKey, err = rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	_, f.edKey, err = ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	f.ecKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	f.encKey, err = rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)

	f.jwksJSON = jwksJSON(t, []jwkEntry{
		{key: &f.rsaKey.PublicKey, kid: "rsa-1", alg: jwkset.AlgRS256, use: jwkset.UseSig},
		{key: f.edKey.Public(), kid: "ed-1", alg: jwkset.AlgEdDSA, use: jwkset.UseSig},
		{key: &f.ecKey.PublicKey, kid: "ec-1", alg: jwkset.AlgES256},
		{key: &f.encKey.PublicKey, kid: "enc-1", alg: jwkset.AlgRS256, use: jwkset.UseEnc},
	})
	f.jwksPath = filepath.Join(t.TempDir(), "jwks.json")
	require.NoError(t, os.WriteFile(f.jwksPath, f.jwksJSON, 0o600))

	f.cfg = authn.Config{
		Issuer:      testIssuer,
		Audience:    testAudience,
		HMACKey:     randomKey(t),
		JWKSURL:     f.jwksPath,
		SigningKey:  randomKey(t),
		TokenIssuer: testTokenIssuer,
		Leeway:      testLeeway,
	}

	return f
}

func (f *fixture) verifier(t *testing.T) *authn.Verifier {
	t.Helper()

	return newVerifier(t, f.cfg)
}

func newVerifier(t *testing.T, cfg authn.Config) *authn.Verifier {
	t.Helper()

	v, err := authn.NewVerifier(t.Context(), cfg)
	require.NoError(t, err)

	return v
}

type jwkEntry struct {
	key any
	kid string
	alg jwkset.ALG
	use jwkset.USE
}

// jwksJSON returns the public JWKS document of entries.
func jwksJSON(t *testing.T, entries []jwkEntry) []byte {
	t.Helper()

	store := jwkset.NewMemoryStorage()
	for _, e := range entries {
		jwk, err := jwkset.NewJWKFromKey(e.key, jwkset.JWKOptions{
			Metadata: jwkset.JWKMetadataOptions{KID: e.kid, ALG: e.alg, USE: e.use},
		})
		require.NoError(t, err)
		require.NoError(t, store.KeyWrite(context.Background(), jwk))
	}
	raw, err := store.JSONPublic(context.Background())
	require.NoError(t, err)

	return raw
}

func randomKey(t *testing.T) []byte {
	t.Helper()

	key := make([]byte, 32)
	_, err := rand.Read(key)
	require.NoError(t, err)

	return key
}

// userClaims returns valid user token claims for the fixture.
func (f *fixture) userClaims() jwt.MapClaims {
	now := time.Now()

	return jwt.MapClaims{
		"iss": f.cfg.Issuer,
		"aud": f.cfg.Audience,
		"sub": testSubject,
		"iat": now.Unix(),
		"nbf": now.Unix(),
		"exp": now.Add(time.Hour).Unix(),
	}
}

// tenantClaims returns valid tenant-scoped token claims for the fixture.
func (f *fixture) tenantClaims() jwt.MapClaims {
	claims := f.userClaims()
	claims["iss"] = f.cfg.TokenIssuer
	claims["tid"] = testTenantID

	return claims
}

// with returns a copy of claims with key set to value, or removed when
// value is nil.
func with(claims jwt.MapClaims, key string, value any) jwt.MapClaims {
	out := maps.Clone(claims)
	if value == nil {
		delete(out, key)
	} else {
		out[key] = value
	}

	return out
}

// sign signs claims with method and key, adding kid to the header unless
// it is empty.
func sign(t *testing.T, method jwt.SigningMethod, key any, kid string, claims jwt.MapClaims) string {
	t.Helper()

	token := jwt.NewWithClaims(method, claims)
	if kid != "" {
		token.Header["kid"] = kid
	}
	signed, err := token.SignedString(key)
	require.NoError(t, err)

	return signed
}

// rawToken joins a header and claims JSON with a dummy signature, for
// tokens that no library would sign.
func rawToken(header, claims string) string {
	encode := base64.RawURLEncoding.EncodeToString

	return encode([]byte(header)) + "." + encode([]byte(claims)) + "." + encode([]byte("signature"))
}
