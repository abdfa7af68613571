package provision_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"silo.dev/silo/controlplane/catalog"
	"silo.dev/silo/controlplane/provision"
	silov1 "silo.dev/silo/gen/silo/v1"
	"silo.dev/silo/internal/config"
	"silo.dev/silo/internal/server"
	"silo.dev/silo/internal/silotest"
)

// countTenantObjects returns how many roles and databases on the test
// cluster carry the name of tenant id.
func countTenantObjects(t *testing.T, id uuid.UUID) (roles, databases int) {
	t.Helper()

	admin := connectSuperuser(t, "postgres")
	err := admin.QueryRow(t.Context(), `
		SELECT (SELECT count(*) FROM pg_roles WHERE rolname = $1),
		       (SELECT count(*) FROM pg_database WHERE datname = $1)`, catalog.ObjectName(id)).
		Scan(&roles, &databases)
	require.NoError(t, err)

	return roles, databases
}

func (f *fixture) deleteTenant(t *testing.T, id uuid.UUID) *silov1.Tenant {
	t.Helper()

	resp, err := f.env.Tenants.DeleteTenant(t.Context(), connect.NewRequest(&silov1.DeleteTenantRequest{Id: id.String()}))
	require.NoError(t, err, "delete tenant %s", id)

	return resp.Msg.GetTenant()
}

func TestPurgeDropsConnectedDatabase(t *testing.T) {
	t.Parallel()

	f := startSilo(t, nil)
	const slug = "purged"
	id := tenantID(t, f.createTenant(t, slug))
	role := catalog.ObjectName(id)
	password := f.password(t, id)

	// A session of the tenant's own role stays open across the purge, as a
	// data plane pool would.
	session, err := connectAs(t.Context(), t, role, password, role)
	require.NoError(t, err)
	defer session.Close(t.Context())
	_, err = session.Exec(t.Context(), `SELECT 1`)
	require.NoError(t, err)

	deleting := f.deleteTenant(t, id)
	require.Equal(t, silov1.TenantStatus_TENANT_STATUS_DELETING, deleting.GetStatus())

	deleted := f.waitForStatus(t, id, silov1.TenantStatus_TENANT_STATUS_DELETED)
	require.NotNil(t, deleted.GetDeletedAt())
	roles, databases := countTenantObjects(t, id)
	require.Zero(t, roles, "roles of the purged tenant")
	require.Zero(t, databases, "databases of the purged tenant")

	_, err = session.Exec(t.Context(), `SELECT 1`)
	require.Error(t, err, "query on a session to the dropped database")

	var audits int
	require.NoError(t, f.env.Catalog.QueryRow(t.Context(),
		`SELECT count(*) FROM audit_events WHERE tenant_id = $1 AND action = 'tenant.purge'`, id).Scan(&audits))
	require.Equal(t, 1, audits, "purge audit events")

	reused := f.createTenant(t, slug)
	reusedID := tenantID(t, reused)
	require.NotEqual(t, id, reusedID, "a reused slug gets a new tenant")
	require.Equal(t, slug, reused.GetSlug())
	require.Equal(t, silov1.TenantStatus_TENANT_STATUS_ACTIVE, reused.GetStatus())
	requireProvisioned(t, reusedID)

	resp, err := f.env.Tenants.GetTenant(t.Context(), connect.NewRequest(&silov1.GetTenantRequest{Slug: slug}))
	require.NoError(t, err)
	require.Equal(t, reusedID.String(), resp.Msg.GetTenant().GetId(), "tenant found by the reused slug")
}

