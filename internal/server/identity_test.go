package server_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"silo.dev/silo/internal/silotest"
)

func TestRequestsNeedToken(t *testing.T) {
	t.Parallel()
	env := silotest.Start(t, nil)

	for _, tc := range []struct {
		name, method, path, body, header string
	}{
		{name: "rest list", method: http.MethodGet, path: "/api/v1/tenants"},
		{name: "rest create", method: http.MethodPost, path: "/api/v1/tenants", body: `{"name":"A","slug":"abc"}`},
		{name: "connect without protocol header", method: http.MethodPost, path: "/silo.v1.TenantService/ListTenants", body: `{}`},
		{name: "malformed header", method: http.MethodGet, path: "/api/v1/tenants", header: "Bearer not.a.jwt"},
		{name: "wrong scheme", method: http.MethodGet, path: "/api/v1/tenants", header: "Basic YWxhZGRpbjpvcGVuc2VzYW1l"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(t.Context(), tc.method, env.URL+tc.path, strings.NewReader(tc.body))
			require.NoError(t, err)
			req.Header.Set("Content-Type", "application/json")
			if tc.header != "" {
				req.Header.Set("Authorization", tc.header)
			}

			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			require.NoError(t, err)

			require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
			require.Contains(t, string(body), `"code":16`, "a google.rpc.Status with code UNAUTHENTICATED")
			if tc.header != "" {
				require.NotContains(t, string(body), strings.TrimPrefix(tc.header, "Bearer "))
			}
		})
	}
}

func TestLargeBodyWithoutTokenNotRead(t *testing.T) {
	t.Parallel()
	env := silotest.Start(t, nil)
	reader, writer := io.Pipe()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, env.URL+"/api/v1/tenants", reader)
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.ContentLength = 64 << 20

	// Nothing is written to the body until the response has arrived, so a
	// server that waited for the body would time out instead.
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-done:
		case <-time.After(10 * time.Second):
		}
		_ = writer.CloseWithError(io.ErrUnexpectedEOF)
	}()
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()

	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
}

func TestLargeBodyWithTokenRejected(t *testing.T) {
	t.Parallel()
	env := silotest.Start(t, nil)
	body := `{"name":"A","slug":"abc","config":{"blob":"` + strings.Repeat("x", 2<<20) + `"}}`

	resp := restCall(t, env.Token(t, "big-admin", true), http.MethodPost, env.URL+"/api/v1/tenants", body, http.StatusRequestEntityTooLarge)

	require.NotNil(t, resp)
}

func TestRESTIdentityFlow(t *testing.T) {
	t.Parallel()
	env := silotest.Start(t, nil)
	admin := env.Token(t, silotest.AdminSubject, true)
	mia := env.Token(t, "mia", false)

	ids := map[string]string{}
	for _, slug := range []string{"acme", "globex"} {
		created := restCall(t, admin, http.MethodPost, env.URL+"/api/v1/tenants", `{"name":"`+slug+`","slug":"`+slug+`"}`, http.StatusOK)
		ids[slug] = created["tenant"].(map[string]any)["id"].(string)
		restCall(t, admin, http.MethodPost, env.URL+"/api/v1/tenants/"+ids[slug]+"/users", `{"user_id":"mia","role":"TENANT_ROLE_MEMBER"}`, http.StatusOK)
	}

	mine := restCall(t, mia, http.MethodGet, env.URL+"/api/v1/me/tenants", "", http.StatusOK)
	require.Len(t, mine["memberships"], 2)
	none := restCall(t, mia, http.MethodGet, env.URL+"/api/v1/tenants/current", "", http.StatusNotFound)
	require.Contains(t, none["message"], "SwitchTenant")

	for _, slug := range []string{"acme", "globex", "acme"} {
		switched := restCall(t, mia, http.MethodPost, env.URL+"/api/v1/tenants/switch", `{"tenant_id":"`+slug+`"}`, http.StatusOK)
		require.NotEmpty(t, switched["token"])
		current := restCall(t, mia, http.MethodGet, env.URL+"/api/v1/tenants/current", "", http.StatusOK)
		require.Equal(t, ids[slug], current["tenant"].(map[string]any)["id"])
		require.Equal(t, "TENANT_ROLE_MEMBER", current["role"])
	}

	users := restCall(t, admin, http.MethodGet, env.URL+"/api/v1/tenants/"+ids["acme"]+"/users", "", http.StatusOK)
	require.Len(t, users["tenantUsers"], 2)
	restCall(t, admin, http.MethodPatch, env.URL+"/api/v1/tenants/"+ids["acme"]+"/users/mia", `{"role":"TENANT_ROLE_VIEWER"}`, http.StatusOK)
	restCall(t, admin, http.MethodDelete, env.URL+"/api/v1/tenants/"+ids["acme"]+"/users/mia", "", http.StatusOK)
	restCall(t, mia, http.MethodGet, env.URL+"/api/v1/tenants/current", "", http.StatusNotFound)

	events := restCall(t, admin, http.MethodGet, env.URL+"/api/v1/audit-events?tenant_id="+ids["acme"], "", http.StatusOK)
	require.NotEmpty(t, events["auditEvents"])
	restCall(t, mia, http.MethodGet, env.URL+"/api/v1/audit-events", "", http.StatusForbidden)
}
