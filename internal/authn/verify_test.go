package authn_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"silo.dev/silo/internal/authn"
)

func TestVerifyAccepts(t *testing.T) {
	f := newFixture(t)
	v := f.verifier(t)
	now := time.Now()
	longSubject := strings.Repeat("é", 255)

	tests := []struct {
		name  string
		token func(t *testing.T) string
		want  authn.Principal
	}{
		{
			name: "hmac admin true",
			token: func(t *testing.T) string {
				return sign(t, jwt.SigningMethodHS256, f.cfg.HMACKey, "", with(f.userClaims(), "silo_admin", true))
			},
			want: authn.Principal{Subject: testSubject, Admin: true},
		},
		{
			name: "hmac admin false",
			token: func(t *testing.T) string {
				return sign(t, jwt.SigningMethodHS256, f.cfg.HMACKey, "", with(f.userClaims(), "silo_admin", false))
			},
			want: authn.Principal{Subject: testSubject},
		},
		{
			name: "hmac admin missing",
			token: func(t *testing.T) string {
				return sign(t, jwt.SigningMethodHS256, f.cfg.HMACKey, "", f.userClaims())
			},
			want: authn.Principal{Subject: testSubject},
		},
		{
			name: "hmac admin string true",
			token: func(t *testing.T) string {
				return sign(t, jwt.SigningMethodHS256, f.cfg.HMACKey, "", with(f.userClaims(), "silo_admin", "true"))
			},
			want: authn.Principal{Subject: testSubject},
		},
		{
			name: "hs512",
			token: func(t *testing.T) string {
				return sign(t, jwt.SigningMethodHS512, f.cfg.HMACKey, "", f.userClaims())
			},
			want: authn.Principal{Subject: testSubject},
		},
		{
			name: "hmac with unrelated kid",
			token: func(t *testing.T) string {
				return sign(t, jwt.SigningMethodHS256, f.cfg.HMACKey, "dev", f.userClaims())
			},
			want: authn.Principal{Subject: testSubject},
		},
		{
			name: "rs256 from jwks file",
			token: func(t *testing.T) string {
				return sign(t, jwt.SigningMethodRS256, f.rsaKey, "rsa-1", with(f.userClaims(), "silo_admin", true))
			},
			want: authn.Principal{Subject: testSubject, Admin: true},
		},
		{
			name: "eddsa from jwks file",
			token: func(t *testing.T) string {
				return sign(t, jwt.SigningMethodEdDSA, f.edKey, "ed-1", f.userClaims())
			},
			want: authn.Principal{Subject: testSubject},
		},
		{
			name: "es256 from jwks file",
			token: func(t *testing.T) string {
				return sign(t, jwt.SigningMethodES256, f.ecKey, "ec-1", f.userClaims())
			},
			want: authn.Principal{Subject: testSubject},
		},
		{
			name: "rs256 without kid",
			token: func(t *testing.T) string {
				return sign(t, jwt.SigningMethodRS256, f.rsaKey, "", f.userClaims())
			},
			want: authn.Principal{Subject: testSubject},
		},
		{
			name: "expired within leeway",
			token: func(t *testing.T) string {
				return sign(t, jwt.SigningMethodHS256, f.cfg.HMACKey, "", with(f.userClaims(), "exp", now.Add(-10*time.Second).Unix()))
			},
			want: authn.Principal{Subject: testSubject},
		},
		{
			name: "not before within leeway",
			token: func(t *testing.T) string {
				claims := with(f.userClaims(), "nbf", now.Add(10*time.Second).Unix())
				return sign(t, jwt.SigningMethodHS256, f.cfg.HMACKey, "", with(claims, "iat", now.Add(10*time.Second).Unix()))
			},
			want: authn.Principal{Subject: testSubject},
		},
		{
			name: "audience list",
			token: func(t *testing.T) string {
				return sign(t, jwt.SigningMethodHS256, f.cfg.HMACKey, "", with(f.userClaims(), "aud", []string{"other", testAudience}))
			},
			want: authn.Principal{Subject: testSubject},
		},
		{
			name: "subject of 255 characters",
			token: func(t *testing.T) string {
				return sign(t, jwt.SigningMethodHS256, f.cfg.HMACKey, "", with(f.userClaims(), "sub", longSubject))
			},
			want: authn.Principal{Subject: longSubject},
		},
		{
			name: "user token tid ignored",
			token: func(t *testing.T) string {
				return sign(t, jwt.SigningMethodHS256, f.cfg.HMACKey, "", with(f.userClaims(), "tid", testTenantID))
			},
			want: authn.Principal{Subject: testSubject},
		},
		{
			name: "tenant token",
			token: func(t *testing.T) string {
				return sign(t, jwt.SigningMethodHS256, f.cfg.SigningKey, "silo-tenant", f.tenantClaims())
			},
			want: authn.Principal{Subject: testSubject, TenantID: testTenantID},
		},
		{
			name: "tenant token admin claim ignored",
			token: func(t *testing.T) string {
				return sign(t, jwt.SigningMethodHS256, f.cfg.SigningKey, "silo-tenant", with(f.tenantClaims(), "silo_admin", true))
			},
			want: authn.Principal{Subject: testSubject, TenantID: testTenantID},
		},
	}

	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := v.Verify(tc.token(t))
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestVerifyRejects(t *testing.T) {
	f := newFixture(t)
	v := f.verifier(t)
	now := time.Now()
	otherRSA, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	otherEC, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)

	tests := []struct {
		name  string
		token func(t *testing.T) string
		check string
	}{
		{
			name:  "empty",
			token: func(*testing.T) string { return "" },
			check: "missing bearer token",
		},
		{
			name: "expired",
			token: func(t *testing.T) string {
				return sign(t, jwt.SigningMethodHS256, f.cfg.HMACKey, "", with(f.userClaims(), "exp", now.Add(-2*time.Minute).Unix()))
			},
			check: "token expired",
		},
		{
			name: "not valid yet",
			token: func(t *testing.T) string {
				return sign(t, jwt.SigningMethodHS256, f.cfg.HMACKey, "", with(f.userClaims(), "nbf", now.Add(2*time.Minute).Unix()))
			},
			check: "token not valid yet",
		},
		{
			name: "issued in the future",
			token: func(t *testing.T) string {
				return sign(t, jwt.SigningMethodHS256, f.cfg.HMACKey, "", with(f.userClaims(), "iat", now.Add(2*time.Minute).Unix()))
			},
			check: "token issued in the future",
		},
		{
			name: "missing exp",
			token: func(t *testing.T) string {
				return sign(t, jwt.SigningMethodHS256, f.cfg.HMACKey, "", with(f.userClaims(), "exp", nil))
			},
			check: "missing expiration time",
		},
		{
			name: "exp of wrong type",
			token: func(t *testing.T) string {
				return sign(t, jwt.SigningMethodHS256, f.cfg.HMACKey, "", with(f.userClaims(), "exp", "tomorrow"))
			},
			check: "invalid claims",
		},
		{
			name: "wrong issuer",
			token: func(t *testing.T) string {
				return sign(t, jwt.SigningMethodHS256, f.cfg.HMACKey, "", with(f.userClaims(), "iss", "https://evil.example.test"))
			},
			check: "wrong issuer",
		},
		{
			name: "missing issuer",
			token: func(t *testing.T) string {
				return sign(t, jwt.SigningMethodHS256, f.cfg.HMACKey, "", with(f.userClaims(), "iss", nil))
			},
			check: "wrong issuer",
		},
		{
			name: "wrong audience",
			token: func(t *testing.T) string {
				return sign(t, jwt.SigningMethodHS256, f.cfg.HMACKey, "", with(f.userClaims(), "aud", "billing"))
			},
			check: "wrong audience",
		},
		{
			name: "missing audience",
			token: func(t *testing.T) string {
				return sign(t, jwt.SigningMethodRS256, f.rsaKey, "rsa-1", with(f.userClaims(), "aud", nil))
			},
			check: "wrong audience",
		},
		{
			name: "wrong hmac key",
			token: func(t *testing.T) string {
				return sign(t, jwt.SigningMethodHS256, randomKey(t), "", f.userClaims())
			},
			check: "signature invalid",
		},
		{
			name: "wrong rsa key",
			token: func(t *testing.T) string {
				return sign(t, jwt.SigningMethodRS256, otherRSA, "rsa-1", f.userClaims())
			},
			check: "signature invalid",
		},
		{
			name: "wrong rsa key without kid",
			token: func(t *testing.T) string {
				return sign(t, jwt.SigningMethodRS256, otherRSA, "", f.userClaims())
			},
			check: "signature invalid",
		},
		{
			name: "wrong ec key",
			token: func(t *testing.T) string {
				return sign(t, jwt.SigningMethodES256, otherEC, "ec-1", f.userClaims())
			},
			check: "signature invalid",
		},
		{
			name: "alg none",
			token: func(t *testing.T) string {
				return sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "", f.userClaims())
			},
			check: "algorithm none not allowed",
		},
		{
			name: "alg none with tenant kid",
			token: func(t *testing.T) string {
				return sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "silo-tenant", f.tenantClaims())
			},
			check: "algorithm none not allowed",
		},
		{
			name: "es512 not allowed",
			token: func(t *testing.T) string {
				key, err := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
				require.NoError(t, err)
				return sign(t, jwt.SigningMethodES512, key, "", f.userClaims())
			},
			check: "algorithm ES512 not allowed",
		},
		{
			name:  "unknown algorithm",
			token: func(*testing.T) string { return rawToken(`{"alg":"XS999<script>"}`, `{"sub":"x"}`) },
			check: "unsupported algorithm",
		},
		{
			name: "algorithm not allowed by key",
			token: func(t *testing.T) string {
				return sign(t, jwt.SigningMethodRS384, f.rsaKey, "rsa-1", f.userClaims())
			},
			check: "algorithm RS384 not allowed",
		},
		{
			name: "encryption key",
			token: func(t *testing.T) string {
				return sign(t, jwt.SigningMethodRS256, f.encKey, "enc-1", f.userClaims())
			},
			check: "key not for signatures",
		},
		{
			name: "no key for algorithm without kid",
			token: func(t *testing.T) string {
				return sign(t, jwt.SigningMethodPS256, f.rsaKey, "", f.userClaims())
			},
			check: "no matching key",
		},
		{
			name: "hs256 signed with rsa public key",
			token: func(t *testing.T) string {
				return sign(t, jwt.SigningMethodHS256, publicKeyPEM(t, &f.rsaKey.PublicKey), "rsa-1", f.userClaims())
			},
			check: "signature invalid",
		},
		{
			name: "unknown kid",
			token: func(t *testing.T) string {
				return sign(t, jwt.SigningMethodRS256, f.rsaKey, "rsa-9", f.userClaims())
			},
			check: "unknown key id",
		},
		{
			name:  "malformed segments",
			token: func(*testing.T) string { return "not-a-token" },
			check: "malformed token",
		},
		{
			name:  "malformed header",
			token: func(*testing.T) string { return "e30K!.e30.e30" },
			check: "malformed token",
		},
		{
			name:  "malformed claims",
			token: func(*testing.T) string { return rawToken(`{"alg":"HS256"}`, `not json`) },
			check: "malformed token",
		},
		{
			name:  "kid not a string",
			token: func(*testing.T) string { return rawToken(`{"alg":"HS256","kid":7}`, `{}`) },
			check: "malformed token",
		},
		{
			name:  "too large",
			token: func(*testing.T) string { return strings.Repeat("a", 17<<10) },
			check: "token too large",
		},
		{
			name: "critical header",
			token: func(t *testing.T) string {
				token := jwt.NewWithClaims(jwt.SigningMethodHS256, f.userClaims())
				token.Header["crit"] = []string{"exp"}
				signed, err := token.SignedString(f.cfg.HMACKey)
				require.NoError(t, err)
				return signed
			},
			check: "unsupported critical header",
		},
		{
			name: "missing subject",
			token: func(t *testing.T) string {
				return sign(t, jwt.SigningMethodHS256, f.cfg.HMACKey, "", with(f.userClaims(), "sub", nil))
			},
			check: "missing subject",
		},
		{
			name: "empty subject",
			token: func(t *testing.T) string {
				return sign(t, jwt.SigningMethodHS256, f.cfg.HMACKey, "", with(f.userClaims(), "sub", ""))
			},
			check: "missing subject",
		},
		{
			name: "subject of 256 characters",
			token: func(t *testing.T) string {
				return sign(t, jwt.SigningMethodHS256, f.cfg.HMACKey, "", with(f.userClaims(), "sub", strings.Repeat("a", 256)))
			},
			check: "invalid subject",
		},
		{
			name: "subject with control character",
			token: func(t *testing.T) string {
				return sign(t, jwt.SigningMethodHS256, f.cfg.HMACKey, "", with(f.userClaims(), "sub", "user\x07one"))
			},
			check: "invalid subject",
		},
		{
			name: "subject not a string",
			token: func(t *testing.T) string {
				return sign(t, jwt.SigningMethodHS256, f.cfg.HMACKey, "", with(f.userClaims(), "sub", 42))
			},
			check: "invalid subject",
		},
		{
			name: "tenant token without tid",
			token: func(t *testing.T) string {
				return sign(t, jwt.SigningMethodHS256, f.cfg.SigningKey, "silo-tenant", with(f.tenantClaims(), "tid", nil))
			},
			check: "missing tenant id",
		},
		{
			name: "tenant token with non-uuid tid",
			token: func(t *testing.T) string {
				return sign(t, jwt.SigningMethodHS256, f.cfg.SigningKey, "silo-tenant", with(f.tenantClaims(), "tid", "tenant-1"))
			},
			check: "invalid tenant id",
		},
		{
			name: "tenant token with uppercase tid",
			token: func(t *testing.T) string {
				return sign(t, jwt.SigningMethodHS256, f.cfg.SigningKey, "silo-tenant", with(f.tenantClaims(), "tid", strings.ToUpper(testTenantID)))
			},
			check: "invalid tenant id",
		},
		{
			name: "tenant token with nil uuid tid",
			token: func(t *testing.T) string {
				return sign(t, jwt.SigningMethodHS256, f.cfg.SigningKey, "silo-tenant", with(f.tenantClaims(), "tid", "00000000-0000-0000-0000-000000000000"))
			},
			check: "invalid tenant id",
		},
		{
			name: "tenant kid with user issuer",
			token: func(t *testing.T) string {
				return sign(t, jwt.SigningMethodHS256, f.cfg.SigningKey, "silo-tenant", with(f.userClaims(), "tid", testTenantID))
			},
			check: "wrong issuer",
		},
		{
			name: "tenant token signed with user hmac key",
			token: func(t *testing.T) string {
				return sign(t, jwt.SigningMethodHS256, f.cfg.HMACKey, "silo-tenant", f.tenantClaims())
			},
			check: "signature invalid",
		},
		{
			name: "tenant issuer without tenant kid",
			token: func(t *testing.T) string {
				return sign(t, jwt.SigningMethodHS256, f.cfg.HMACKey, "", f.tenantClaims())
			},
			check: "wrong issuer",
		},
		{
			name: "tenant kid with hs512",
			token: func(t *testing.T) string {
				return sign(t, jwt.SigningMethodHS512, f.cfg.SigningKey, "silo-tenant", f.tenantClaims())
			},
			check: "algorithm HS512 not allowed",
		},
		{
			name: "tenant kid with rs256",
			token: func(t *testing.T) string {
				return sign(t, jwt.SigningMethodRS256, f.rsaKey, "silo-tenant", f.tenantClaims())
			},
			check: "algorithm RS256 not allowed",
		},
	}

	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			token := tc.token(t)

			_, err := v.Verify(token)
			requireCheck(t, err, tc.check, token)
		})
	}
}