func TestPurgeWaitsForGracePeriod(t *testing.T) {
	t.Parallel()

	const grace = time.Hour
	f := startSilo(t, &silotest.Options{Configure: func(c *config.Config) {
		c.DeleteGracePeriod = grace
	}})
	const slug = "graceful"
	id := tenantID(t, f.createTenant(t, slug))

	deletedAt := time.Now()
	deleting := f.deleteTenant(t, id)
	require.Equal(t, silov1.TenantStatus_TENANT_STATUS_DELETING, deleting.GetStatus())
	require.WithinDuration(t, deletedAt.Add(grace), deleting.GetPurgeAfter().AsTime(), time.Minute, "purge_after")

	// A purge job scheduled for now by mistake would be available at once
	// and would run within this wait.
	time.Sleep(time.Second)

	tenant := f.getTenant(t, id)
	require.Equal(t, silov1.TenantStatus_TENANT_STATUS_DELETING, tenant.GetStatus())
	roles, databases := countTenantObjects(t, id)
	require.Equal(t, 1, roles, "roles of the tenant in its grace period")
	require.Equal(t, 1, databases, "databases of the tenant in its grace period")

	var state string
	var scheduledAt time.Time
	require.NoError(t, f.env.Catalog.QueryRow(t.Context(), `
		SELECT state::text, scheduled_at FROM river_job
		WHERE kind = 'silo.purge_tenant' AND args->>'tenant_id' = $1`, id.String()).Scan(&state, &scheduledAt))
	require.Equal(t, "scheduled", state, "purge job state")
	require.WithinDuration(t, deleting.GetPurgeAfter().AsTime(), scheduledAt, time.Second, "purge job scheduled_at")

	_, err := f.env.Tenants.CreateTenant(t.Context(), connect.NewRequest(&silov1.CreateTenantRequest{
		Name: "Successor", Slug: slug,
	}))
	require.Equal(t, connect.CodeAlreadyExists, connect.CodeOf(err), "a deleting tenant keeps its slug: %v", err)
}

func TestDeleteDuringProvisioning(t *testing.T) {
	t.Parallel()

	// The hook holds the first attempt of each tenant after the database
	// step until the test has deleted the tenant. The purge job waits for
	// the tenant lock that the provisioning job holds meanwhile.
	heldTenant := make(chan uuid.UUID, 1)
	release := make(chan struct{})
	var holdOnce sync.Once
	f := startSilo(t, &silotest.Options{Prepare: func(s *server.Server) {
		s.Provisioner.SetAfterStep(func(ctx context.Context, id uuid.UUID, step provision.Step) error {
			if step != provision.StepDatabase {
				return nil
			}
			holdOnce.Do(func() {
				heldTenant <- id
				select {
				case <-release:
				case <-ctx.Done():
				}
			})

			return nil
		})
	}})

	created := make(chan *silov1.Tenant, 1)
	go func() {
		resp, err := f.env.Tenants.CreateTenant(context.WithoutCancel(t.Context()), connect.NewRequest(&silov1.CreateTenantRequest{
			Name: "Short-lived", Slug: "short-lived",
		}))
		if err != nil {
			created <- nil
			return
		}
		created <- resp.Msg.GetTenant()
	}()

	var id uuid.UUID
	select {
	case id = <-heldTenant:
	case <-time.After(statusTimeout):
		require.FailNow(t, "provisioning did not reach the database step")
	}
	f.password(t, id)
	deleting := f.deleteTenant(t, id)
	require.Equal(t, silov1.TenantStatus_TENANT_STATUS_DELETING, deleting.GetStatus())
	close(release)

	f.waitForStatus(t, id, silov1.TenantStatus_TENANT_STATUS_DELETED)
	roles, databases := countTenantObjects(t, id)
	require.Zero(t, roles, "roles of the purged tenant")
	require.Zero(t, databases, "databases of the purged tenant")

	response := <-created
	require.NotNil(t, response, "CreateTenant failed")
	require.NotEqual(t, silov1.TenantStatus_TENANT_STATUS_ACTIVE, response.GetStatus(),
		"CreateTenant of a tenant deleted while provisioning")
	waitForProvisionJob(t, f.env.Catalog, id, "completed", statusTimeout)
}
