package provision_test

import (
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"silo.dev/silo/controlplane/provision"
	silov1 "silo.dev/silo/gen/silo/v1"
	"silo.dev/silo/internal/config"
	"silo.dev/silo/internal/pgtest"
	"silo.dev/silo/internal/secret"
	"silo.dev/silo/internal/server"
	"silo.dev/silo/internal/silotest"
)

// TestProvisionWithoutSuperuser provisions, retries and purges through an
// administrator with only CREATEROLE and CREATEDB, as managed PostgreSQL
// services give.
func TestProvisionWithoutSuperuser(t *testing.T) {
	t.Parallel()
	adminURL := limitedAdmin(t)
	var injected atomic.Int32
	f := startSilo(t, &silotest.Options{
		Configure: func(c *config.Config) {
			c.DatabaseServerURL = adminURL
			c.DeleteGracePeriod = 0
		},
		// The retry after the role step alters the existing role, which is
		// where a limited administrator used to fail.
		Prepare: func(s *server.Server) {
			s.Provisioner.SetAfterStep(failOnceAfter(provision.StepRole, &injected))
		},
	})

	tenant := f.createTenant(t, "limited-admin")
	id := tenantID(t, tenant)
	require.Equal(t, silov1.TenantStatus_TENANT_STATUS_ACTIVE, tenant.GetStatus(), "last error: %q", tenant.GetLastError())
	require.Equal(t, int32(1), injected.Load())
	requireProvisioned(t, id)

	_, err := f.env.Tenants.DeleteTenant(t.Context(), connect.NewRequest(&silov1.DeleteTenantRequest{Id: tenant.GetId()}))
	require.NoError(t, err)
	f.waitForStatus(t, id, silov1.TenantStatus_TENANT_STATUS_DELETED)
}

// limitedAdmin creates a login role with CREATEROLE and CREATEDB only and
// returns its URL on the test cluster's postgres database.
func limitedAdmin(t *testing.T) string {
	t.Helper()

	password, err := secret.NewPassword()
	require.NoError(t, err)
	name := "limited_admin_" + time.Now().Format("150405.000000")
	conn := connectSuperuser(t, "postgres")
	_, err = conn.Exec(t.Context(), "CREATE ROLE "+pgx.Identifier{name}.Sanitize()+
		" WITH LOGIN CREATEROLE CREATEDB PASSWORD '"+password+"'")
	require.NoError(t, err)

	parsed, err := url.Parse(pgtest.Cluster(t).URL("postgres"))
	require.NoError(t, err)
	parsed.User = url.UserPassword(name, password)

	return parsed.String()
}
