package provision_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"silo.dev/silo/controlplane/provision"
	silov1 "silo.dev/silo/gen/silo/v1"
	"silo.dev/silo/internal/server"
	"silo.dev/silo/internal/silotest"
	"silo.dev/silo/migrations"
)

// failOnceAfter returns a hook that fails the first attempt of each tenant
// right after step, as if the process had died there, and counts the
// failures it injected.
func failOnceAfter(step provision.Step, injected *atomic.Int32) func(context.Context, uuid.UUID, provision.Step) error {
	var failed sync.Map

	return func(_ context.Context, id uuid.UUID, done provision.Step) error {
		if done != step {
			return nil
		}
		if _, already := failed.LoadOrStore(id, true); already {
			return nil
		}
		injected.Add(1)

		return fmt.Errorf("%w after step %s", errInjected, step)
	}
}

func TestProvisionRetriesFailedStep(t *testing.T) {
	t.Parallel()

	for _, step := range provision.Steps {
		t.Run(string(step), func(t *testing.T) {
			t.Parallel()

			var injected atomic.Int32
			f := startSilo(t, &silotest.Options{Prepare: func(s *server.Server) {
				s.Provisioner.SetAfterStep(failOnceAfter(step, &injected))
			}})

			created := f.createTenant(t, "retry-"+string(step))
			id := tenantID(t, created)
			require.Equal(t, silov1.TenantStatus_TENANT_STATUS_ACTIVE, created.GetStatus(), "last error: %q", created.GetLastError())

			// After a failure past the activate step, the tenant is already
			// active while the job's retry is still pending, so the test
			// waits for the job itself.
			job := waitForProvisionJob(t, f.env.Catalog, id, "completed", statusTimeout)
			require.Equal(t, int32(1), injected.Load(), "failures injected")
			require.Equal(t, 2, job.Attempt, "attempts of the provisioning job")
			require.Len(t, job.Errors, 1, "errors recorded on the provisioning job")
			require.Contains(t, job.Errors[0], "after step "+string(step))

			tenant := f.getTenant(t, id)
			require.Equal(t, silov1.TenantStatus_TENANT_STATUS_ACTIVE, tenant.GetStatus())
			require.Empty(t, tenant.GetLastError(), "an active tenant keeps no provisioning error")
			latest, err := migrations.Tenant.Latest()
			require.NoError(t, err)
			require.Equal(t, int64(latest), tenant.GetSchemaVersion())
			requireProvisioned(t, id)
		})
	}
}

func TestProvisionFailsAfterLastAttempt(t *testing.T) {
	t.Parallel()

	for _, step := range []provision.Step{provision.StepRole, provision.StepStamp} {
		t.Run(string(step), func(t *testing.T) {
			t.Parallel()

			var attempts atomic.Int32
			f := startSilo(t, &silotest.Options{Prepare: func(s *server.Server) {
				s.Provisioner.SetAfterStep(func(_ context.Context, _ uuid.UUID, done provision.Step) error {
					if done != step {
						return nil
					}
					attempts.Add(1)

					return fmt.Errorf("%w after step %s", errInjected, step)
				})
			}})

			slug := "doomed-" + string(step)
			resp, err := f.env.Tenants.CreateTenant(t.Context(), connect.NewRequest(&silov1.CreateTenantRequest{
				Name: "Doomed", Slug: slug,
			}))
			require.NoError(t, err)
			created := resp.Msg.GetTenant()
			id := tenantID(t, created)
			f.password(t, id)

			// CreateTenant returns FAILED when the attempts end within its
			// wait. Otherwise the tenant gets there soon after.
			tenant := created
			if tenant.GetStatus() != silov1.TenantStatus_TENANT_STATUS_FAILED {
				tenant = f.waitForStatus(t, id, silov1.TenantStatus_TENANT_STATUS_FAILED)
			}
			require.Contains(t, tenant.GetLastError(), "after step "+string(step)+": "+errInjected.Error())
			require.Equal(t, int64(0), tenant.GetSchemaVersion())

			maxAttempts := silotest.JobOptions(nil).MaxAttempts
			job := waitForProvisionJob(t, f.env.Catalog, id, "discarded", statusTimeout)
			require.Equal(t, maxAttempts, job.Attempt, "attempts of the provisioning job")
			require.Len(t, job.Errors, maxAttempts, "errors recorded on the provisioning job")
			require.Equal(t, int32(maxAttempts), attempts.Load(), "failures injected")

			var audits int
			require.NoError(t, f.env.Catalog.QueryRow(t.Context(), `
				SELECT count(*) FROM audit_events
				WHERE tenant_id = $1 AND action = 'tenant.provision_failed'`, id).Scan(&audits))
			require.Equal(t, 1, audits, "provision_failed audit events")
		})
	}
}
