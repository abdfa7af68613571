// Package authn authenticates API callers by the JWT in their
// `Authorization: Bearer` header. It verifies user tokens (signed by an
// identity provider's JWKS keys, or by an HMAC key in development), issues
// and verifies silo's own tenant-scoped tokens, and provides the HTTP
// middleware that puts the caller's Principal into the request context.
package authn

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
	"unicode"
	"unicode/utf8"
)

// defaultAdminClaim is the claim that marks platform administrators when
// Config.AdminClaim is empty.
const defaultAdminClaim = "silo_admin"

// tenantKeyID is the `kid` header of silo's tenant-scoped tokens. It selects
// Config.SigningKey and Config.TokenIssuer during verification.
const tenantKeyID = "silo-tenant"

// minHMACKeyBytes is the minimum length of an HMAC key. RFC 7518, section
// 3.2, requires a key at least as long as the hash output (32 bytes for
// HS256).
const minHMACKeyBytes = 32

// maxSubjectRunes is the maximum length of the `sub` claim in characters.
const maxSubjectRunes = 255

// tenantIDClaim is the claim that carries the tenant UUID of a
// tenant-scoped token.
const tenantIDClaim = "tid"

// reservedClaims are the claims silo reads or writes itself. The admin
// claim cannot take one of these names.
var reservedClaims = []string{"iss", "sub", "aud", "exp", "nbf", "iat", "jti", tenantIDClaim}

// Config is the token verification and issuing configuration. The comment
// of each field names the environment variable it comes from.
type Config struct {
	// Issuer is the required `iss` of user tokens (SILO_AUTH_ISSUER).
	Issuer string
	// Audience is the required `aud` of every token, user and tenant-scoped
	// (SILO_AUTH_AUDIENCE).
	Audience string
	// HMACKey verifies HS256, HS384 and HS512 user tokens in development
	// (SILO_AUTH_HMAC_KEY). It is nil when unset and at least 32 bytes
	// otherwise.
	HMACKey []byte
	// JWKSURL locates the public keys of user tokens (SILO_AUTH_JWKS_URL):
	// a file path, a file:// URL, or an http(s) URL. It is "" when unset. At
	// least one of HMACKey and JWKSURL is required.
	JWKSURL string
	// AdminClaim is the claim that marks platform administrators when its
	// value is the JSON boolean true. Empty means "silo_admin".
	AdminClaim string
	// SigningKey signs and verifies silo's tenant-scoped tokens with HS256
	// (SILO_TOKEN_SIGNING_KEY). It must be at least 32 bytes and differ from
	// HMACKey.
	SigningKey []byte
	// TokenIssuer is the `iss` of silo's tenant-scoped tokens
	// (SILO_TOKEN_ISSUER). It must differ from Issuer.
	TokenIssuer string
	// Leeway is the clock-skew allowance for the exp, nbf and iat claims,
	// for example 30s. It must not be negative.
	Leeway time.Duration
}

// adminClaim returns the configured admin claim or its default.
func (c Config) adminClaim() string {
	if c.AdminClaim == "" {
		return defaultAdminClaim
	}

	return c.AdminClaim
}

