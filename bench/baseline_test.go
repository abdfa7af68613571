//go:build bench

package bench

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"

	"silo.dev/silo/controlplane/catalog"
	"silo.dev/silo/controlplane/provision"
	"silo.dev/silo/internal/secret"
	"silo.dev/silo/internal/silotest"
	"silo.dev/silo/migrations"
)

// The statements below are the ones provision.Provisioner sends itself,
// copied because they are not exported. checkSameStatements fails the
// benchmark when the baseline sends a statement that a silo round did not
// send, so a change to one of them on either side is caught.
const (
	// createRoleSQL takes the quoted role, the connection limit and the
	// quoted SCRAM verifier.
	createRoleSQL = "CREATE ROLE %s WITH NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT LOGIN CONNECTION LIMIT %d PASSWORD %s"
	// createDatabaseSQL takes the quoted database and role.
	createDatabaseSQL = "CREATE DATABASE %s OWNER %s TEMPLATE template0 ENCODING 'UTF8'"
	// revokeSQL takes the quoted database.
	revokeSQL = "REVOKE CONNECT, TEMPORARY ON DATABASE %s FROM PUBLIC"

	stampSQL     = `INSERT INTO tenant_identity (tenant_id) VALUES ($1) ON CONFLICT (singleton) DO NOTHING`
	readStampSQL = `SELECT tenant_id FROM tenant_identity`
	// foreignObjectsSQL lists the objects in the tenant database that its
	// role does not own.
	foreignObjectsSQL = `
		SELECT n.nspname || '.' || c.relname
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
		  AND c.relowner <> (SELECT oid FROM pg_roles WHERE rolname = current_user)
		ORDER BY 1`
)

// baseline provisions tenants with the statements of the provisioning job
// and nothing else: no API, no job queue, no tenant lock, no catalog reads
// and no checks for objects left by an earlier attempt. The administrator
// and catalog statements go over one warm connection.
type baseline struct {
	// pool has a single connection to the database server, which is also
	// the catalog database.
	pool      *pgxpool.Pool
	store     *catalog.Store
	box       *secret.Box
	serverID  uuid.UUID
	connLimit int
	// jobs inserts the placeholder job of each baseline tenant; see
	// createTenantRow.
	jobs *river.Client[pgx.Tx]
}

// placeholderJobDelay is how far in the future a baseline tenant's
// placeholder job is scheduled, so it never runs during the benchmark.
const placeholderJobDelay = 24 * time.Hour

// newBaseline opens the baseline's connection to the server and catalog of
// env, which must be the same database, as in silotest.
func newBaseline(t *testing.T, env *silotest.Env) *baseline {
	t.Helper()

	require.Equal(t, env.CatalogURL, env.Config.ServerURL(),
		"the baseline sends catalog and administrator statements over one connection, so they must share a database")

	poolConfig, err := pgxpool.ParseConfig(env.Config.ServerURL())
	require.NoError(t, err)
	poolConfig.MaxConns = 1
	poolConfig.MinConns = 1
	poolConfig.ConnConfig.RuntimeParams["application_name"] = "silo-bench-baseline"
	pool, err := pgxpool.NewWithConfig(t.Context(), poolConfig)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	require.NoError(t, pool.Ping(t.Context()))

	box, err := secret.NewBox(env.Config.Key())
	require.NoError(t, err)
	store := catalog.New(pool)
	server, err := store.PlaceTenant(t.Context())
	require.NoError(t, err)

	// A client without workers or queues only inserts jobs.
	jobs, err := river.NewClient(riverpgxv5.New(pool), &river.Config{})
	require.NoError(t, err)

	return &baseline{
		pool:      pool,
		store:     store,
		box:       box,
		serverID:  server.ID,
		connLimit: env.Config.TenantConnectionLimit,
		jobs:      jobs,
	}
}

// backendPID returns the server process id of the baseline's connection.
func (b *baseline) backendPID(ctx context.Context) (int, error) {
	var pid int
	if err := b.pool.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
		return 0, fmt.Errorf("read backend pid of the baseline connection: %w", err)
	}

	return pid, nil
}

