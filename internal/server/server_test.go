package server_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protojson"

	silov1 "silo.dev/silo/gen/silo/v1"
	"silo.dev/silo/gen/silo/v1/silov1connect"
	"silo.dev/silo/internal/silotest"
)

// h2cClient speaks HTTP/2 without TLS, as gRPC clients do.
func h2cClient() *http.Client {
	protocols := new(http.Protocols)
	protocols.SetUnencryptedHTTP2(true)

	return &http.Client{Transport: &http.Transport{Protocols: protocols}}
}

func TestHealthEndpoints(t *testing.T) {
	t.Parallel()
	env := silotest.Start(t, nil)

	for _, path := range []string{"/healthz", "/readyz", "/openapi.yaml"} {
		t.Run(path, func(t *testing.T) {
			resp, err := http.Get(env.URL + path)
			require.NoError(t, err)
			defer resp.Body.Close()

			require.Equal(t, http.StatusOK, resp.StatusCode, "public without a token")
		})
	}
	t.Run("/metrics", func(t *testing.T) {
		resp, err := http.Get(env.URL + "/metrics")
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode)

		restCall(t, env.Token(t, "prometheus", false), http.MethodGet, env.URL+"/metrics", "", http.StatusOK)
	})
}

func TestGRPCHealth(t *testing.T) {
	t.Parallel()
	env := silotest.Start(t, nil)
	health := grpchealth.NewClient(h2cClient(), env.URL, connect.WithGRPC())
	for _, service := range []string{"", silov1connect.TenantServiceName} {
		resp, err := health.Check(t.Context(), &grpchealth.CheckRequest{Service: service})
		require.NoError(t, err)
		require.Equal(t, grpchealth.StatusServing, resp.Status)
	}
}

func TestTenantServiceOverGRPC(t *testing.T) {
	t.Parallel()
	env := silotest.Start(t, nil)
	client := silov1connect.NewTenantServiceClient(h2cClient(), env.URL, connect.WithGRPC(),
		connect.WithInterceptors(silotest.Bearer(env.Token(t, "grpc-admin", true))))

	created, err := client.CreateTenant(t.Context(), connect.NewRequest(&silov1.CreateTenantRequest{Name: "Acme", Slug: "acme"}))
	require.NoError(t, err)
	require.Equal(t, silov1.TenantStatus_TENANT_STATUS_ACTIVE, created.Msg.GetTenant().GetStatus())

	_, err = client.GetTenant(t.Context(), connect.NewRequest(&silov1.GetTenantRequest{Slug: "missing"}))
	require.Equal(t, connect.CodeNotFound, connect.CodeOf(err))

	anonymous := silov1connect.NewTenantServiceClient(h2cClient(), env.URL, connect.WithGRPC())
	_, err = anonymous.ListTenants(t.Context(), connect.NewRequest(&silov1.ListTenantsRequest{}))
	require.Equal(t, connect.CodeUnauthenticated, connect.CodeOf(err))
}

func TestRESTMatchesConnect(t *testing.T) {
	t.Parallel()
	env := silotest.Start(t, nil)
	admin := env.Token(t, silotest.AdminSubject, true)

	created := restCall(t, admin, http.MethodPost, env.URL+"/api/v1/tenants", `{"name":"Acme","slug":"acme","config":{"plan":"pro"}}`, http.StatusOK)
	id := created["tenant"].(map[string]any)["id"].(string)

	viaREST := restCall(t, admin, http.MethodGet, env.URL+"/api/v1/tenants/"+id, "", http.StatusOK)
	connectResp, err := env.Tenants.GetTenant(t.Context(), connect.NewRequest(&silov1.GetTenantRequest{Id: id}))
	require.NoError(t, err)
	encoded, err := protojson.Marshal(connectResp.Msg)
	require.NoError(t, err)
	var viaConnect map[string]any
	require.NoError(t, json.Unmarshal(encoded, &viaConnect))
	require.Equal(t, viaConnect, viaREST)

	restCall(t, admin, http.MethodPost, env.URL+"/api/v1/tenants/"+id+":suspend", `{}`, http.StatusOK)
	restCall(t, admin, http.MethodPost, env.URL+"/api/v1/tenants/"+id+":resume", `{}`, http.StatusOK)
	patched := restCall(t, admin, http.MethodPatch, env.URL+"/api/v1/tenants/"+id+"?update_mask=name", `{"name":"Acme Two"}`, http.StatusOK)
	require.Equal(t, "Acme Two", patched["tenant"].(map[string]any)["name"])
	list := restCall(t, admin, http.MethodGet, env.URL+"/api/v1/tenants?page_size=10", "", http.StatusOK)
	require.Len(t, list["tenants"], 1)

	missing := restCall(t, admin, http.MethodGet, env.URL+"/api/v1/tenants/00000000-0000-0000-0000-000000000000", "", http.StatusNotFound)
	require.EqualValues(t, connect.CodeNotFound, missing["code"])
	invalid := restCall(t, admin, http.MethodPost, env.URL+"/api/v1/tenants", `{"name":"Bad","slug":"a"}`, http.StatusBadRequest)
	require.EqualValues(t, connect.CodeInvalidArgument, invalid["code"])
}

func TestConnectJSONWithCurlHeaders(t *testing.T) {
	t.Parallel()
	env := silotest.Start(t, nil)

	body := restCall(t, env.Token(t, "curl-admin", true), http.MethodPost, env.URL+"/silo.v1.TenantService/CreateTenant", `{"name":"Acme","slug":"acme"}`, http.StatusOK)

	require.Equal(t, "TENANT_STATUS_ACTIVE", body["tenant"].(map[string]any)["status"])
}

// restCall sends a JSON request with a bearer token (none when token is
// empty) and returns the decoded JSON response after checking its status
// code. A response that is not JSON decodes to nil.
func restCall(t *testing.T, token, method, url, body string, wantStatus int) map[string]any {
	t.Helper()

	req, err := http.NewRequestWithContext(t.Context(), method, url, bytes.NewBufferString(body))
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, wantStatus, resp.StatusCode, string(raw))

	var decoded map[string]any
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		require.NoError(t, json.Unmarshal(raw, &decoded), string(raw))
	}

	return decoded
}
