package authn

import (
	"context"
	"crypto"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"
)

// JWKS fetch limits and refresh schedule. An identity provider's key set
// is a few KiB.
const (
	jwksFetchTimeout = 10 * time.Second
	maxJWKSBytes     = 1 << 20
	// jwksRefreshInterval is the period of the background refresh.
	jwksRefreshInterval = time.Hour
	// jwksUnknownKIDInterval is the minimum time between two refreshes
	// started by tokens with an unknown key id.
	jwksUnknownKIDInterval = 5 * time.Minute
	// jwksRefreshWaitMax bounds how long Verify waits, for a token with an
	// unknown key id, on keyfunc's refresh rate limiter plus the refresh.
	jwksRefreshWaitMax = 10 * time.Second
)

// jwksKeys looks up the user token key named by a token header.
type jwksKeys struct {
	// ctx is NewVerifier's context. It bounds the refreshes that a lookup
	// of an unknown key id starts.
	ctx     context.Context
	storage jwkset.Storage
}

// loadJWKS reads the key set at location: a file path, a file:// URL or an
// http(s) URL.
func loadJWKS(ctx context.Context, location string) (*jwksKeys, error) {
	path, remote, err := parseJWKSLocation(location)
	if err != nil {
		return nil, err
	}

	if remote != "" {
		return fetchJWKS(ctx, remote)
	}

	return readJWKSFile(ctx, path)
}

// parseJWKSLocation returns either a file path or an http(s) URL.
func parseJWKSLocation(location string) (path, remote string, err error) {
	if !strings.Contains(location, "://") {
		return location, "", nil
	}

	u, err := url.Parse(location)
	if err != nil {
		return "", "", fmt.Errorf("parse SILO_AUTH_JWKS_URL: %w", err)
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https":
		return "", location, nil
	case "file":
		if u.Host != "" && u.Host != "localhost" {
			return "", "", fmt.Errorf("SILO_AUTH_JWKS_URL names host %q in a file:// URL; use file:///absolute/path", u.Host)
		}
		if u.Path == "" {
			return "", "", fmt.Errorf("SILO_AUTH_JWKS_URL %q has no file path", location)
		}

		return u.Path, "", nil
	default:
		return "", "", fmt.Errorf("SILO_AUTH_JWKS_URL has scheme %q; use a file path, file://, http:// or https://", u.Scheme)
	}
}

func readJWKSFile(ctx context.Context, path string) (*jwksKeys, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read JWKS file: %w", err)
	}

	kf, err := keyfunc.NewJWKSetJSON(raw)
	if err != nil {
		return nil, fmt.Errorf("parse JWKS file %s: %w", path, err)
	}
	keys, err := kf.Storage().KeyReadAll(ctx)
	if err != nil {
		return nil, fmt.Errorf("read keys of JWKS file %s: %w", path, err)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("JWKS file %s contains no keys", path)
	}

	return &jwksKeys{ctx: ctx, storage: kf.Storage()}, nil
}

func fetchJWKS(ctx context.Context, remote string) (*jwksKeys, error) {
	// The refresh goroutine starts before the first fetch. Its own context
	// lets a failed start stop it at once.
	refreshCtx, stopRefresh := context.WithCancel(ctx)

	returnFirstError := false
	kf, err := keyfunc.NewDefaultOverrideCtx(refreshCtx, []string{remote}, keyfunc.Override{
		Client:                    newJWKSClient(),
		HTTPTimeout:               jwksFetchTimeout,
		NoErrorReturnFirstHTTPReq: &returnFirstError,
		RateLimitWaitMax:          jwksRefreshWaitMax,
		RefreshInterval:           jwksRefreshInterval,
		RefreshUnknownKID:         rate.NewLimiter(rate.Every(jwksUnknownKIDInterval), 1),
	})
	if err != nil {
		stopRefresh()
		return nil, fmt.Errorf("fetch JWKS: %w", err)
	}

	// The refresh goroutine runs until ctx ends, which also releases
	// refreshCtx.
	_ = stopRefresh

	return &jwksKeys{ctx: ctx, storage: kf.Storage()}, nil
}

// newJWKSClient returns the HTTP client for JWKS fetches. It follows no
// redirects, so it fetches nothing but the configured URL, and it reads at
// most maxJWKSBytes of a response.
func newJWKSClient() *http.Client {
	return &http.Client{
		Transport: limitedBodyTransport{base: http.DefaultTransport},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
		Timeout: jwksFetchTimeout,
	}
}

// limitedBodyTransport makes reading a response body fail once it exceeds
// maxJWKSBytes.
type limitedBodyTransport struct {
	base http.RoundTripper
}

func (t limitedBodyTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	resp.Body = &limitedBody{ReadCloser: resp.Body, remaining: maxJWKSBytes}

	return resp, nil
}

type limitedBody struct {
	io.ReadCloser
	remaining int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.remaining <= 0 {
		// One more byte means the body is too large. EOF means it fit.
		var probe [1]byte
		n, err := b.ReadCloser.Read(probe[:])
		if n > 0 {
			return 0, fmt.Errorf("JWKS response exceeds %d bytes", maxJWKSBytes)
		}

		return 0, err
	}

	if int64(len(p)) > b.remaining {
		p = p[:b.remaining]
	}
	n, err := b.ReadCloser.Read(p)
	b.remaining -= int64(n)

	return n, err
}

// keyFunc returns the public key for a JWKS-signed token: the key named by
// kid, or every usable key when the header has no kid. Failures are *Error.
func (k *jwksKeys) keyFunc(token *jwt.Token) (any, error) {
	alg := token.Method.Alg()

	kid, hasKID := token.Header["kid"].(string)
	if !hasKID {
		return k.keySet(alg)
	}

	// For an unknown kid the HTTP storage first refreshes the set, rate
	// limited. Any failure here means the key is not available.
	jwk, err := k.storage.KeyRead(k.ctx, kid)
	if err != nil {
		return nil, &Error{Check: checkUnknownKeyID}
	}

	return usableKey(jwk, alg)
}

func (k *jwksKeys) keySet(alg string) (any, error) {
	all, err := k.storage.KeyReadAll(k.ctx)
	if err != nil {
		return nil, &Error{Check: checkNoMatchingKey}
	}

	var set jwt.VerificationKeySet
	for _, jwk := range all {
		key, err := usableKey(jwk, alg)
		if err == nil {
			set.Keys = append(set.Keys, key)
		}
	}
	if len(set.Keys) == 0 {
		return nil, &Error{Check: checkNoMatchingKey}
	}

	return set, nil
}

// usableKey returns the public key of jwk if the key may verify a signature
// made with alg: its `use`, when present, is "sig", and its `alg`, when
// present, is alg.
func usableKey(jwk jwkset.JWK, alg string) (any, error) {
	meta := jwk.Marshal()
	if meta.USE != "" && meta.USE != jwkset.UseSig {
		return nil, &Error{Check: checkKeyNotForSigning}
	}
	if meta.ALG != "" && meta.ALG.String() != alg {
		return nil, algorithmNotAllowed(alg)
	}

	key := jwk.Key()
	// A set may carry private keys, but verification needs the public half.
	if private, ok := key.(interface{ Public() crypto.PublicKey }); ok {
		key = private.Public()
	}

	return key, nil
}