// requireCheck asserts that err is an *authn.Error for check whose message
// contains no part of token.
func requireCheck(t *testing.T, err error, check, token string) {
	t.Helper()

	require.Error(t, err)
	var authErr *authn.Error
	require.ErrorAs(t, err, &authErr)
	require.Equal(t, check, authErr.Check)
	require.Contains(t, err.Error(), check)
	if token != "" {
		require.NotContains(t, err.Error(), token)
		for part := range strings.SplitSeq(token, ".") {
			if len(part) > 8 {
				require.NotContains(t, err.Error(), part)
			}
		}
	}
}

func TestVerifyKeyConfusion(t *testing.T) {
	f := newFixture(t)
	jwksOnly := f.cfg
	jwksOnly.HMACKey = nil
	hmacOnly := f.cfg
	hmacOnly.JWKSURL = ""

	tests := []struct {
		name  string
		cfg   authn.Config
		token func(t *testing.T) string
		check string
	}{
		{
			name: "hs256 over public key with jwks only",
			cfg:  jwksOnly,
			token: func(t *testing.T) string {
				return sign(t, jwt.SigningMethodHS256, publicKeyPEM(t, &f.rsaKey.PublicKey), "rsa-1", f.userClaims())
			},
			check: "algorithm HS256 not allowed",
		},
		{
			name: "hs256 over jwks document with jwks only",
			cfg:  jwksOnly,
			token: func(t *testing.T) string {
				return sign(t, jwt.SigningMethodHS256, f.jwksJSON, "", f.userClaims())
			},
			check: "algorithm HS256 not allowed",
		},
		{
			name: "rs256 with hmac only",
			cfg:  hmacOnly,
			token: func(t *testing.T) string {
				return sign(t, jwt.SigningMethodRS256, f.rsaKey, "rsa-1", f.userClaims())
			},
			check: "algorithm RS256 not allowed",
		},
	}

	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := newVerifier(t, tc.cfg)
			token := tc.token(t)

			_, err := v.Verify(token)
			requireCheck(t, err, tc.check, token)
		})
	}
}

