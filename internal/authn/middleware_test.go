package authn_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"silo.dev/silo/internal/authn"
)

const (
	testBodyLimit = 1024
	echoProcedure = "/silo.test.v1.EchoService/Echo"
	restPath      = "/api/v1/echo"
)

// middlewareServer is a server whose handlers sit behind the middleware.
// It counts the request body bytes that the middleware and the handlers
// read.
type middlewareServer struct {
	*httptest.Server
	bodyBytesRead atomic.Int64
	handlerCalls  atomic.Int64
}

// restResponse is what the REST handler returns.
type restResponse struct {
	Subject       string `json:"subject"`
	Authenticated bool   `json:"authenticated"`
	BodyBytes     int    `json:"bodyBytes"`
	BodyTooLarge  bool   `json:"bodyTooLarge"`
	ContentLength int64  `json:"contentLength"`
}

// newMiddlewareServer serves a public /healthz, a REST route that reads the
// whole body, and a Connect unary procedure that returns the caller's
// subject. With http2 it serves TLS with HTTP/2, which gRPC requires.
func newMiddlewareServer(t *testing.T, v *authn.Verifier, http2 bool) *middlewareServer {
	t.Helper()

	s := &middlewareServer{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		_, authenticated := authn.FromContext(r.Context())
		_ = json.NewEncoder(w).Encode(restResponse{Authenticated: authenticated})
	})
	mux.HandleFunc(restPath, func(w http.ResponseWriter, r *http.Request) {
		s.handlerCalls.Add(1)
		principal, authenticated := authn.FromContext(r.Context())
		body, err := io.ReadAll(r.Body)
		var tooLarge *http.MaxBytesError
		if err != nil && !errors.As(err, &tooLarge) {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		_ = json.NewEncoder(w).Encode(restResponse{
			Subject:       principal.Subject,
			Authenticated: authenticated,
			BodyBytes:     len(body),
			BodyTooLarge:  tooLarge != nil,
			ContentLength: r.ContentLength,
		})
	})
	mux.Handle(echoProcedure, connect.NewUnaryHandler(echoProcedure,
		func(ctx context.Context, _ *connect.Request[wrapperspb.BytesValue]) (*connect.Response[wrapperspb.StringValue], error) {
			s.handlerCalls.Add(1)
			principal, ok := authn.FromContext(ctx)
			if !ok {
				return nil, connect.NewError(connect.CodeInternal, errors.New("no principal in context"))
			}
			return connect.NewResponse(wrapperspb.String(principal.Subject)), nil
		},
	))

	public := func(r *http.Request) bool { return r.URL.Path == "/healthz" }
	protected := v.Middleware(mux, public, testBodyLimit)
	counting := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = &countingBody{ReadCloser: r.Body, count: &s.bodyBytesRead}
		protected.ServeHTTP(w, r)
	})

	s.Server = httptest.NewUnstartedServer(counting)
	if http2 {
		s.EnableHTTP2 = true
		s.StartTLS()
	} else {
		s.Start()
	}
	t.Cleanup(s.Close)

	return s
}

type countingBody struct {
	io.ReadCloser
	count *atomic.Int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.count.Add(int64(n))

	return n, err
}

// status is the google.rpc.Status JSON body of a REST error.
type status struct {
	Code    int               `json:"code"`
	Message string            `json:"message"`
	Details []json.RawMessage `json:"details"`
}

func decodeStatus(t *testing.T, resp *http.Response) status {
	t.Helper()

	require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	var body status
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	require.NotNil(t, body.Details, "details must be an empty list, not null")

	return body
}

func userToken(t *testing.T, f *fixture) string {
	t.Helper()

	return sign(t, jwt.SigningMethodHS256, f.cfg.HMACKey, "", f.userClaims())
}

