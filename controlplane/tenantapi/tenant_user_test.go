package tenantapi_test

import (
	"fmt"
	"testing"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	silov1 "silo.dev/silo/gen/silo/v1"
	"silo.dev/silo/internal/silotest"
)

func TestCreateTenantOwner(t *testing.T) {
	t.Parallel()
	env := silotest.Start(t, nil)

	resp, err := env.Tenants.CreateTenant(t.Context(), connect.NewRequest(&silov1.CreateTenantRequest{Name: "Acme", Slug: "acme", OwnerUserId: "frank"}))
	require.NoError(t, err)
	byCreator := createTenant(t, env.Tenants, "Beta", "beta")

	users, err := env.UserClient(t, "frank").ListTenantUsers(t.Context(), connect.NewRequest(&silov1.ListTenantUsersRequest{TenantId: resp.Msg.GetTenant().GetId()}))
	require.NoError(t, err)
	require.Len(t, users.Msg.GetTenantUsers(), 1)
	require.Equal(t, "frank", users.Msg.GetTenantUsers()[0].GetUserId())
	require.Equal(t, silov1.TenantRole_TENANT_ROLE_OWNER, users.Msg.GetTenantUsers()[0].GetRole())

	creator := env.UserClient(t, silotest.AdminSubject)
	mine, err := creator.ListMyTenants(t.Context(), connect.NewRequest(&silov1.ListMyTenantsRequest{}))
	require.NoError(t, err)
	require.Len(t, mine.Msg.GetMemberships(), 1)
	require.Equal(t, byCreator.GetId(), mine.Msg.GetMemberships()[0].GetTenant().GetId())
}

func TestLastOwnerStays(t *testing.T) {
	t.Parallel()
	env := silotest.Start(t, nil)
	id := createTenant(t, env.Tenants, "Acme", "acme").GetId()
	owner := env.UserClient(t, silotest.AdminSubject)

	_, err := owner.RemoveTenantUser(t.Context(), connect.NewRequest(&silov1.RemoveTenantUserRequest{TenantId: id, UserId: silotest.AdminSubject}))
	require.Equal(t, connect.CodeFailedPrecondition, connect.CodeOf(err))
	_, err = owner.UpdateTenantUser(t.Context(), connect.NewRequest(&silov1.UpdateTenantUserRequest{
		TenantId: id, UserId: silotest.AdminSubject, Role: silov1.TenantRole_TENANT_ROLE_ADMIN,
	}))
	require.Equal(t, connect.CodeFailedPrecondition, connect.CodeOf(err))

	addUser(t, owner, id, "grace", silov1.TenantRole_TENANT_ROLE_OWNER)
	_, err = owner.UpdateTenantUser(t.Context(), connect.NewRequest(&silov1.UpdateTenantUserRequest{
		TenantId: id, UserId: silotest.AdminSubject, Role: silov1.TenantRole_TENANT_ROLE_ADMIN,
	}))
	require.NoError(t, err, "with a second owner the first may step down")
}

func TestTenantAdminCannotTouchOwners(t *testing.T) {
	t.Parallel()
	env := silotest.Start(t, nil)
	id := createTenant(t, env.Tenants, "Acme", "acme").GetId()
	owner := env.UserClient(t, silotest.AdminSubject)
	addUser(t, owner, id, "heidi", silov1.TenantRole_TENANT_ROLE_ADMIN)
	heidi := env.UserClient(t, "heidi")

	_, err := heidi.AddTenantUser(t.Context(), connect.NewRequest(&silov1.AddTenantUserRequest{TenantId: id, UserId: "ivan", Role: silov1.TenantRole_TENANT_ROLE_OWNER}))
	require.Equal(t, connect.CodePermissionDenied, connect.CodeOf(err), "an admin cannot grant owner")
	_, err = heidi.UpdateTenantUser(t.Context(), connect.NewRequest(&silov1.UpdateTenantUserRequest{TenantId: id, UserId: "heidi", Role: silov1.TenantRole_TENANT_ROLE_OWNER}))
	require.Equal(t, connect.CodePermissionDenied, connect.CodeOf(err), "an admin cannot promote themselves")
	_, err = heidi.UpdateTenantUser(t.Context(), connect.NewRequest(&silov1.UpdateTenantUserRequest{TenantId: id, UserId: silotest.AdminSubject, Role: silov1.TenantRole_TENANT_ROLE_MEMBER}))
	require.Equal(t, connect.CodePermissionDenied, connect.CodeOf(err), "an admin cannot demote an owner")
	_, err = heidi.RemoveTenantUser(t.Context(), connect.NewRequest(&silov1.RemoveTenantUserRequest{TenantId: id, UserId: silotest.AdminSubject}))
	require.Equal(t, connect.CodePermissionDenied, connect.CodeOf(err), "an admin cannot remove an owner")

	addUser(t, heidi, id, "ivan", silov1.TenantRole_TENANT_ROLE_MEMBER)
	_, err = heidi.UpdateTenant(t.Context(), connect.NewRequest(&silov1.UpdateTenantRequest{
		Tenant: &silov1.Tenant{Id: id, Name: "Acme by Heidi"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"name"}},
	}))
	require.NoError(t, err, "an admin changes the tenant's name")
	_, err = heidi.UpdateTenant(t.Context(), connect.NewRequest(&silov1.UpdateTenantRequest{
		Tenant: &silov1.Tenant{Id: id, Slug: "heidis"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"slug"}},
	}))
	require.Equal(t, connect.CodePermissionDenied, connect.CodeOf(err), "only platform administrators change slugs")
}