func TestVerifyConcurrent(t *testing.T) {
	f := newFixture(t)
	v := f.verifier(t)
	tokens := []string{
		sign(t, jwt.SigningMethodHS256, f.cfg.HMACKey, "", f.userClaims()),
		sign(t, jwt.SigningMethodRS256, f.rsaKey, "rsa-1", f.userClaims()),
		sign(t, jwt.SigningMethodEdDSA, f.edKey, "ed-1", f.userClaims()),
		sign(t, jwt.SigningMethodHS256, f.cfg.SigningKey, "silo-tenant", f.tenantClaims()),
	}

	var wg sync.WaitGroup
	errs := make(chan error, 8*len(tokens))
	for range 8 {
		for _, token := range tokens {
			wg.Go(func() {
				_, err := v.Verify(token)
				errs <- err
			})
		}
	}
	wg.Wait()
	close(errs)

	for err := range errs {
		require.NoError(t, err)
	}
}

func TestVerifyCustomAdminClaim(t *testing.T) {
	f := newFixture(t)
	f.cfg.AdminClaim = "https://silo.example.test/admin"
	v := f.verifier(t)

	tests := []struct {
		name   string
		claims jwt.MapClaims
		admin  bool
	}{
		{name: "custom claim true", claims: with(f.userClaims(), f.cfg.AdminClaim, true), admin: true},
		{name: "default claim ignored", claims: with(f.userClaims(), "silo_admin", true), admin: false},
	}

	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := v.Verify(sign(t, jwt.SigningMethodHS256, f.cfg.HMACKey, "", tc.claims))
			require.NoError(t, err)
			require.Equal(t, tc.admin, got.Admin)
		})
	}
}

