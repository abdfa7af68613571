package tenantapi_test

import (
	"fmt"
	"testing"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	silov1 "silo.dev/silo/gen/silo/v1"
	"silo.dev/silo/internal/silotest"
)

func TestGetTenant(t *testing.T) {
	t.Parallel()
	env := silotest.Start(t, nil)
	created := createTenant(t, env.Tenants, "Acme", "acme")

	for _, tc := range []struct {
		name    string
		request *silov1.GetTenantRequest
	}{
		{name: "by id", request: &silov1.GetTenantRequest{Id: created.GetId()}},
		{name: "by slug", request: &silov1.GetTenantRequest{Slug: "acme"}},
		{name: "by slug in other case", request: &silov1.GetTenantRequest{Slug: " ACME "}},
		{name: "by slug in the id field", request: &silov1.GetTenantRequest{Id: "Acme"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := env.Tenants.GetTenant(t.Context(), connect.NewRequest(tc.request))

			require.NoError(t, err)
			require.Equal(t, created.GetId(), resp.Msg.GetTenant().GetId())
			require.Equal(t, "acme", resp.Msg.GetTenant().GetSlug())
		})
	}
}

func TestGetTenantErrors(t *testing.T) {
	t.Parallel()
	env := silotest.Start(t, nil)

	for _, tc := range []struct {
		name    string
		request *silov1.GetTenantRequest
		code    connect.Code
	}{
		{name: "neither id nor slug", request: &silov1.GetTenantRequest{}, code: connect.CodeInvalidArgument},
		{name: "both id and slug", request: &silov1.GetTenantRequest{Id: uuid.NewString(), Slug: "acme"}, code: connect.CodeInvalidArgument},
		{name: "malformed id", request: &silov1.GetTenantRequest{Id: "Not A UUID!"}, code: connect.CodeInvalidArgument},
		{name: "unknown slug as id", request: &silov1.GetTenantRequest{Id: "not-a-tenant"}, code: connect.CodeNotFound},
		{name: "unknown id", request: &silov1.GetTenantRequest{Id: uuid.NewString()}, code: connect.CodeNotFound},
		{name: "unknown slug", request: &silov1.GetTenantRequest{Slug: "nobody"}, code: connect.CodeNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := env.Tenants.GetTenant(t.Context(), connect.NewRequest(tc.request))

			require.Equal(t, tc.code, connect.CodeOf(err))
		})
	}
}

func TestListTenantsPages(t *testing.T) {
	t.Parallel()
	env := silotest.Start(t, nil)
	var want []string
	for i := range 5 {
		want = append(want, createTenant(t, env.Tenants, fmt.Sprintf("Tenant %d", i), fmt.Sprintf("tenant-%d", i)).GetId())
	}

	var got []string
	token := ""
	pages := 0
	for {
		resp, err := env.Tenants.ListTenants(t.Context(), connect.NewRequest(&silov1.ListTenantsRequest{PageSize: 2, PageToken: token}))
		require.NoError(t, err)
		require.LessOrEqual(t, len(resp.Msg.GetTenants()), 2)
		for _, tenant := range resp.Msg.GetTenants() {
			got = append(got, tenant.GetId())
		}
		pages++
		token = resp.Msg.GetNextPageToken()
		if token == "" {
			break
		}
	}

	require.Equal(t, want, got)
	require.Equal(t, 3, pages)
}

func TestListTenantsDefaultPage(t *testing.T) {
	t.Parallel()
	env := silotest.Start(t, nil)
	createTenant(t, env.Tenants, "Only", "only")

	resp, err := env.Tenants.ListTenants(t.Context(), connect.NewRequest(&silov1.ListTenantsRequest{PageSize: 5000}))

	require.NoError(t, err)
	require.Len(t, resp.Msg.GetTenants(), 1)
	require.Empty(t, resp.Msg.GetNextPageToken())
}

func TestListTenantsStatusFilter(t *testing.T) {
	t.Parallel()
	env := silotest.Start(t, nil)
	active := createTenant(t, env.Tenants, "Active", "active-one")
	suspended := createTenant(t, env.Tenants, "Suspended", "suspended-one")
	_, err := env.Tenants.SuspendTenant(t.Context(), connect.NewRequest(&silov1.SuspendTenantRequest{Id: suspended.GetId()}))
	require.NoError(t, err)

	for _, tc := range []struct {
		name   string
		status silov1.TenantStatus
		want   []string
	}{
		{name: "all", status: silov1.TenantStatus_TENANT_STATUS_UNSPECIFIED, want: []string{active.GetId(), suspended.GetId()}},
		{name: "active", status: silov1.TenantStatus_TENANT_STATUS_ACTIVE, want: []string{active.GetId()}},
		{name: "suspended", status: silov1.TenantStatus_TENANT_STATUS_SUSPENDED, want: []string{suspended.GetId()}},
		{name: "failed", status: silov1.TenantStatus_TENANT_STATUS_FAILED},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := env.Tenants.ListTenants(t.Context(), connect.NewRequest(&silov1.ListTenantsRequest{Status: tc.status}))
			require.NoError(t, err)

			var got []string
			for _, tenant := range resp.Msg.GetTenants() {
				got = append(got, tenant.GetId())
			}
			require.Equal(t, tc.want, got)
		})
	}
}

func TestListTenantsErrors(t *testing.T) {
	t.Parallel()
	env := silotest.Start(t, nil)
	createTenant(t, env.Tenants, "One", "one-tenant")
	createTenant(t, env.Tenants, "Two", "two-tenant")
	first, err := env.Tenants.ListTenants(t.Context(), connect.NewRequest(&silov1.ListTenantsRequest{PageSize: 1}))
	require.NoError(t, err)
	require.NotEmpty(t, first.Msg.GetNextPageToken())

	for _, tc := range []struct {
		name    string
		request *silov1.ListTenantsRequest
	}{
		{name: "negative page size", request: &silov1.ListTenantsRequest{PageSize: -1}},
		{name: "malformed token", request: &silov1.ListTenantsRequest{PageToken: "%%%"}},
		{name: "token of other filter", request: &silov1.ListTenantsRequest{
			PageToken: first.Msg.GetNextPageToken(), Status: silov1.TenantStatus_TENANT_STATUS_ACTIVE,
		}},
		{name: "unknown status", request: &silov1.ListTenantsRequest{Status: 99}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := env.Tenants.ListTenants(t.Context(), connect.NewRequest(tc.request))

			require.Equal(t, connect.CodeInvalidArgument, connect.CodeOf(err))
		})
	}
}
