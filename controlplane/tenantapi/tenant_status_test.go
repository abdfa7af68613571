package tenantapi_test

import (
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	silov1 "silo.dev/silo/gen/silo/v1"
	"silo.dev/silo/internal/config"
	"silo.dev/silo/internal/silotest"
)

func TestSuspendAndResumeTenant(t *testing.T) {
	t.Parallel()
	env := silotest.Start(t, nil)
	id := createTenant(t, env.Tenants, "Acme", "acme").GetId()

	suspended, err := env.Tenants.SuspendTenant(t.Context(), connect.NewRequest(&silov1.SuspendTenantRequest{Id: id}))
	require.NoError(t, err)
	require.Equal(t, silov1.TenantStatus_TENANT_STATUS_SUSPENDED, suspended.Msg.GetTenant().GetStatus())

	again, err := env.Tenants.SuspendTenant(t.Context(), connect.NewRequest(&silov1.SuspendTenantRequest{Id: id}))
	require.NoError(t, err)
	require.Equal(t, silov1.TenantStatus_TENANT_STATUS_SUSPENDED, again.Msg.GetTenant().GetStatus())

	resumed, err := env.Tenants.ResumeTenant(t.Context(), connect.NewRequest(&silov1.ResumeTenantRequest{Id: id}))
	require.NoError(t, err)
	require.Equal(t, silov1.TenantStatus_TENANT_STATUS_ACTIVE, resumed.Msg.GetTenant().GetStatus())
}

func TestSuspendKeepsData(t *testing.T) {
	t.Parallel()
	env := silotest.Start(t, nil)
	id := createTenant(t, env.Tenants, "Acme", "acme").GetId()
	databaseURL := tenantDatabaseURL(t, env, id)
	_, err := execOn(t, databaseURL, `INSERT INTO tickets (title) VALUES ('kept')`)
	require.NoError(t, err)

	_, err = env.Tenants.SuspendTenant(t.Context(), connect.NewRequest(&silov1.SuspendTenantRequest{Id: id}))
	require.NoError(t, err)
	_, err = env.Tenants.ResumeTenant(t.Context(), connect.NewRequest(&silov1.ResumeTenantRequest{Id: id}))
	require.NoError(t, err)

	count, err := execOn(t, databaseURL, `SELECT count(*) FROM tickets WHERE title = 'kept'`)
	require.NoError(t, err)
	require.EqualValues(t, 1, count)
}

func TestStatusChangeErrors(t *testing.T) {
	t.Parallel()
	env := silotest.Start(t, &silotest.Options{Configure: func(c *config.Config) { c.DeleteGracePeriod = time.Hour }})
	active := createTenant(t, env.Tenants, "Active", "active-one").GetId()
	deleting := createTenant(t, env.Tenants, "Deleting", "deleting-one").GetId()
	_, err := env.Tenants.DeleteTenant(t.Context(), connect.NewRequest(&silov1.DeleteTenantRequest{Id: deleting}))
	require.NoError(t, err)

	for _, tc := range []struct {
		name string
		call func() error
		code connect.Code
	}{
		{name: "resume active", call: func() error {
			_, err := env.Tenants.ResumeTenant(t.Context(), connect.NewRequest(&silov1.ResumeTenantRequest{Id: active}))
			return err
		}, code: connect.Code(0)},
		{name: "suspend deleting", call: func() error {
			_, err := env.Tenants.SuspendTenant(t.Context(), connect.NewRequest(&silov1.SuspendTenantRequest{Id: deleting}))
			return err
		}, code: connect.CodeFailedPrecondition},
		{name: "resume deleting", call: func() error {
			_, err := env.Tenants.ResumeTenant(t.Context(), connect.NewRequest(&silov1.ResumeTenantRequest{Id: deleting}))
			return err
		}, code: connect.CodeFailedPrecondition},
		{name: "suspend unknown", call: func() error {
			_, err := env.Tenants.SuspendTenant(t.Context(), connect.NewRequest(&silov1.SuspendTenantRequest{Id: uuid.NewString()}))
			return err
		}, code: connect.CodeNotFound},
		{name: "suspend malformed id", call: func() error {
			_, err := env.Tenants.SuspendTenant(t.Context(), connect.NewRequest(&silov1.SuspendTenantRequest{Id: "no such tenant!"}))
			return err
		}, code: connect.CodeInvalidArgument},
		{name: "delete unknown", call: func() error {
			_, err := env.Tenants.DeleteTenant(t.Context(), connect.NewRequest(&silov1.DeleteTenantRequest{Id: uuid.NewString()}))
			return err
		}, code: connect.CodeNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			if tc.code == 0 {
				require.NoError(t, err)
				return
			}
			require.Equal(t, tc.code, connect.CodeOf(err))
		})
	}
}

