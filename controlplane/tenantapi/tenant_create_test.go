package tenantapi_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/structpb"

	silov1 "silo.dev/silo/gen/silo/v1"
	"silo.dev/silo/gen/silo/v1/silov1connect"
	"silo.dev/silo/internal/silotest"
)

func createTenant(t *testing.T, client silov1connect.TenantServiceClient, name, slug string) *silov1.Tenant {
	t.Helper()

	resp, err := client.CreateTenant(t.Context(), connect.NewRequest(&silov1.CreateTenantRequest{Name: name, Slug: slug}))
	require.NoError(t, err)
	require.Equal(t, silov1.TenantStatus_TENANT_STATUS_ACTIVE, resp.Msg.GetTenant().GetStatus(), resp.Msg.GetTenant().GetLastError())

	return resp.Msg.GetTenant()
}

func TestCreateTenantActive(t *testing.T) {
	t.Parallel()
	env := silotest.Start(t, nil)
	config, err := structpb.NewStruct(map[string]any{"plan": "pro", "seats": 25.0})
	require.NoError(t, err)

	resp, err := env.Tenants.CreateTenant(t.Context(), connect.NewRequest(&silov1.CreateTenantRequest{
		Name: "  Acme Corp ", Slug: " ACME-Corp", Config: config,
	}))
	require.NoError(t, err)

	tenant := resp.Msg.GetTenant()
	require.Equal(t, silov1.TenantStatus_TENANT_STATUS_ACTIVE, tenant.GetStatus())
	require.Equal(t, "Acme Corp", tenant.GetName())
	require.Equal(t, "acme-corp", tenant.GetSlug())
	require.Equal(t, "pro", tenant.GetConfig().GetFields()["plan"].GetStringValue())
	require.EqualValues(t, 25, tenant.GetConfig().GetFields()["seats"].GetNumberValue())
	require.NotEmpty(t, tenant.GetId())
	require.Positive(t, tenant.GetSchemaVersion())
	require.Empty(t, tenant.GetLastError())
	require.NotNil(t, tenant.GetCreatedAt())
	require.NotNil(t, tenant.GetUpdatedAt())
	require.Nil(t, tenant.GetDeletedAt())
}

func TestCreateTenantDefaultsConfig(t *testing.T) {
	t.Parallel()
	env := silotest.Start(t, nil)

	tenant := createTenant(t, env.Tenants, "Plain", "plain")

	require.NotNil(t, tenant.GetConfig())
	require.Empty(t, tenant.GetConfig().GetFields())
}

func TestCreateTenantSlugTaken(t *testing.T) {
	t.Parallel()
	env := silotest.Start(t, nil)
	createTenant(t, env.Tenants, "First", "taken")

	_, err := env.Tenants.CreateTenant(t.Context(), connect.NewRequest(&silov1.CreateTenantRequest{Name: "Second", Slug: "TAKEN"}))

	require.Equal(t, connect.CodeAlreadyExists, connect.CodeOf(err))
}

func TestCreateTenantValidation(t *testing.T) {
	t.Parallel()
	env := silotest.Start(t, nil)
	bigConfig, err := structpb.NewStruct(map[string]any{"blob": strings.Repeat("x", 64<<10)})
	require.NoError(t, err)

	for _, tc := range []struct {
		name    string
		request *silov1.CreateTenantRequest
		field   string
	}{
		{name: "missing name", request: &silov1.CreateTenantRequest{Slug: "acme"}, field: "name"},
		{name: "blank name", request: &silov1.CreateTenantRequest{Name: "   ", Slug: "acme"}, field: "name"},
		{name: "long name", request: &silov1.CreateTenantRequest{Name: strings.Repeat("n", 256), Slug: "acme"}, field: "name"},
		{name: "control character in name", request: &silov1.CreateTenantRequest{Name: "Ac\x07me", Slug: "acme"}, field: "name"},
		{name: "missing slug", request: &silov1.CreateTenantRequest{Name: "Acme"}, field: "slug"},
		{name: "short slug", request: &silov1.CreateTenantRequest{Name: "Acme", Slug: "ab"}, field: "slug"},
		{name: "long slug", request: &silov1.CreateTenantRequest{Name: "Acme", Slug: "a" + strings.Repeat("b", 63)}, field: "slug"},
		{name: "slug starts with digit", request: &silov1.CreateTenantRequest{Name: "Acme", Slug: "1acme"}, field: "slug"},
		{name: "slug starts with hyphen", request: &silov1.CreateTenantRequest{Name: "Acme", Slug: "-acme"}, field: "slug"},
		{name: "slug ends with hyphen", request: &silov1.CreateTenantRequest{Name: "Acme", Slug: "acme-"}, field: "slug"},
		{name: "slug double hyphen", request: &silov1.CreateTenantRequest{Name: "Acme", Slug: "ac--me"}, field: "slug"},
		{name: "slug underscore", request: &silov1.CreateTenantRequest{Name: "Acme", Slug: "ac_me"}, field: "slug"},
		{name: "slug quote", request: &silov1.CreateTenantRequest{Name: "Acme", Slug: `a"b`}, field: "slug"},
		{name: "slug sql", request: &silov1.CreateTenantRequest{Name: "Acme", Slug: "x; drop database postgres; --"}, field: "slug"},
		{name: "slug non-ascii", request: &silov1.CreateTenantRequest{Name: "Acme", Slug: "acmé"}, field: "slug"},
		{name: "config too large", request: &silov1.CreateTenantRequest{Name: "Acme", Slug: "acme", Config: bigConfig}, field: "config"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := env.Tenants.CreateTenant(t.Context(), connect.NewRequest(tc.request))

			require.Equal(t, connect.CodeInvalidArgument, connect.CodeOf(err))
			require.Contains(t, err.Error(), tc.field)
		})
	}
}

func TestCreateTenantReservedSlugs(t *testing.T) {
	t.Parallel()
	env := silotest.Start(t, nil)

	for _, slug := range []string{"admin", "api", "current", "switch", "me", "www", "silo", "postgres", "template0", "template1", "public", "ADMIN"} {
		t.Run(slug, func(t *testing.T) {
			_, err := env.Tenants.CreateTenant(t.Context(), connect.NewRequest(&silov1.CreateTenantRequest{Name: "Reserved", Slug: slug}))

			require.Equal(t, connect.CodeInvalidArgument, connect.CodeOf(err))
			require.Contains(t, err.Error(), "reserved")
		})
	}
}

func TestCreateTenantReturnsProvisioningOnTimeout(t *testing.T) {
	t.Parallel()
	block := make(chan struct{})
	env := silotest.Start(t, &silotest.Options{Prepare: blockProvisioning(block)})
	t.Cleanup(func() { close(block) })

	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	resp, err := env.Tenants.CreateTenant(ctx, connect.NewRequest(&silov1.CreateTenantRequest{Name: "Slow", Slug: "slow"}))

	require.NoError(t, err)
	require.Equal(t, silov1.TenantStatus_TENANT_STATUS_PROVISIONING, resp.Msg.GetTenant().GetStatus())
}
