package authn_test

import (
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"silo.dev/silo/internal/authn"
)

func TestTenantTokenRoundTrip(t *testing.T) {
	f := newFixture(t)
	v := f.verifier(t)
	issuer := authn.NewIssuer(f.cfg)

	tests := []struct {
		name     string
		tenantID string
	}{
		{name: "canonical tenant id", tenantID: testTenantID},
		{name: "uppercase tenant id", tenantID: strings.ToUpper(testTenantID)},
	}

	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			token, expires, err := issuer.TenantToken(testSubject, tc.tenantID, 15*time.Minute)
			require.NoError(t, err)
			require.WithinRange(t, expires, start.Add(15*time.Minute).Add(-time.Second), start.Add(15*time.Minute))

			got, err := v.Verify(token)
			require.NoError(t, err)
			require.Equal(t, authn.Principal{Subject: testSubject, TenantID: testTenantID}, got)

			parsed, _, err := jwt.NewParser().ParseUnverified(token, jwt.MapClaims{})
			require.NoError(t, err)
			require.Equal(t, "silo-tenant", parsed.Header["kid"])
			require.Equal(t, "HS256", parsed.Header["alg"])
			claims := parsed.Claims.(jwt.MapClaims)
			require.Equal(t, testTokenIssuer, claims["iss"])
			require.Equal(t, []any{testAudience}, claims["aud"])
			require.Equal(t, float64(expires.Unix()), claims["exp"])
			require.NotEmpty(t, claims["jti"])
			require.Contains(t, claims, "iat")
			require.Contains(t, claims, "nbf")
		})
	}
}

func TestTenantTokenUniqueID(t *testing.T) {
	f := newFixture(t)
	issuer := authn.NewIssuer(f.cfg)

	first, _, err := issuer.TenantToken(testSubject, testTenantID, time.Minute)
	require.NoError(t, err)
	second, _, err := issuer.TenantToken(testSubject, testTenantID, time.Minute)
	require.NoError(t, err)
	require.NotEqual(t, first, second)
}

func TestTenantTokenRejects(t *testing.T) {
	f := newFixture(t)
	shortKey := f.cfg
	shortKey.SigningKey = make([]byte, 8)
	noIssuer := f.cfg
	noIssuer.TokenIssuer = ""

	tests := []struct {
		name     string
		cfg      authn.Config
		subject  string
		tenantID string
		ttl      time.Duration
		want     string
	}{
		{name: "short key", cfg: shortKey, subject: testSubject, tenantID: testTenantID, ttl: time.Minute, want: "signing key has 8 bytes"},
		{name: "missing issuer", cfg: noIssuer, subject: testSubject, tenantID: testTenantID, ttl: time.Minute, want: "missing token issuer"},
		{name: "empty subject", cfg: f.cfg, subject: "", tenantID: testTenantID, ttl: time.Minute, want: "invalid subject"},
		{name: "subject with newline", cfg: f.cfg, subject: "a\nb", tenantID: testTenantID, ttl: time.Minute, want: "invalid subject"},
		{name: "non-uuid tenant", cfg: f.cfg, subject: testSubject, tenantID: "tenant-1", ttl: time.Minute, want: "invalid tenant id"},
		{
			name: "nil uuid tenant", cfg: f.cfg, subject: testSubject, tenantID: "00000000-0000-0000-0000-000000000000",
			ttl: time.Minute, want: "invalid tenant id",
		},
		{name: "zero ttl", cfg: f.cfg, subject: testSubject, tenantID: testTenantID, ttl: 0, want: "shorter than 1s"},
	}

	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			token, _, err := authn.NewIssuer(tc.cfg).TenantToken(tc.subject, tc.tenantID, tc.ttl)
			require.Error(t, err)
			require.Empty(t, token)
			require.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestSignUserToken(t *testing.T) {
	f := newFixture(t)
	v := f.verifier(t)

	tests := []struct {
		name       string
		adminClaim string
		admin      bool
	}{
		{name: "admin", admin: true},
		{name: "not admin", admin: false},
		{name: "admin with explicit default claim", adminClaim: "silo_admin", admin: true},
	}

	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			token, err := authn.SignUserToken(f.cfg.HMACKey, f.cfg.Issuer, f.cfg.Audience, testSubject, tc.adminClaim, tc.admin, time.Hour)
			require.NoError(t, err)

			got, err := v.Verify(token)
			require.NoError(t, err)
			require.Equal(t, authn.Principal{Subject: testSubject, Admin: tc.admin}, got)
		})
	}
}

func TestSignUserTokenRejects(t *testing.T) {
	f := newFixture(t)

	tests := []struct {
		name       string
		key        []byte
		issuer     string
		subject    string
		adminClaim string
		ttl        time.Duration
		want       string
	}{
		{name: "short key", key: []byte("short"), issuer: testIssuer, subject: testSubject, ttl: time.Hour, want: "key has 5 bytes"},
		{name: "missing issuer", key: f.cfg.HMACKey, subject: testSubject, ttl: time.Hour, want: "missing issuer"},
		{name: "invalid subject", key: f.cfg.HMACKey, issuer: testIssuer, subject: strings.Repeat("a", 256), ttl: time.Hour, want: "invalid subject"},
		{name: "reserved admin claim", key: f.cfg.HMACKey, issuer: testIssuer, subject: testSubject, adminClaim: "exp", ttl: time.Hour, want: "registered claim"},
		{name: "short ttl", key: f.cfg.HMACKey, issuer: testIssuer, subject: testSubject, ttl: time.Millisecond, want: "shorter than 1s"},
	}

	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			token, err := authn.SignUserToken(tc.key, tc.issuer, testAudience, tc.subject, tc.adminClaim, true, tc.ttl)
			require.Error(t, err)
			require.Empty(t, token)
			require.Contains(t, err.Error(), tc.want)
		})
	}
}
