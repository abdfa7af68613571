package catalogapi

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"

	"connectrpc.com/connect"
)

// errUnauthenticated is the one response to every failed token check, so a
// caller learns nothing about why its token was rejected.
var errUnauthenticated = connect.NewError(connect.CodeUnauthenticated,
	errors.New("invalid or missing service token: send Authorization: Bearer <SILO_SERVICE_TOKEN>"))

// TokenInterceptor rejects every call, unary and streaming, that does not
// carry the service token as its bearer token.
type TokenInterceptor struct {
	// digest is the SHA-256 of the token. Comparing digests in constant
	// time hides both the token's bytes and its length.
	digest [sha256.Size]byte
}

var _ connect.Interceptor = (*TokenInterceptor)(nil)

// NewTokenInterceptor returns an interceptor that accepts token, which
// must not be empty.
func NewTokenInterceptor(token string) (*TokenInterceptor, error) {
	if token == "" {
		return nil, errors.New("create service token check: the token is empty")
	}

	return &TokenInterceptor{digest: sha256.Sum256([]byte(token))}, nil
}

func (i *TokenInterceptor) check(header http.Header) error {
	values := header.Values("Authorization")
	if len(values) != 1 {
		return errUnauthenticated
	}
	scheme, token, _ := strings.Cut(values[0], " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return errUnauthenticated
	}

	digest := sha256.Sum256([]byte(strings.TrimSpace(token)))
	if subtle.ConstantTimeCompare(digest[:], i.digest[:]) != 1 {
		return errUnauthenticated
	}

	return nil
}

// WrapUnary implements connect.Interceptor.
func (i *TokenInterceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if req.Spec().IsClient {
			return next(ctx, req)
		}
		if err := i.check(req.Header()); err != nil {
			return nil, err
		}

		return next(ctx, req)
	}
}

// WrapStreamingHandler implements connect.Interceptor.
func (i *TokenInterceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		if err := i.check(conn.RequestHeader()); err != nil {
			return err
		}

		return next(ctx, conn)
	}
}

// WrapStreamingClient implements connect.Interceptor; clients pass through.
func (i *TokenInterceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}