// createTenantRow stores a tenant in provisioning, as CreateTenant does,
// and returns it with its role password. It runs before the clock starts:
// the baseline measures the provisioning statements only.
//
// The tenant gets a provisioning job scheduled placeholderJobDelay later.
// Silo's reconciler marks a tenant failed that is in provisioning without a
// live job, and the placeholder keeps it away from the baseline's tenants.
// Were the job to run, it would find the tenant active and end.
func (b *baseline) createTenantRow(ctx context.Context, name, slug string) (catalog.Tenant, string, error) {
	id := uuid.New()
	password, err := secret.NewPassword()
	if err != nil {
		return catalog.Tenant{}, "", err
	}
	sealed, err := b.box.Seal([]byte(password), id[:])
	if err != nil {
		return catalog.Tenant{}, "", fmt.Errorf("encrypt role password: %w", err)
	}

	t, err := b.store.CreateTenant(ctx, catalog.Tenant{
		ID:                    id,
		Name:                  name,
		Slug:                  slug,
		ServerID:              b.serverID,
		DatabaseName:          catalog.ObjectName(id),
		RoleName:              catalog.ObjectName(id),
		RolePasswordEncrypted: sealed,
	}, "bench-owner", catalog.SystemActor, func(ctx context.Context, tx pgx.Tx) error {
		_, err := b.jobs.InsertTx(ctx, tx, provision.ProvisionArgs{TenantID: id}, &river.InsertOpts{
			Queue:       provision.Queue,
			ScheduledAt: time.Now().Add(placeholderJobDelay),
		})
		return err
	})
	if err != nil {
		return catalog.Tenant{}, "", fmt.Errorf("store baseline tenant %s: %w", slug, err)
	}

	return t, password, nil
}

// provision brings tenant t to active and returns how long each step took.
func (b *baseline) provision(ctx context.Context, t catalog.Tenant, password string) (map[provision.Step]time.Duration, error) {
	quotedRole := pgx.Identifier{t.RoleName}.Sanitize()
	quotedDB := pgx.Identifier{t.DatabaseName}.Sanitize()
	tenantConfig := provision.TenantConnConfig(b.pool.Config().ConnConfig, t, password)

	var version uint
	steps := []struct {
		step provision.Step
		run  func() error
	}{
		{provision.StepRole, func() error {
			verifier, err := secret.SCRAMVerifier(password)
			if err != nil {
				return err
			}
			return b.exec(ctx, "create role "+t.RoleName, fmt.Sprintf(createRoleSQL, quotedRole, b.connLimit, quoteLiteral(verifier)))
		}},
		{provision.StepDatabase, func() error {
			return b.exec(ctx, "create database "+t.DatabaseName, fmt.Sprintf(createDatabaseSQL, quotedDB, quotedRole))
		}},
		{provision.StepRevoke, func() error {
			return b.exec(ctx, "revoke public access to database "+t.DatabaseName, fmt.Sprintf(revokeSQL, quotedDB))
		}},
		{provision.StepMigrate, func() error {
			var err error
			version, err = migrations.Tenant.Up(ctx, tenantConfig)
			return err
		}},
		{provision.StepStamp, func() error { return stamp(ctx, tenantConfig, t.ID) }},
		{provision.StepActivate, func() error {
			changed, err := b.store.MarkActive(ctx, t.ID, int64(version))
			if err == nil && !changed {
				err = fmt.Errorf("tenant %s was not in provisioning", t.ID)
			}
			return err
		}},
	}

	durations := make(map[provision.Step]time.Duration, len(steps))
	for _, s := range steps {
		start := time.Now()
		if err := s.run(); err != nil {
			return nil, fmt.Errorf("baseline step %s: %w", s.step, err)
		}
		durations[s.step] = time.Since(start)
	}

	return durations, nil
}

// exec runs sql on the baseline's connection. The error names the
// operation, never the statement, which may contain a SCRAM verifier.
func (b *baseline) exec(ctx context.Context, operation, sql string) error {
	if _, err := b.pool.Exec(ctx, sql); err != nil {
		return fmt.Errorf("%s: %w", operation, err)
	}

	return nil
}

// stamp writes id into the tenant database as the tenant's role, reads it
// back and lists objects the role does not own, on a new connection as the
// provisioning job does.
func stamp(ctx context.Context, config *pgx.ConnConfig, id uuid.UUID) error {
	conn, err := pgx.ConnectConfig(ctx, config)
	if err != nil {
		return fmt.Errorf("connect as tenant role: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))

	if _, err := conn.Exec(ctx, stampSQL, id); err != nil {
		return fmt.Errorf("stamp tenant id: %w", err)
	}
	var stamped uuid.UUID
	if err := conn.QueryRow(ctx, readStampSQL).Scan(&stamped); err != nil {
		return fmt.Errorf("read tenant stamp: %w", err)
	}
	if stamped != id {
		return fmt.Errorf("database is stamped for tenant %s, want %s", stamped, id)
	}

	rows, err := conn.Query(ctx, foreignObjectsSQL)
	if err != nil {
		return fmt.Errorf("check object owners: %w", err)
	}
	foreign, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("check object owners: %w", err)
	}
	if len(foreign) > 0 {
		return fmt.Errorf("objects not owned by the tenant role: %s", strings.Join(foreign, ", "))
	}

	return nil
}

// quoteLiteral returns s as a SQL string literal, assuming
// standard_conforming_strings is on, as provision does.
func quoteLiteral(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}