func TestMiddlewareREST(t *testing.T) {
	f := newFixture(t)
	server := newMiddlewareServer(t, f.verifier(t), false)
	token := userToken(t, f)
	expired := sign(t, jwt.SigningMethodHS256, f.cfg.HMACKey, "", with(f.userClaims(), "exp", time.Now().Add(-time.Hour).Unix()))

	tests := []struct {
		name          string
		method        string
		path          string
		authorization []string
		body          string
		status        int
		code          int
		message       string
		challenge     string
		subject       string
	}{
		{name: "public path without token", method: http.MethodGet, path: "/healthz", status: http.StatusOK},
		{
			name: "public path with invalid token", method: http.MethodGet, path: "/healthz",
			authorization: []string{"Bearer garbage"}, status: http.StatusOK,
		},
		{
			name: "missing token", method: http.MethodPost, path: restPath, body: "{}",
			status: http.StatusUnauthorized, code: 16, message: "missing bearer token", challenge: "Bearer",
		},
		{
			name: "basic scheme", method: http.MethodGet, path: restPath, authorization: []string{"Basic dXNlcjpwYXNz"},
			status: http.StatusUnauthorized, code: 16, message: "missing bearer token", challenge: "Bearer",
		},
		{
			name: "bearer without token", method: http.MethodGet, path: restPath, authorization: []string{"Bearer "},
			status: http.StatusUnauthorized, code: 16, message: "missing bearer token", challenge: "Bearer",
		},
		{
			name: "expired token", method: http.MethodGet, path: restPath, authorization: []string{"Bearer " + expired},
			status: http.StatusUnauthorized, code: 16, message: "token expired", challenge: `Bearer error="invalid_token"`,
		},
		{
			name: "two authorization headers", method: http.MethodGet, path: restPath,
			authorization: []string{"Bearer " + token, "Bearer " + token},
			status:        http.StatusUnauthorized, code: 16, message: "multiple authorization headers", challenge: `Bearer error="invalid_token"`,
		},
		{
			name: "valid token", method: http.MethodPost, path: restPath, authorization: []string{"Bearer " + token},
			body: "{}", status: http.StatusOK, subject: testSubject,
		},
		{
			name: "lowercase scheme", method: http.MethodGet, path: restPath, authorization: []string{"bearer " + token},
			status: http.StatusOK, subject: testSubject,
		},
		{
			name: "uppercase scheme", method: http.MethodGet, path: restPath, authorization: []string{"BEARER " + token},
			status: http.StatusOK, subject: testSubject,
		},
		{
			name: "body over limit", method: http.MethodPost, path: restPath, authorization: []string{"Bearer " + token},
			body: strings.Repeat("x", testBodyLimit+1), status: http.StatusRequestEntityTooLarge, code: 8,
			message: fmt.Sprintf("request body of %d bytes exceeds the limit of %d bytes", testBodyLimit+1, testBodyLimit),
		},
		{
			name: "body at limit", method: http.MethodPost, path: restPath, authorization: []string{"Bearer " + token},
			body: strings.Repeat("x", testBodyLimit), status: http.StatusOK, subject: testSubject,
		},
	}

	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			callsBefore := server.handlerCalls.Load()
			readBefore := server.bodyBytesRead.Load()

			req, err := http.NewRequestWithContext(t.Context(), tc.method, server.URL+tc.path, strings.NewReader(tc.body))
			require.NoError(t, err)
			for _, value := range tc.authorization {
				req.Header.Add("Authorization", value)
			}
			resp, err := server.Client().Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()

			require.Equal(t, tc.status, resp.StatusCode)
			if tc.status == http.StatusOK {
				var got restResponse
				require.NoError(t, json.NewDecoder(resp.Body).Decode(&got))
				require.Equal(t, tc.subject, got.Subject)
				require.Equal(t, tc.subject != "", got.Authenticated)
				return
			}

			got := decodeStatus(t, resp)
			require.Equal(t, tc.code, got.Code)
			require.Equal(t, tc.message, got.Message)
			require.Equal(t, tc.challenge, resp.Header.Get("WWW-Authenticate"))
			require.Equal(t, callsBefore, server.handlerCalls.Load(), "handler must not run")
			require.Equal(t, readBefore, server.bodyBytesRead.Load(), "body must stay unread")
			for _, value := range tc.authorization {
				if credential := strings.TrimSpace(strings.TrimPrefix(value, "Bearer")); credential != "" {
					require.NotContains(t, got.Message, credential)
				}
			}
		})
	}
}

// TestMiddlewareRejectsBeforeBody sends a body that the client writes only
// after the response arrived: the middleware must respond without reading
// it.
func TestMiddlewareRejectsBeforeBody(t *testing.T) {
	f := newFixture(t)
	server := newMiddlewareServer(t, f.verifier(t), false)

	bodyReader, bodyWriter := io.Pipe()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, server.URL+restPath, bodyReader)
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")

	// The response is read in the goroutine, so a middleware that waits for
	// the body makes the select below time out.
	type result struct {
		status      int
		contentType string
		body        []byte
		err         error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := server.Client().Do(req)
		if err != nil {
			done <- result{err: err}
			return
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		done <- result{status: resp.StatusCode, contentType: resp.Header.Get("Content-Type"), body: body, err: err}
	}()

	var res result
	select {
	case res = <-done:
	case <-time.After(10 * time.Second):
		_ = bodyWriter.CloseWithError(errors.New("test timed out"))
		t.Fatal("no response before the body was sent: the middleware waited for the body")
	}
	require.NoError(t, res.err)

	require.Equal(t, http.StatusUnauthorized, res.status)
	require.Equal(t, "application/json", res.contentType)
	var got status
	require.NoError(t, json.Unmarshal(res.body, &got))
	require.Equal(t, "missing bearer token", got.Message)
	require.Equal(t, int64(0), server.bodyBytesRead.Load())
	require.Equal(t, int64(0), server.handlerCalls.Load())

	// The client may already have dropped the body, so the write may fail.
	_, _ = bodyWriter.Write(bytes.Repeat([]byte("x"), 4*testBodyLimit))
	_ = bodyWriter.Close()
	require.Equal(t, int64(0), server.bodyBytesRead.Load())
}

