package catalogapi_test

import (
	"bytes"
	"io"
	"net/http"
	"testing"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"silo.dev/silo/controlplane/catalog"
	controlplanev1 "silo.dev/silo/gen/silo/controlplane/v1"
	"silo.dev/silo/gen/silo/controlplane/v1/controlplanev1connect"
	silov1 "silo.dev/silo/gen/silo/v1"
	"silo.dev/silo/internal/secret"
	"silo.dev/silo/internal/silotest"
)

// startWithTenant starts a split silo with one active tenant and returns
// it with the tenant's id.
func startWithTenant(t *testing.T) (*silotest.Split, uuid.UUID) {
	t.Helper()

	split := silotest.StartSplit(t, nil)
	resp, err := split.Control.Tenants.CreateTenant(t.Context(), connect.NewRequest(&silov1.CreateTenantRequest{Name: "acme", Slug: "acme"}))
	require.NoError(t, err)
	require.Equal(t, silov1.TenantStatus_TENANT_STATUS_ACTIVE, resp.Msg.GetTenant().GetStatus())

	return split, uuid.MustParse(resp.Msg.GetTenant().GetId())
}

func catalogClient(split *silotest.Split, opts ...connect.ClientOption) controlplanev1connect.CatalogServiceClient {
	return controlplanev1connect.NewCatalogServiceClient(http.DefaultClient, split.Control.URL, opts...)
}

func TestServiceTokenRequired(t *testing.T) {
	t.Parallel()
	split, tenantID := startWithTenant(t)

	for _, tc := range []struct {
		name   string
		header string
		want   connect.Code
	}{
		{name: "missing", header: "", want: connect.CodeUnauthenticated},
		{name: "wrong", header: "Bearer " + split.ServiceToken + "x", want: connect.CodeUnauthenticated},
		{name: "other scheme", header: "Basic " + split.ServiceToken, want: connect.CodeUnauthenticated},
		{name: "user token", header: "Bearer " + split.Control.Token(t, "alice", false), want: connect.CodeUnauthenticated},
		{name: "admin token", header: "Bearer " + split.Control.Token(t, silotest.AdminSubject, true), want: connect.CodeUnauthenticated},
		{name: "service token", header: "Bearer " + split.ServiceToken, want: 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var opts []connect.ClientOption
			if tc.header != "" {
				opts = append(opts, connect.WithInterceptors(silotest.Header("Authorization", tc.header)))
			}
			client := catalogClient(split, opts...)

			_, err := client.ResolveTenant(t.Context(), connect.NewRequest(&controlplanev1.ResolveTenantRequest{
				Tenant: &controlplanev1.ResolveTenantRequest_Id{Id: tenantID.String()},
			}))
			if tc.want == 0 {
				require.NoError(t, err)
			} else {
				require.Equal(t, tc.want, connect.CodeOf(err), "unary: %v", err)
			}

			stream, err := client.WatchChanges(t.Context(), connect.NewRequest(&controlplanev1.WatchChangesRequest{}))
			require.NoError(t, err)
			defer stream.Close()
			received := stream.Receive()
			if tc.want == 0 {
				require.True(t, received, "%v", stream.Err())
				require.Equal(t, "sync", stream.Msg().GetKind(), "the first message is sync")
			} else {
				require.False(t, received)
				require.Equal(t, tc.want, connect.CodeOf(stream.Err()), "stream: %v", stream.Err())
			}
		})
	}
}

func TestServiceReadsCatalog(t *testing.T) {
	t.Parallel()
	split, tenantID := startWithTenant(t)
	client := catalogClient(split, connect.WithInterceptors(silotest.Bearer(split.ServiceToken)))
	ctx := t.Context()

	resolved, err := client.ResolveTenant(ctx, connect.NewRequest(&controlplanev1.ResolveTenantRequest{
		Tenant: &controlplanev1.ResolveTenantRequest_Slug{Slug: "acme"},
	}))
	require.NoError(t, err)
	require.Equal(t, tenantID.String(), resolved.Msg.GetTenantId())
	require.Equal(t, "active", resolved.Msg.GetStatus())

	_, err = client.ResolveTenant(ctx, connect.NewRequest(&controlplanev1.ResolveTenantRequest{
		Tenant: &controlplanev1.ResolveTenantRequest_Id{Id: uuid.NewString()},
	}))
	require.Equal(t, connect.CodeNotFound, connect.CodeOf(err))
	_, err = client.ResolveTenant(ctx, connect.NewRequest(&controlplanev1.ResolveTenantRequest{}))
	require.Equal(t, connect.CodeInvalidArgument, connect.CodeOf(err))

	role, err := client.GetMembership(ctx, connect.NewRequest(&controlplanev1.GetMembershipRequest{
		TenantId: tenantID.String(), UserId: silotest.AdminSubject,
	}))
	require.NoError(t, err)
	require.Equal(t, "owner", role.Msg.GetRole())
	_, err = client.GetMembership(ctx, connect.NewRequest(&controlplanev1.GetMembershipRequest{
		TenantId: tenantID.String(), UserId: "stranger",
	}))
	require.Equal(t, connect.CodeNotFound, connect.CodeOf(err))

	_, err = client.GetActiveTenant(ctx, connect.NewRequest(&controlplanev1.GetActiveTenantRequest{UserId: "stranger"}))
	require.Equal(t, connect.CodeNotFound, connect.CodeOf(err))
}

func TestGetConnectionSendsNoClearPassword(t *testing.T) {
	t.Parallel()
	split, tenantID := startWithTenant(t)
	box, err := secret.NewBox(split.Control.Config.Key())
	require.NoError(t, err)
	admin, err := pgx.ParseConfig(split.Control.Config.ServerURL())
	require.NoError(t, err)
	require.NotEmpty(t, admin.Password)

	request := &controlplanev1.GetConnectionRequest{TenantId: tenantID.String()}
	for _, tc := range []struct {
		name        string
		contentType string
		marshal     func(proto.Message) ([]byte, error)
		unmarshal   func([]byte, proto.Message) error
	}{
		{name: "proto", contentType: "application/proto", marshal: proto.Marshal, unmarshal: proto.Unmarshal},
		{name: "json", contentType: "application/json", marshal: protojson.Marshal, unmarshal: protojson.Unmarshal},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body, err := tc.marshal(request)
			require.NoError(t, err)
			raw := post(t, split.Control.URL+controlplanev1connect.CatalogServiceGetConnectionProcedure,
				tc.contentType, split.ServiceToken, body)

			var resp controlplanev1.GetConnectionResponse
			require.NoError(t, tc.unmarshal(raw, &resp))
			require.Equal(t, catalog.ObjectName(tenantID), resp.GetRole())
			require.Equal(t, catalog.ObjectName(tenantID), resp.GetDatabase())
			require.Equal(t, admin.Host, resp.GetHost())
			require.Equal(t, uint32(admin.Port), resp.GetPort())

			password, err := box.Open(resp.GetRolePasswordEncrypted(), tenantID[:])
			require.NoError(t, err, "the sealed password opens with the shared key and the tenant id")
			require.NotEmpty(t, password)
			require.False(t, bytes.Contains(raw, password), "role password in clear in the response")
			require.False(t, bytes.Contains(raw, []byte(admin.Password)), "administrator password in the response")
			require.NotEqual(t, admin.User, resp.GetRole())
		})
	}
}

// post sends one Connect unary request and returns the body of its 200
// response.
func post(t *testing.T, url, contentType, token string, body []byte) []byte {
	t.Helper()

	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(raw))

	return raw
}