// jwksServer serves a JWKS document that a test can replace, and counts
// the requests.
type jwksServer struct {
	mu       sync.Mutex
	document []byte
	requests atomic.Int64
}

func (s *jwksServer) set(document []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.document = document
}

func (s *jwksServer) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	s.requests.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(s.document)
}

func TestVerifyJWKSURL(t *testing.T) {
	f := newFixture(t)
	keys := &jwksServer{document: f.jwksJSON}
	server := httptest.NewServer(keys)
	t.Cleanup(server.Close)

	f.cfg.JWKSURL = server.URL + "/jwks.json"
	v := f.verifier(t)
	require.Equal(t, int64(1), keys.requests.Load(), "NewVerifier fetches the JWKS once")

	t.Run("rs256 accepted", func(t *testing.T) {
		got, err := v.Verify(sign(t, jwt.SigningMethodRS256, f.rsaKey, "rsa-1", f.userClaims()))
		require.NoError(t, err)
		require.Equal(t, authn.Principal{Subject: testSubject}, got)
	})

	t.Run("eddsa accepted", func(t *testing.T) {
		got, err := v.Verify(sign(t, jwt.SigningMethodEdDSA, f.edKey, "ed-1", f.userClaims()))
		require.NoError(t, err)
		require.Equal(t, authn.Principal{Subject: testSubject}, got)
	})

	t.Run("rotated key found by refresh", func(t *testing.T) {
		rotated, err := rsa.GenerateKey(rand.Reader, 2048)
		require.NoError(t, err)
		keys.set(jwksJSON(t, []jwkEntry{{key: &rotated.PublicKey, kid: "rsa-2", alg: jwkset.AlgRS256, use: jwkset.UseSig}}))
		before := keys.requests.Load()

		got, err := v.Verify(sign(t, jwt.SigningMethodRS256, rotated, "rsa-2", f.userClaims()))
		require.NoError(t, err)
		require.Equal(t, testSubject, got.Subject)
		require.Equal(t, before+1, keys.requests.Load())
	})

	t.Run("unknown kid rate limited", func(t *testing.T) {
		before := keys.requests.Load()
		token := sign(t, jwt.SigningMethodRS256, f.rsaKey, "rsa-9", f.userClaims())

		start := time.Now()
		_, err := v.Verify(token)
		requireCheck(t, err, "unknown key id", token)
		require.Less(t, time.Since(start), 5*time.Second)
		require.Equal(t, before, keys.requests.Load(), "a second refresh within 5 minutes is rate limited")
	})
}

