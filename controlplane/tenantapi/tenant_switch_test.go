package tenantapi_test

import (
	"testing"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"

	silov1 "silo.dev/silo/gen/silo/v1"
	"silo.dev/silo/gen/silo/v1/silov1connect"
	"silo.dev/silo/internal/silotest"
)

func addUser(t *testing.T, client silov1connect.TenantServiceClient, tenantID, userID string, role silov1.TenantRole) {
	t.Helper()

	_, err := client.AddTenantUser(t.Context(), connect.NewRequest(&silov1.AddTenantUserRequest{TenantId: tenantID, UserId: userID, Role: role}))
	require.NoError(t, err)
}

func TestSwitchBetweenTenants(t *testing.T) {
	t.Parallel()
	env := silotest.Start(t, nil)
	a := createTenant(t, env.Tenants, "Tenant A", "tenant-a")
	b := createTenant(t, env.Tenants, "Tenant B", "tenant-b")
	addUser(t, env.Tenants, a.GetId(), "bob", silov1.TenantRole_TENANT_ROLE_MEMBER)
	addUser(t, env.Tenants, b.GetId(), "bob", silov1.TenantRole_TENANT_ROLE_VIEWER)
	bob := env.UserClient(t, "bob")

	mine, err := bob.ListMyTenants(t.Context(), connect.NewRequest(&silov1.ListMyTenantsRequest{}))
	require.NoError(t, err)
	require.Len(t, mine.Msg.GetMemberships(), 2)
	require.Equal(t, "tenant-a", mine.Msg.GetMemberships()[0].GetTenant().GetSlug())
	require.Equal(t, silov1.TenantRole_TENANT_ROLE_MEMBER, mine.Msg.GetMemberships()[0].GetRole())
	require.Equal(t, silov1.TenantRole_TENANT_ROLE_VIEWER, mine.Msg.GetMemberships()[1].GetRole())

	_, err = bob.GetCurrentTenant(t.Context(), connect.NewRequest(&silov1.GetCurrentTenantRequest{}))
	require.Equal(t, connect.CodeNotFound, connect.CodeOf(err))
	require.Contains(t, err.Error(), "SwitchTenant")

	for _, tc := range []struct {
		ref      string
		wantID   string
		wantRole silov1.TenantRole
	}{
		{ref: a.GetId(), wantID: a.GetId(), wantRole: silov1.TenantRole_TENANT_ROLE_MEMBER},
		{ref: "TENANT-B", wantID: b.GetId(), wantRole: silov1.TenantRole_TENANT_ROLE_VIEWER},
	} {
		switched, err := bob.SwitchTenant(t.Context(), connect.NewRequest(&silov1.SwitchTenantRequest{TenantId: tc.ref}))
		require.NoError(t, err)
		require.Equal(t, tc.wantID, switched.Msg.GetTenant().GetId())
		require.Equal(t, tc.wantRole, switched.Msg.GetRole())
		require.NotEmpty(t, switched.Msg.GetToken())
		require.True(t, switched.Msg.GetTokenExpiresAt().AsTime().After(switched.Msg.GetTenant().GetCreatedAt().AsTime()))

		current, err := bob.GetCurrentTenant(t.Context(), connect.NewRequest(&silov1.GetCurrentTenantRequest{}))
		require.NoError(t, err)
		require.Equal(t, tc.wantID, current.Msg.GetTenant().GetId())
		require.Equal(t, tc.wantRole, current.Msg.GetRole())
	}
}

func TestSwitchToOtherTenantHidden(t *testing.T) {
	t.Parallel()
	env := silotest.Start(t, nil)
	a := createTenant(t, env.Tenants, "Tenant A", "tenant-a")
	b := createTenant(t, env.Tenants, "Tenant B", "tenant-b")
	addUser(t, env.Tenants, a.GetId(), "carol", silov1.TenantRole_TENANT_ROLE_MEMBER)
	carol := env.UserClient(t, "carol")

	for _, ref := range []string{b.GetId(), "tenant-b", "no-such-tenant"} {
		_, err := carol.SwitchTenant(t.Context(), connect.NewRequest(&silov1.SwitchTenantRequest{TenantId: ref}))
		require.Equal(t, connect.CodeNotFound, connect.CodeOf(err), ref)
	}
	_, err := carol.GetTenant(t.Context(), connect.NewRequest(&silov1.GetTenantRequest{Id: b.GetId()}))
	require.Equal(t, connect.CodeNotFound, connect.CodeOf(err))
	_, err = carol.GetTenant(t.Context(), connect.NewRequest(&silov1.GetTenantRequest{Slug: "tenant-b"}))
	require.Equal(t, connect.CodeNotFound, connect.CodeOf(err))
}

func TestSwitchToSuspendedTenant(t *testing.T) {
	t.Parallel()
	env := silotest.Start(t, nil)
	a := createTenant(t, env.Tenants, "Tenant A", "tenant-a")
	addUser(t, env.Tenants, a.GetId(), "dave", silov1.TenantRole_TENANT_ROLE_MEMBER)
	_, err := env.Tenants.SuspendTenant(t.Context(), connect.NewRequest(&silov1.SuspendTenantRequest{Id: a.GetId()}))
	require.NoError(t, err)

	_, err = env.UserClient(t, "dave").SwitchTenant(t.Context(), connect.NewRequest(&silov1.SwitchTenantRequest{TenantId: a.GetId()}))

	require.Equal(t, connect.CodeFailedPrecondition, connect.CodeOf(err))
	require.Contains(t, err.Error(), "suspended")
}

func TestRemovedUserLosesSwitchAndToken(t *testing.T) {
	t.Parallel()
	env := silotest.Start(t, nil)
	a := createTenant(t, env.Tenants, "Tenant A", "tenant-a")
	addUser(t, env.Tenants, a.GetId(), "erin", silov1.TenantRole_TENANT_ROLE_MEMBER)
	erin := env.UserClient(t, "erin")
	switched, err := erin.SwitchTenant(t.Context(), connect.NewRequest(&silov1.SwitchTenantRequest{TenantId: a.GetId()}))
	require.NoError(t, err)
	scoped := env.Client(switched.Msg.GetToken())
	_, err = scoped.GetCurrentTenant(t.Context(), connect.NewRequest(&silov1.GetCurrentTenantRequest{}))
	require.NoError(t, err, "the tenant-scoped token works while erin is a member")

	owner := env.UserClient(t, silotest.AdminSubject)
	_, err = owner.RemoveTenantUser(t.Context(), connect.NewRequest(&silov1.RemoveTenantUserRequest{TenantId: a.GetId(), UserId: "erin"}))
	require.NoError(t, err)

	_, err = erin.GetCurrentTenant(t.Context(), connect.NewRequest(&silov1.GetCurrentTenantRequest{}))
	require.Equal(t, connect.CodeNotFound, connect.CodeOf(err))
	_, err = scoped.GetCurrentTenant(t.Context(), connect.NewRequest(&silov1.GetCurrentTenantRequest{}))
	require.Equal(t, connect.CodeUnauthenticated, connect.CodeOf(err))
}