func TestTenantUserErrors(t *testing.T) {
	t.Parallel()
	env := silotest.Start(t, nil)
	id := createTenant(t, env.Tenants, "Acme", "acme").GetId()
	owner := env.UserClient(t, silotest.AdminSubject)
	addUser(t, owner, id, "judy", silov1.TenantRole_TENANT_ROLE_MEMBER)

	for _, tc := range []struct {
		name string
		call func() error
		code connect.Code
	}{
		{name: "add twice", call: func() error {
			_, err := owner.AddTenantUser(t.Context(), connect.NewRequest(&silov1.AddTenantUserRequest{TenantId: id, UserId: "judy", Role: silov1.TenantRole_TENANT_ROLE_VIEWER}))
			return err
		}, code: connect.CodeAlreadyExists},
		{name: "add without role", call: func() error {
			_, err := owner.AddTenantUser(t.Context(), connect.NewRequest(&silov1.AddTenantUserRequest{TenantId: id, UserId: "karl"}))
			return err
		}, code: connect.CodeInvalidArgument},
		{name: "add without user", call: func() error {
			_, err := owner.AddTenantUser(t.Context(), connect.NewRequest(&silov1.AddTenantUserRequest{TenantId: id, Role: silov1.TenantRole_TENANT_ROLE_VIEWER}))
			return err
		}, code: connect.CodeInvalidArgument},
		{name: "add control character", call: func() error {
			_, err := owner.AddTenantUser(t.Context(), connect.NewRequest(&silov1.AddTenantUserRequest{TenantId: id, UserId: "ka\nrl", Role: silov1.TenantRole_TENANT_ROLE_VIEWER}))
			return err
		}, code: connect.CodeInvalidArgument},
		{name: "update unknown user", call: func() error {
			_, err := owner.UpdateTenantUser(t.Context(), connect.NewRequest(&silov1.UpdateTenantUserRequest{TenantId: id, UserId: "nobody", Role: silov1.TenantRole_TENANT_ROLE_VIEWER}))
			return err
		}, code: connect.CodeNotFound},
		{name: "remove unknown user", call: func() error {
			_, err := owner.RemoveTenantUser(t.Context(), connect.NewRequest(&silov1.RemoveTenantUserRequest{TenantId: id, UserId: "nobody"}))
			return err
		}, code: connect.CodeNotFound},
		{name: "list without tenant", call: func() error {
			_, err := owner.ListTenantUsers(t.Context(), connect.NewRequest(&silov1.ListTenantUsersRequest{}))
			return err
		}, code: connect.CodeInvalidArgument},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.code, connect.CodeOf(tc.call()))
		})
	}
}

func TestListTenantUsersPages(t *testing.T) {
	t.Parallel()
	env := silotest.Start(t, nil)
	id := createTenant(t, env.Tenants, "Acme", "acme").GetId()
	owner := env.UserClient(t, silotest.AdminSubject)
	want := []string{}
	for i := range 4 {
		user := fmt.Sprintf("user-%d", i)
		addUser(t, owner, id, user, silov1.TenantRole_TENANT_ROLE_VIEWER)
		want = append(want, user)
	}
	want = append(want, silotest.AdminSubject)

	var got []string
	token := ""
	for {
		resp, err := owner.ListTenantUsers(t.Context(), connect.NewRequest(&silov1.ListTenantUsersRequest{TenantId: id, PageSize: 2, PageToken: token}))
		require.NoError(t, err)
		for _, u := range resp.Msg.GetTenantUsers() {
			got = append(got, u.GetUserId())
		}
		if token = resp.Msg.GetNextPageToken(); token == "" {
			break
		}
	}

	require.ElementsMatch(t, want, got)
	require.IsNonDecreasing(t, got)
}

func TestAuditEvents(t *testing.T) {
	t.Parallel()
	env := silotest.Start(t, nil)
	a := createTenant(t, env.Tenants, "Tenant A", "tenant-a").GetId()
	b := createTenant(t, env.Tenants, "Tenant B", "tenant-b").GetId()
	owner := env.UserClient(t, silotest.AdminSubject)
	addUser(t, owner, a, "liam", silov1.TenantRole_TENANT_ROLE_MEMBER)
	_, err := env.Tenants.SuspendTenant(t.Context(), connect.NewRequest(&silov1.SuspendTenantRequest{Id: b}))
	require.NoError(t, err)

	resp, err := env.Tenants.ListAuditEvents(t.Context(), connect.NewRequest(&silov1.ListAuditEventsRequest{TenantId: a}))
	require.NoError(t, err)
	var actions []string
	for _, e := range resp.Msg.GetAuditEvents() {
		require.Equal(t, a, e.GetTenantId())
		actions = append(actions, e.GetAction())
	}
	require.Equal(t, []string{"tenant_user.add", "tenant.provisioned", "tenant_user.add", "tenant.create"}, actions)
	newest := resp.Msg.GetAuditEvents()[0]
	require.Equal(t, silotest.AdminSubject, newest.GetActor())
	require.Equal(t, "liam", newest.GetDetails().GetFields()["user_id"].GetStringValue())

	var all []int64
	token := ""
	for {
		page, err := env.Tenants.ListAuditEvents(t.Context(), connect.NewRequest(&silov1.ListAuditEventsRequest{PageSize: 3, PageToken: token}))
		require.NoError(t, err)
		for _, e := range page.Msg.GetAuditEvents() {
			all = append(all, e.GetId())
		}
		if token = page.Msg.GetNextPageToken(); token == "" {
			break
		}
	}
	require.Len(t, all, 8)
	require.IsDecreasing(t, all)
}
