package provision_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"silo.dev/silo/controlplane/catalog"
	"silo.dev/silo/controlplane/provision"
	silov1 "silo.dev/silo/gen/silo/v1"
	"silo.dev/silo/internal/pgtest"
	"silo.dev/silo/internal/server"
	"silo.dev/silo/internal/silotest"
)

// TestRolePasswordNotLeaked runs the paths that write errors, job rows and
// server log lines about a tenant: retried steps, logins with the right
// and a wrong password, a failed tenant, and a purge. Every other test
// that uses startSilo runs the same leak check when it ends.
func TestRolePasswordNotLeaked(t *testing.T) {
	t.Parallel()

	// Each tenant fails once after the role step and once after the
	// migrate step, so its job records two errors before it succeeds.
	var failedMu sync.Mutex
	failed := map[string]bool{}
	retried := startSilo(t, &silotest.Options{Prepare: func(s *server.Server) {
		s.Provisioner.SetAfterStep(func(_ context.Context, id uuid.UUID, step provision.Step) error {
			if step != provision.StepRole && step != provision.StepMigrate {
				return nil
			}
			failedMu.Lock()
			defer failedMu.Unlock()
			key := id.String() + "/" + string(step)
			if failed[key] {
				return nil
			}
			failed[key] = true

			return fmt.Errorf("%w after step %s", errInjected, step)
		})
	}})
	doomed := startSilo(t, &silotest.Options{Prepare: func(s *server.Server) {
		s.Provisioner.SetAfterStep(func(_ context.Context, _ uuid.UUID, step provision.Step) error {
			return fmt.Errorf("%w after step %s", errInjected, step)
		})
	}})

	id := tenantID(t, retried.createTenant(t, "leaky"))
	require.Equal(t, 3, readProvisionJob(t, retried.env.Catalog, id).Attempt, "attempts of the retried job")
	password := retried.password(t, id)
	role := catalog.ObjectName(id)

	conn, err := connectAs(t.Context(), t, role, password, role)
	require.NoError(t, err)
	require.NoError(t, conn.Close(t.Context()))
	_, err = connectAs(t.Context(), t, role, password+"wrong", role)
	requireSQLState(t, err, "28P01", "login with a wrong password")

	failedID := tenantID(t, doomed.createTenant(t, "failing"))
	doomed.waitForStatus(t, failedID, silov1.TenantStatus_TENANT_STATUS_FAILED)

	retried.deleteTenant(t, id)
	retried.waitForStatus(t, id, silov1.TenantStatus_TENANT_STATUS_DELETED)

	// The sources must mention the tenants, or the leak check below would
	// pass on the wrong texts.
	requireSomeLineContains(t, retried.env.Logs.Lines(), id.String(), "silo log")
	requireSomeLineContains(t, pgtest.LogLines(t), "user="+role, "PostgreSQL server log")
	retriedRows := catalogRowsAsText(t.Context(), t, retried.env.Catalog)
	requireSomeLineContains(t, retriedRows["river_job"], errInjected.Error(), "river_job")
	doomedRows := catalogRowsAsText(t.Context(), t, doomed.env.Catalog)
	requireSomeLineContains(t, doomedRows["tenants"], errInjected.Error(), "tenants")

	retried.requireNoPasswordLeak(t.Context(), t)
	doomed.requireNoPasswordLeak(t.Context(), t)
}

// requireSomeLineContains fails the test unless a line of source contains
// text.
func requireSomeLineContains(t *testing.T, lines []string, text, source string) {
	t.Helper()

	for _, line := range lines {
		if strings.Contains(line, text) {
			return
		}
	}
	require.Failf(t, "text not found", "no line of %s (%d lines) contains %q", source, len(lines), text)
}
