package authn

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
)

// maxTokenBytes caps the length of a token before it is decoded. Identity
// provider tokens with many group claims reach a few KiB.
const maxTokenBytes = 16 << 10

// Algorithms each kind of key accepts.
var (
	tenantAlgorithms = []string{"HS256"}
	hmacAlgorithms   = []string{"HS256", "HS384", "HS512"}
	jwksAlgorithms   = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA"}
	// knownAlgorithms are the names an Error may echo: the registered JWS
	// algorithms of RFC 7518 plus EdDSA (RFC 8037).
	knownAlgorithms = []string{
		"HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
		"ES256", "ES384", "ES512", "EdDSA", "none",
	}
)

// Verifier checks bearer tokens: user tokens from the identity provider and
// silo's own tenant-scoped tokens. It is safe for concurrent use.
type Verifier struct {
	adminClaim string

	// tenant verifies tokens whose kid is "silo-tenant".
	tenant *route
	// hmac verifies user tokens with an HS* algorithm; nil when
	// Config.HMACKey is unset.
	hmac *route
	// jwks verifies user tokens with any other algorithm; nil when
	// Config.JWKSURL is unset.
	jwks *route
}

// route is one combination of key, allowed algorithms and expected issuer.
// Verify picks the route from the token header before it checks anything
// else, because a jwt.Parser takes one issuer and one algorithm list.
type route struct {
	algorithms []string
	parser     *jwt.Parser
	keyFunc    jwt.Keyfunc
	tenant     bool
}

// NewVerifier validates cfg and loads the user token keys. A JWKS file is
// read once, here. A JWKS http(s) URL is fetched here, and an error is
// returned when that first fetch fails. Afterwards keyfunc refreshes it
// every hour, and at most every 5 minutes when a token names an unknown
// key id, until ctx ends. NewVerifier fetches nothing but JWKSURL.
func NewVerifier(ctx context.Context, cfg Config) (*Verifier, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("check authentication configuration: %w", err)
	}

	v := &Verifier{adminClaim: cfg.adminClaim()}

	signingKey := bytes.Clone(cfg.SigningKey)
	v.tenant = newRoute(cfg, cfg.TokenIssuer, tenantAlgorithms, func(*jwt.Token) (any, error) {
		return signingKey, nil
	})
	v.tenant.tenant = true

	if cfg.HMACKey != nil {
		hmacKey := bytes.Clone(cfg.HMACKey)
		v.hmac = newRoute(cfg, cfg.Issuer, hmacAlgorithms, func(*jwt.Token) (any, error) {
			return hmacKey, nil
		})
	}

	if cfg.JWKSURL != "" {
		keys, err := loadJWKS(ctx, cfg.JWKSURL)
		if err != nil {
			return nil, err
		}
		v.jwks = newRoute(cfg, cfg.Issuer, jwksAlgorithms, keys.keyFunc)
	}

	return v, nil
}

