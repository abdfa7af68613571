package authn

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
)

// Issuer signs silo's tenant-scoped tokens, which Verifier accepts with
// Principal.TenantID set.
type Issuer struct {
	key      []byte
	issuer   string
	audience string
}

// NewIssuer returns an Issuer that signs with cfg.SigningKey as
// cfg.TokenIssuer for cfg.Audience. It copies the key. TenantToken reports
// a key shorter than 32 bytes.
func NewIssuer(cfg Config) *Issuer {
	return &Issuer{
		key:      bytes.Clone(cfg.SigningKey),
		issuer:   cfg.TokenIssuer,
		audience: cfg.Audience,
	}
}

// tenantClaims is the claim set of a tenant-scoped token.
type tenantClaims struct {
	TenantID string `json:"tid"`
	jwt.RegisteredClaims
}

// TenantToken signs an HS256 token for subject, scoped to the tenant with
// UUID tenantID, valid from now for ttl (at least one second). The header
// has kid "silo-tenant". The claims are sub, tid, iss, aud, iat, nbf, exp
// and a random jti. expires is the exp claim, truncated to whole seconds
// like the claim.
func (i *Issuer) TenantToken(subject, tenantID string, ttl time.Duration) (token string, expires time.Time, err error) {
	if len(i.key) < minHMACKeyBytes {
		return "", time.Time{}, fmt.Errorf("sign tenant token: signing key has %d bytes, at least %d are required", len(i.key), minHMACKeyBytes)
	}
	if i.issuer == "" || i.audience == "" {
		return "", time.Time{}, errors.New("sign tenant token: missing token issuer or audience in the configuration")
	}
	if !validSubject(subject) {
		return "", time.Time{}, errors.New("sign tenant token: invalid subject; it must be 1 to 255 characters without control characters")
	}
	id, err := uuid.Parse(tenantID)
	if err != nil || id == uuid.Nil {
		return "", time.Time{}, errors.New("sign tenant token: invalid tenant id; it must be a UUID other than the nil UUID")
	}
	if ttl < time.Second {
		return "", time.Time{}, fmt.Errorf("sign tenant token: lifetime %s is shorter than 1s", ttl)
	}

	now := time.Now()
	expires = now.Add(ttl).Truncate(time.Second)
	claims := tenantClaims{
		TenantID: id.String(),
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    i.issuer,
			Subject:   subject,
			Audience:  jwt.ClaimStrings{i.audience},
			ExpiresAt: jwt.NewNumericDate(expires),
			NotBefore: jwt.NewNumericDate(now),
			IssuedAt:  jwt.NewNumericDate(now),
			ID:        rand.Text(),
		},
	}
	unsigned := jwt.NewWithClaims(jwt.SigningMethodHS256, claims)
	unsigned.Header["kid"] = tenantKeyID

	token, err = unsigned.SignedString(i.key)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("sign tenant token: %w", err)
	}

	return token, expires, nil
}

// SignUserToken signs an HS256 user token with key, for development with
// SILO_AUTH_HMAC_KEY (`silo token`) and for tests. The claims are iss, aud,
// sub, iat, nbf, exp (now plus ttl) and a random jti, plus adminClaim
// (empty means "silo_admin") set to true when admin is true. Production
// user tokens come from the identity provider.
func SignUserToken(key []byte, issuer, audience, subject, adminClaim string, admin bool, ttl time.Duration) (string, error) {
	if adminClaim == "" {
		adminClaim = defaultAdminClaim
	}

	if len(key) < minHMACKeyBytes {
		return "", fmt.Errorf("sign user token: key has %d bytes, at least %d are required", len(key), minHMACKeyBytes)
	}
	if issuer == "" || audience == "" {
		return "", errors.New("sign user token: missing issuer or audience")
	}
	if !validSubject(subject) {
		return "", errors.New("sign user token: invalid subject; it must be 1 to 255 characters without control characters")
	}
	if slices.Contains(reservedClaims, adminClaim) {
		return "", fmt.Errorf("sign user token: admin claim %q is a registered claim; choose another name", adminClaim)
	}
	if ttl < time.Second {
		return "", fmt.Errorf("sign user token: lifetime %s is shorter than 1s", ttl)
	}

	now := time.Now()
	claims := jwt.MapClaims{
		"iss": issuer,
		"aud": audience,
		"sub": subject,
		"iat": jwt.NewNumericDate(now),
		"nbf": jwt.NewNumericDate(now),
		"exp": jwt.NewNumericDate(now.Add(ttl)),
		"jti": rand.Text(),
	}
	if admin {
		claims[adminClaim] = true
	}

	token, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(key)
	if err != nil {
		return "", fmt.Errorf("sign user token: %w", err)
	}

	return token, nil
}