func TestDeleteTenantWithGracePeriod(t *testing.T) {
	t.Parallel()
	env := silotest.Start(t, &silotest.Options{Configure: func(c *config.Config) { c.DeleteGracePeriod = time.Hour }})
	id := createTenant(t, env.Tenants, "Acme", "acme").GetId()

	resp, err := env.Tenants.DeleteTenant(t.Context(), connect.NewRequest(&silov1.DeleteTenantRequest{Id: id}))
	require.NoError(t, err)
	tenant := resp.Msg.GetTenant()
	require.Equal(t, silov1.TenantStatus_TENANT_STATUS_DELETING, tenant.GetStatus())
	require.NotNil(t, tenant.GetDeletedAt())
	require.WithinDuration(t, time.Now().Add(time.Hour), tenant.GetPurgeAfter().AsTime(), time.Minute)

	again, err := env.Tenants.DeleteTenant(t.Context(), connect.NewRequest(&silov1.DeleteTenantRequest{Id: id}))
	require.NoError(t, err)
	require.Equal(t, tenant.GetPurgeAfter().AsTime(), again.Msg.GetTenant().GetPurgeAfter().AsTime())

	_, err = env.Tenants.CreateTenant(t.Context(), connect.NewRequest(&silov1.CreateTenantRequest{Name: "Again", Slug: "acme"}))
	require.Equal(t, connect.CodeAlreadyExists, connect.CodeOf(err), "a deleting tenant keeps its slug until purged")
}

func TestDeleteTenantPurges(t *testing.T) {
	t.Parallel()
	env := silotest.Start(t, nil)
	id := createTenant(t, env.Tenants, "Acme", "acme").GetId()

	_, err := env.Tenants.DeleteTenant(t.Context(), connect.NewRequest(&silov1.DeleteTenantRequest{Id: id}))
	require.NoError(t, err)

	require.Eventually(t, func() bool {
		resp, err := env.Tenants.GetTenant(t.Context(), connect.NewRequest(&silov1.GetTenantRequest{Id: id}))
		return err == nil && resp.Msg.GetTenant().GetStatus() == silov1.TenantStatus_TENANT_STATUS_DELETED
	}, 20*time.Second, 50*time.Millisecond)

	list, err := env.Tenants.ListTenants(t.Context(), connect.NewRequest(&silov1.ListTenantsRequest{}))
	require.NoError(t, err)
	require.Empty(t, list.Msg.GetTenants(), "purged tenants are left out by default")
	deleted, err := env.Tenants.ListTenants(t.Context(), connect.NewRequest(&silov1.ListTenantsRequest{Status: silov1.TenantStatus_TENANT_STATUS_DELETED}))
	require.NoError(t, err)
	require.Len(t, deleted.Msg.GetTenants(), 1)

	_, err = env.Tenants.UpdateTenant(t.Context(), connect.NewRequest(&silov1.UpdateTenantRequest{
		Tenant: &silov1.Tenant{Id: id, Name: "Zombie"}, UpdateMask: nameMask(),
	}))
	require.Equal(t, connect.CodeFailedPrecondition, connect.CodeOf(err))

	reused := createTenant(t, env.Tenants, "Acme again", "acme")
	require.NotEqual(t, id, reused.GetId())
}