func newRoute(cfg Config, issuer string, algorithms []string, keyFunc jwt.Keyfunc) *route {
	parser := jwt.NewParser(
		jwt.WithValidMethods(algorithms),
		jwt.WithIssuer(issuer),
		jwt.WithAudience(cfg.Audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(cfg.Leeway),
	)

	return &route{algorithms: algorithms, parser: parser, keyFunc: keyFunc}
}

// Verify checks the token's signature, algorithm, exp (required), nbf, iat,
// issuer, audience and subject, and returns its caller. Failures are *Error.
//
// The header selects the key: kid "silo-tenant" selects the signing key,
// the token issuer and HS256, and requires a UUID `tid` claim. Otherwise an
// HS* algorithm selects the HMAC key and any other algorithm the JWKS, both
// with the user token issuer. So a token signed with HMAC over a public key
// never meets that public key.
func (v *Verifier) Verify(token string) (Principal, error) {
	if token == "" {
		return Principal{}, &Error{Check: checkMissingToken}
	}
	if len(token) > maxTokenBytes {
		return Principal{}, &Error{Check: checkTokenTooLarge}
	}

	header, err := parseHeader(token)
	if err != nil {
		return Principal{}, err
	}
	r, err := v.selectRoute(header)
	if err != nil {
		return Principal{}, err
	}

	claims := jwt.MapClaims{}
	if _, err := r.parser.ParseWithClaims(token, claims, r.keyFunc); err != nil {
		return Principal{}, classifyParseError(err, claims)
	}

	return v.principal(r, claims)
}

// tokenHeader holds the JOSE header fields that select a route.
type tokenHeader struct {
	alg string
	kid string
}

// parseHeader decodes the token's header the way jwt.Parser does (unpadded
// base64url, JSON object whose last duplicate key wins), so the route and
// the parser see the same alg and kid.
func parseHeader(token string) (tokenHeader, error) {
	encoded, _, ok := strings.Cut(token, ".")
	if !ok {
		return tokenHeader{}, &Error{Check: checkMalformed}
	}
	raw, err := base64.RawURLEncoding.DecodeString(encoded)
	if err != nil {
		return tokenHeader{}, &Error{Check: checkMalformed}
	}
	var fields map[string]any
	if err := json.Unmarshal(raw, &fields); err != nil {
		return tokenHeader{}, &Error{Check: checkMalformed}
	}

	// RFC 7515, section 4.1.11: a recipient must reject a token with
	// critical extensions it does not understand, and silo understands none.
	if _, ok := fields["crit"]; ok {
		return tokenHeader{}, &Error{Check: checkCriticalHeader}
	}

	var h tokenHeader
	h.alg, ok = fields["alg"].(string)
	if !ok || h.alg == "" {
		return tokenHeader{}, &Error{Check: checkMalformed}
	}
	if kid, present := fields["kid"]; present {
		h.kid, ok = kid.(string)
		if !ok {
			return tokenHeader{}, &Error{Check: checkMalformed}
		}
	}

	return h, nil
}

func (v *Verifier) selectRoute(h tokenHeader) (*route, error) {
	var r *route
	switch {
	case h.kid == tenantKeyID:
		r = v.tenant
	case strings.HasPrefix(h.alg, "HS"):
		r = v.hmac
	default:
		r = v.jwks
	}

	// jwt.WithValidMethods enforces the same list inside the parser. This
	// check runs first so the error can name the algorithm.
	if r == nil || !slices.Contains(r.algorithms, h.alg) {
		return nil, algorithmNotAllowed(h.alg)
	}

	return r, nil
}

// classifyParseError turns a jwt.Parser error into the Error of the first
// failed check. Claim checks run only after the signature matched.
func classifyParseError(err error, claims jwt.MapClaims) *Error {
	var authErr *Error
	switch {
	case errors.As(err, &authErr):
		// The key lookup of the JWKS route failed.
		return authErr
	case errors.Is(err, jwt.ErrTokenMalformed):
		return &Error{Check: checkMalformed}
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		return &Error{Check: checkUnsupportedAlg}
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return &Error{Check: checkSignature}
	case errors.Is(err, jwt.ErrTokenExpired):
		return &Error{Check: checkExpired}
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return &Error{Check: checkNotValidYet}
	case errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return &Error{Check: checkIssuedInFuture}
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return &Error{Check: checkIssuer}
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return &Error{Check: checkAudience}
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return missingClaim(claims)
	default:
		// A registered claim has the wrong JSON type, such as a string exp.
		return &Error{Check: checkInvalidClaims}
	}
}

// missingClaim names the required claim that jwt.ErrTokenRequiredClaimMissing
// stands for: exp, iss or aud. A token without iss or aud fails the
// issuer or audience check.
func missingClaim(claims jwt.MapClaims) *Error {
	if _, ok := claims["exp"]; !ok {
		return &Error{Check: checkMissingExpiry}
	}
	if issuer, _ := claims["iss"].(string); issuer == "" {
		return &Error{Check: checkIssuer}
	}

	return &Error{Check: checkAudience}
}

// principal checks the claims that jwt.Parser leaves alone (sub, tid) and
// builds the caller.
func (v *Verifier) principal(r *route, claims jwt.MapClaims) (Principal, error) {
	rawSubject, present := claims["sub"]
	if !present || rawSubject == "" {
		return Principal{}, &Error{Check: checkMissingSubject}
	}
	subject, ok := rawSubject.(string)
	if !ok || !validSubject(subject) {
		return Principal{}, &Error{Check: checkInvalidSubject}
	}

	if !r.tenant {
		admin, _ := claims[v.adminClaim].(bool)

		return Principal{Subject: subject, Admin: admin}, nil
	}

	rawTenantID, present := claims[tenantIDClaim]
	if !present {
		return Principal{}, &Error{Check: checkMissingTenantID}
	}
	tenantID, ok := rawTenantID.(string)
	if !ok || !canonicalUUID(tenantID) {
		return Principal{}, &Error{Check: checkInvalidTenantID}
	}

	return Principal{Subject: subject, TenantID: tenantID}, nil
}

// canonicalUUID reports whether s is a non-nil UUID in the lowercase
// hyphenated form that TenantToken writes.
func canonicalUUID(s string) bool {
	id, err := uuid.Parse(s)

	return err == nil && id != uuid.Nil && id.String() == s
}