func TestNewVerifierFileURL(t *testing.T) {
	f := newFixture(t)
	f.cfg.JWKSURL = "file://" + f.jwksPath
	v := f.verifier(t)

	got, err := v.Verify(sign(t, jwt.SigningMethodRS256, f.rsaKey, "rsa-1", f.userClaims()))
	require.NoError(t, err)
	require.Equal(t, testSubject, got.Subject)
}

func TestNewVerifierRejectsConfig(t *testing.T) {
	f := newFixture(t)

	dir := t.TempDir()
	invalidPath := filepath.Join(dir, "invalid.json")
	require.NoError(t, os.WriteFile(invalidPath, []byte("{not json"), 0o600))
	emptyPath := filepath.Join(dir, "empty.json")
	require.NoError(t, os.WriteFile(emptyPath, []byte(`{"keys":[]}`), 0o600))

	mux := http.NewServeMux()
	mux.HandleFunc("/jwks.json", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(f.jwksJSON) })
	mux.HandleFunc("/broken", func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "unavailable", http.StatusServiceUnavailable)
	})
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/jwks.json", http.StatusFound)
	})
	mux.HandleFunc("/huge", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`{"keys":[`))
		_, _ = w.Write([]byte(strings.Repeat(" ", 2<<20)))
		_, _ = w.Write([]byte(`]}`))
	})
	server := httptest.NewServer(mux)
	t.Cleanup(server.Close)
	closed := httptest.NewServer(mux)
	closed.Close()

	tests := []struct {
		name   string
		modify func(cfg *authn.Config)
		want   string
	}{
		{name: "missing issuer", modify: func(cfg *authn.Config) { cfg.Issuer = "" }, want: "SILO_AUTH_ISSUER"},
		{name: "missing audience", modify: func(cfg *authn.Config) { cfg.Audience = "" }, want: "SILO_AUTH_AUDIENCE"},
		{
			name:   "no user key",
			modify: func(cfg *authn.Config) { cfg.HMACKey, cfg.JWKSURL = nil, "" },
			want:   "no user token key",
		},
		{name: "short hmac key", modify: func(cfg *authn.Config) { cfg.HMACKey = make([]byte, 16) }, want: "SILO_AUTH_HMAC_KEY has 16 bytes"},
		{name: "short signing key", modify: func(cfg *authn.Config) { cfg.SigningKey = make([]byte, 31) }, want: "SILO_TOKEN_SIGNING_KEY has 31 bytes"},
		{
			name:   "same keys",
			modify: func(cfg *authn.Config) { cfg.SigningKey = cfg.HMACKey },
			want:   "SILO_TOKEN_SIGNING_KEY equals SILO_AUTH_HMAC_KEY",
		},
		{name: "missing token issuer", modify: func(cfg *authn.Config) { cfg.TokenIssuer = "" }, want: "SILO_TOKEN_ISSUER"},
		{
			name:   "same issuers",
			modify: func(cfg *authn.Config) { cfg.TokenIssuer = cfg.Issuer },
			want:   "SILO_TOKEN_ISSUER equals SILO_AUTH_ISSUER",
		},
		{name: "negative leeway", modify: func(cfg *authn.Config) { cfg.Leeway = -time.Second }, want: "negative clock-skew leeway"},
		{name: "reserved admin claim", modify: func(cfg *authn.Config) { cfg.AdminClaim = "sub" }, want: "registered claim"},
		{
			name:   "missing jwks file",
			modify: func(cfg *authn.Config) { cfg.JWKSURL = filepath.Join(dir, "missing.json") },
			want:   "read JWKS file",
		},
		{name: "invalid jwks file", modify: func(cfg *authn.Config) { cfg.JWKSURL = invalidPath }, want: "parse JWKS file"},
		{name: "empty jwks file", modify: func(cfg *authn.Config) { cfg.JWKSURL = emptyPath }, want: "contains no keys"},
		{name: "unsupported scheme", modify: func(cfg *authn.Config) { cfg.JWKSURL = "ftp://keys.example.test/jwks" }, want: `scheme "ftp"`},
		{
			name:   "file url with host",
			modify: func(cfg *authn.Config) { cfg.JWKSURL = "file://keys.example.test/jwks.json" },
			want:   "names host",
		},
		{name: "jwks url error status", modify: func(cfg *authn.Config) { cfg.JWKSURL = server.URL + "/broken" }, want: "fetch JWKS"},
		{name: "jwks url redirect", modify: func(cfg *authn.Config) { cfg.JWKSURL = server.URL + "/redirect" }, want: "fetch JWKS"},
		{name: "jwks url too large", modify: func(cfg *authn.Config) { cfg.JWKSURL = server.URL + "/huge" }, want: "exceeds"},
		{name: "jwks url unreachable", modify: func(cfg *authn.Config) { cfg.JWKSURL = closed.URL + "/jwks.json" }, want: "fetch JWKS"},
	}

	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := f.cfg
			tc.modify(&cfg)

			v, err := authn.NewVerifier(t.Context(), cfg)
			require.Error(t, err)
			require.Nil(t, v)
			require.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestErrorMessage(t *testing.T) {
	err := error(&authn.Error{Check: "token expired"})

	var authErr *authn.Error
	require.True(t, errors.As(err, &authErr))
	require.Equal(t, "token expired", err.Error())
}

// publicKeyPEM returns the PEM encoding of key, the form an attacker would
// use as an HMAC secret in an algorithm confusion attack.
func publicKeyPEM(t *testing.T, key *rsa.PublicKey) []byte {
	t.Helper()

	der, err := x509.MarshalPKIXPublicKey(key)
	require.NoError(t, err)

	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}
