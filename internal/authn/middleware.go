package authn

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"connectrpc.com/connect"
)

// Middleware authenticates every request for which public returns false
// (public may be nil: nothing is public) and then calls next with the
// Principal in the request context (see FromContext).
//
// It verifies the `Authorization: Bearer` token before it reads any of the
// body. After authentication it rejects a Content-Length over maxBodyBytes
// with 413 (ResourceExhausted), and otherwise wraps the body in
// http.MaxBytesReader, which caps the whole body, all messages of a stream
// included. Public requests pass through untouched, without the cap.
//
// Connect, gRPC and gRPC-Web requests get errors in their protocol's
// format, written by connect.ErrorWriter. A Connect unary request is
// recognized by its Connect-Protocol-Version header (or `connect` query
// parameter), which Connect clients send. Every other request gets the
// google.rpc.Status JSON body that vanguard writes for REST routes. An
// Unauthenticated response carries `WWW-Authenticate: Bearer`.
func (v *Verifier) Middleware(next http.Handler, public func(*http.Request) bool, maxBodyBytes int64) http.Handler {
	errorWriter := connect.NewErrorWriter(connect.WithRequireConnectProtocolHeader())

	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if public != nil && public(r) {
			next.ServeHTTP(w, r)
			return
		}

		principal, err := v.authenticate(r)
		if err != nil {
			challenge := `Bearer error="invalid_token"`
			if err.Check == checkMissingToken {
				// RFC 6750, section 3.1: no error code when the request had
				// no credentials.
				challenge = "Bearer"
			}
			w.Header().Set("WWW-Authenticate", challenge)
			writeError(w, r, errorWriter, connect.CodeUnauthenticated, http.StatusUnauthorized, err)
			return
		}

		if r.ContentLength > maxBodyBytes {
			err := fmt.Errorf("request body of %d bytes exceeds the limit of %d bytes", r.ContentLength, maxBodyBytes)
			writeError(w, r, errorWriter, connect.CodeResourceExhausted, http.StatusRequestEntityTooLarge, err)
			return
		}

		r = r.WithContext(WithPrincipal(r.Context(), principal))
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
		}
		next.ServeHTTP(w, r)
	})
}

// authenticate verifies the request's bearer token. The scheme name is
// case-insensitive (RFC 9110, section 11.1).
func (v *Verifier) authenticate(r *http.Request) (Principal, *Error) {
	values := r.Header.Values("Authorization")
	if len(values) == 0 {
		return Principal{}, &Error{Check: checkMissingToken}
	}
	if len(values) > 1 {
		return Principal{}, &Error{Check: checkMultipleHeaders}
	}

	scheme, token, _ := strings.Cut(values[0], " ")
	token = strings.TrimSpace(token)
	if !strings.EqualFold(scheme, "Bearer") || token == "" {
		return Principal{}, &Error{Check: checkMissingToken}
	}

	principal, err := v.Verify(token)
	if err != nil {
		var authErr *Error
		if !errors.As(err, &authErr) {
			// Verify returns only *Error. Any other error is rejected too.
			authErr = &Error{Check: checkMalformed}
		}
		return Principal{}, authErr
	}

	return principal, nil
}

// statusBody is the JSON form of google.rpc.Status.
type statusBody struct {
	Code    int               `json:"code"`
	Message string            `json:"message"`
	Details []json.RawMessage `json:"details"`
}

// writeError writes the error response to a request that is rejected
// before its body is read.
func writeError(w http.ResponseWriter, r *http.Request, errorWriter *connect.ErrorWriter, code connect.Code, status int, err error) {
	// An HTTP/1 server reads up to 256 KiB of an unread body before it
	// sends the response, to keep the connection. Closing the connection
	// instead leaves the body unread. HTTP/2 resets only the stream, and
	// there "Connection: close" would end every stream of the client.
	if r.ProtoMajor == 1 && r.ContentLength != 0 {
		w.Header().Set("Connection", "close")
	}

	if errorWriter.IsSupported(r) {
		_ = errorWriter.Write(w, r, connect.NewError(code, err))
		return
	}

	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(statusBody{Code: int(code), Message: err.Error(), Details: []json.RawMessage{}})
}
