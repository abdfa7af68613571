package tenantapi_test

import (
	"testing"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/structpb"

	silov1 "silo.dev/silo/gen/silo/v1"
	"silo.dev/silo/internal/silotest"
)

func TestUpdateTenantConfigReplacedWhole(t *testing.T) {
	t.Parallel()
	env := silotest.Start(t, nil)
	first, err := structpb.NewStruct(map[string]any{"plan": "pro", "region": "eu"})
	require.NoError(t, err)
	created, err := env.Tenants.CreateTenant(t.Context(), connect.NewRequest(&silov1.CreateTenantRequest{Name: "Acme", Slug: "acme", Config: first}))
	require.NoError(t, err)
	id := created.Msg.GetTenant().GetId()
	second, err := structpb.NewStruct(map[string]any{"plan": "enterprise", "features": []any{"sso", "audit"}})
	require.NoError(t, err)

	updated, err := env.Tenants.UpdateTenant(t.Context(), connect.NewRequest(&silov1.UpdateTenantRequest{
		Tenant:     &silov1.Tenant{Id: id, Config: second, Name: "ignored"},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"config"}},
	}))
	require.NoError(t, err)
	read, err := env.Tenants.GetTenant(t.Context(), connect.NewRequest(&silov1.GetTenantRequest{Id: id}))
	require.NoError(t, err)

	for _, tenant := range []*silov1.Tenant{updated.Msg.GetTenant(), read.Msg.GetTenant()} {
		require.Equal(t, "Acme", tenant.GetName())
		require.Equal(t, second.AsMap(), tenant.GetConfig().AsMap())
		require.NotContains(t, tenant.GetConfig().AsMap(), "region")
	}
}

func TestUpdateTenantNameAndSlug(t *testing.T) {
	t.Parallel()
	env := silotest.Start(t, nil)
	id := createTenant(t, env.Tenants, "Acme", "acme").GetId()

	updated, err := env.Tenants.UpdateTenant(t.Context(), connect.NewRequest(&silov1.UpdateTenantRequest{
		Tenant:     &silov1.Tenant{Id: id, Name: "Acme Industries", Slug: "Acme-Industries"},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"name", "slug"}},
	}))
	require.NoError(t, err)
	require.Equal(t, "Acme Industries", updated.Msg.GetTenant().GetName())
	require.Equal(t, "acme-industries", updated.Msg.GetTenant().GetSlug())

	bySlug, err := env.Tenants.GetTenant(t.Context(), connect.NewRequest(&silov1.GetTenantRequest{Slug: "acme-industries"}))
	require.NoError(t, err)
	require.Equal(t, id, bySlug.Msg.GetTenant().GetId())
	_, err = env.Tenants.GetTenant(t.Context(), connect.NewRequest(&silov1.GetTenantRequest{Slug: "acme"}))
	require.Equal(t, connect.CodeNotFound, connect.CodeOf(err))
}

func TestUpdateTenantErrors(t *testing.T) {
	t.Parallel()
	env := silotest.Start(t, nil)
	id := createTenant(t, env.Tenants, "Acme", "acme").GetId()
	createTenant(t, env.Tenants, "Other", "other")

	for _, tc := range []struct {
		name    string
		request *silov1.UpdateTenantRequest
		code    connect.Code
	}{
		{name: "missing tenant", request: &silov1.UpdateTenantRequest{UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"name"}}}, code: connect.CodeInvalidArgument},
		{name: "missing mask", request: &silov1.UpdateTenantRequest{Tenant: &silov1.Tenant{Id: id, Name: "New"}}, code: connect.CodeInvalidArgument},
		{name: "unknown path", request: &silov1.UpdateTenantRequest{
			Tenant: &silov1.Tenant{Id: id}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"status"}},
		}, code: connect.CodeInvalidArgument},
		{name: "invalid name", request: &silov1.UpdateTenantRequest{
			Tenant: &silov1.Tenant{Id: id, Name: ""}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"name"}},
		}, code: connect.CodeInvalidArgument},
		{name: "invalid slug", request: &silov1.UpdateTenantRequest{
			Tenant: &silov1.Tenant{Id: id, Slug: "api"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"slug"}},
		}, code: connect.CodeInvalidArgument},
		{name: "taken slug", request: &silov1.UpdateTenantRequest{
			Tenant: &silov1.Tenant{Id: id, Slug: "other"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"slug"}},
		}, code: connect.CodeAlreadyExists},
		{name: "unknown id", request: &silov1.UpdateTenantRequest{
			Tenant: &silov1.Tenant{Id: uuid.NewString(), Name: "New"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"name"}},
		}, code: connect.CodeNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := env.Tenants.UpdateTenant(t.Context(), connect.NewRequest(tc.request))

			require.Equal(t, tc.code, connect.CodeOf(err))
		})
	}
}
