package tenantapi_test

import (
	"testing"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"

	silov1 "silo.dev/silo/gen/silo/v1"
	"silo.dev/silo/internal/silotest"
)

func TestCreateTenantActive(t *testing.T) {
	t.Parallel()
	env := silotest.Start(t, nil)

	resp, err := env.Tenants.CreateTenant(t.Context(), connect.NewRequest(&silov1.CreateTenantRequest{
		Name: "Acme", Slug: "acme",
	}))
	require.NoError(t, err)
	require.Equal(t, silov1.TenantStatus_TENANT_STATUS_ACTIVE, resp.Msg.GetTenant().GetStatus())
}