func TestMiddlewareCutsStreamedBody(t *testing.T) {
	f := newFixture(t)
	server := newMiddlewareServer(t, f.verifier(t), false)

	// An io.Reader the HTTP client cannot measure is sent chunked, without
	// Content-Length, so only MaxBytesReader can stop it.
	body := io.MultiReader(strings.NewReader(strings.Repeat("x", 4*testBodyLimit)))
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, server.URL+restPath, body)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+userToken(t, f))

	resp, err := server.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()

	require.Equal(t, http.StatusOK, resp.StatusCode)
	var got restResponse
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&got))
	require.Equal(t, int64(-1), got.ContentLength, "the body must arrive without Content-Length")
	require.True(t, got.BodyTooLarge)
	require.Equal(t, testBodyLimit, got.BodyBytes)
	require.LessOrEqual(t, server.bodyBytesRead.Load(), int64(testBodyLimit+1))
}

func TestMiddlewareConnectProtocols(t *testing.T) {
	f := newFixture(t)
	server := newMiddlewareServer(t, f.verifier(t), true)
	token := userToken(t, f)

	protocols := []struct {
		name    string
		options []connect.ClientOption
	}{
		{name: "connect"},
		{name: "grpc", options: []connect.ClientOption{connect.WithGRPC()}},
		{name: "grpc-web", options: []connect.ClientOption{connect.WithGRPCWeb()}},
	}
	tests := []struct {
		name          string
		authorization string
		payload       []byte
		code          connect.Code
	}{
		{name: "missing token", code: connect.CodeUnauthenticated},
		{name: "invalid token", authorization: "Bearer " + token + "x", code: connect.CodeUnauthenticated},
		{name: "valid token", authorization: "Bearer " + token},
		{name: "message over limit", authorization: "Bearer " + token, payload: make([]byte, 2*testBodyLimit), code: connect.CodeResourceExhausted},
	}

	for _, protocol := range protocols {
		client := connect.NewClient[wrapperspb.BytesValue, wrapperspb.StringValue](
			server.Client(), server.URL+echoProcedure, protocol.options...)

		for _, tc := range tests {
			t.Run(protocol.name+" "+tc.name, func(t *testing.T) {
				callsBefore := server.handlerCalls.Load()
				req := connect.NewRequest(wrapperspb.Bytes(tc.payload))
				if tc.authorization != "" {
					req.Header().Set("Authorization", tc.authorization)
				}

				resp, err := client.CallUnary(t.Context(), req)
				if tc.code == 0 {
					require.NoError(t, err)
					require.Equal(t, testSubject, resp.Msg.GetValue())
					return
				}

				require.Error(t, err)
				require.Equal(t, tc.code, connect.CodeOf(err))
				require.NotContains(t, err.Error(), token)
				if tc.code == connect.CodeUnauthenticated {
					require.Equal(t, callsBefore, server.handlerCalls.Load(), "handler must not run")
				}
			})
		}
	}
}

// TestMiddlewareConnectContentLength checks the 413 path for a Connect
// request whose Content-Length is over the limit: the Connect error format
// and no body read.
func TestMiddlewareConnectContentLength(t *testing.T) {
	f := newFixture(t)
	server := newMiddlewareServer(t, f.verifier(t), false)

	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, server.URL+echoProcedure,
		bytes.NewReader(make([]byte, testBodyLimit+1)))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/proto")
	req.Header.Set("Connect-Protocol-Version", "1")
	req.Header.Set("Authorization", "Bearer "+userToken(t, f))

	resp, err := server.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()

	require.Equal(t, http.StatusTooManyRequests, resp.StatusCode, "Connect maps resource_exhausted to 429")
	var got struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&got))
	require.Equal(t, "resource_exhausted", got.Code)
	require.Contains(t, got.Message, "exceeds the limit of 1024 bytes")
	require.Equal(t, int64(0), server.bodyBytesRead.Load())
	require.Equal(t, int64(0), server.handlerCalls.Load())
}

func TestPrincipalContext(t *testing.T) {
	tests := []struct {
		name string
		ctx  context.Context
		want authn.Principal
		ok   bool
	}{
		{name: "empty context", ctx: t.Context(), ok: false},
		{
			name: "with principal",
			ctx:  authn.WithPrincipal(t.Context(), authn.Principal{Subject: testSubject, TenantID: testTenantID}),
			want: authn.Principal{Subject: testSubject, TenantID: testTenantID},
			ok:   true,
		},
	}

	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := authn.FromContext(tc.ctx)
			require.Equal(t, tc.ok, ok)
			require.Equal(t, tc.want, got)
		})
	}
}