// validate returns every problem of c joined into one error.
func (c Config) validate() error {
	var errs []error

	if c.Issuer == "" {
		errs = append(errs, errors.New("missing user token issuer: set SILO_AUTH_ISSUER"))
	}
	if c.Audience == "" {
		errs = append(errs, errors.New("missing token audience: set SILO_AUTH_AUDIENCE"))
	}
	if c.HMACKey == nil && c.JWKSURL == "" {
		errs = append(errs, errors.New("no user token key: set SILO_AUTH_JWKS_URL, or SILO_AUTH_HMAC_KEY for development"))
	}
	if c.HMACKey != nil && len(c.HMACKey) < minHMACKeyBytes {
		errs = append(errs, fmt.Errorf("SILO_AUTH_HMAC_KEY has %d bytes, at least %d are required", len(c.HMACKey), minHMACKeyBytes))
	}
	if slices.Contains(reservedClaims, c.adminClaim()) {
		errs = append(errs, fmt.Errorf("admin claim %q is a registered claim; choose another name", c.adminClaim()))
	}
	if len(c.SigningKey) < minHMACKeyBytes {
		errs = append(errs, fmt.Errorf("SILO_TOKEN_SIGNING_KEY has %d bytes, at least %d are required", len(c.SigningKey), minHMACKeyBytes))
	}
	if c.HMACKey != nil && string(c.HMACKey) == string(c.SigningKey) {
		errs = append(errs, errors.New("SILO_TOKEN_SIGNING_KEY equals SILO_AUTH_HMAC_KEY; use two different keys"))
	}
	if c.TokenIssuer == "" {
		errs = append(errs, errors.New("missing tenant token issuer: set SILO_TOKEN_ISSUER"))
	}
	if c.TokenIssuer != "" && c.TokenIssuer == c.Issuer {
		errs = append(errs, fmt.Errorf("SILO_TOKEN_ISSUER equals SILO_AUTH_ISSUER (%q); tenant tokens need their own issuer", c.Issuer))
	}
	if c.Leeway < 0 {
		errs = append(errs, fmt.Errorf("negative clock-skew leeway %s", c.Leeway))
	}

	return errors.Join(errs...)
}

// Principal is the authenticated caller of a request.
type Principal struct {
	// Subject is the user id from the `sub` claim: 1 to 255 characters
	// without control characters.
	Subject string
	// Admin marks a platform administrator: the user token's admin claim is
	// the JSON boolean true. It is always false for tenant-scoped tokens.
	Admin bool
	// TenantID is the tenant UUID from the `tid` claim, in canonical
	// lowercase form. It is set only for tenant-scoped tokens.
	TenantID string
}

// principalKey is the context key of the Principal.
type principalKey struct{}

// WithPrincipal returns a copy of ctx that carries p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the Principal stored by WithPrincipal, and false when
// ctx carries none.
func FromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)

	return p, ok
}

// Error is an authentication failure. Its message names the failed check
// and never contains the token or a claim value.
type Error struct {
	// Check is the failed check, such as "token expired" or "wrong issuer".
	Check string
}

// Error returns the failed check.
func (e *Error) Error() string {
	return e.Check
}

// Checks that Verify and the middleware report in Error.Check.
const (
	checkMissingToken     = "missing bearer token"
	checkMultipleHeaders  = "multiple authorization headers"
	checkTokenTooLarge    = "token too large"
	checkMalformed        = "malformed token"
	checkUnsupportedAlg   = "unsupported algorithm"
	checkCriticalHeader   = "unsupported critical header"
	checkUnknownKeyID     = "unknown key id"
	checkNoMatchingKey    = "no matching key"
	checkKeyNotForSigning = "key not for signatures"
	checkSignature        = "signature invalid"
	checkExpired          = "token expired"
	checkNotValidYet      = "token not valid yet"
	checkIssuedInFuture   = "token issued in the future"
	checkMissingExpiry    = "missing expiration time"
	checkIssuer           = "wrong issuer"
	checkAudience         = "wrong audience"
	checkInvalidClaims    = "invalid claims"
	checkMissingSubject   = "missing subject"
	checkInvalidSubject   = "invalid subject"
	checkMissingTenantID  = "missing tenant id"
	checkInvalidTenantID  = "invalid tenant id"
)

// algorithmNotAllowed returns the Error for a token whose algorithm the
// selected key does not allow. Only algorithm names from a fixed list are
// echoed, so an attacker cannot put arbitrary text into the message.
func algorithmNotAllowed(alg string) *Error {
	if !slices.Contains(knownAlgorithms, alg) {
		return &Error{Check: checkUnsupportedAlg}
	}

	return &Error{Check: fmt.Sprintf("algorithm %s not allowed", alg)}
}

// validSubject reports whether sub is 1 to 255 characters of valid UTF-8
// without control characters.
func validSubject(sub string) bool {
	if sub == "" || !utf8.ValidString(sub) || utf8.RuneCountInString(sub) > maxSubjectRunes {
		return false
	}

	for _, r := range sub {
		if unicode.IsControl(r) {
			return false
		}
	}

	return true
}
