package provision_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"silo.dev/silo/controlplane/catalog"
	silov1 "silo.dev/silo/gen/silo/v1"
	"silo.dev/silo/internal/pgtest"
	"silo.dev/silo/internal/secret"
	"silo.dev/silo/internal/silotest"
)

// statusTimeout bounds the wait for a tenant or a job to reach a status.
// In silotest a retry waits 20 to 100 ms of backoff plus up to River's
// fetch poll interval of 1 s, so five attempts take about 5 s.
const statusTimeout = 20 * time.Second

// pollInterval is the wait between two reads of a status the test waits
// for.
const pollInterval = 20 * time.Millisecond

// cleanupTimeout bounds the queries of cleanup functions, which run after
// t.Context is canceled.
const cleanupTimeout = 10 * time.Second

// errInjected is the error that provisioning hooks of these tests return.
var errInjected = errors.New("injected provisioning failure")

// fixture is one in-process silo server and the role passwords of the
// tenants that the test created on it. When the test ends, it checks that
// none of the passwords reached a log or a catalog row.
type fixture struct {
	env   *silotest.Env
	store *catalog.Store
	box   *secret.Box

	mu        sync.Mutex
	passwords map[uuid.UUID]string
}

// startSilo starts a silo server on a new catalog with silotest.Start.
func startSilo(t *testing.T, opts *silotest.Options) *fixture {
	t.Helper()

	env := silotest.Start(t, opts)
	box, err := secret.NewBox(env.Config.Key())
	require.NoError(t, err)
	f := &fixture{
		env:       env,
		store:     catalog.New(env.Catalog),
		box:       box,
		passwords: map[uuid.UUID]string{},
	}

	// Cleanups run last in, first out, so this check runs while the server
	// and the catalog still exist.
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		defer cancel()
		f.requireNoPasswordLeak(ctx, t)
	})

	return f
}

// createTenant creates a tenant through the API, requires the call to
// succeed, and records the tenant's role password.
func (f *fixture) createTenant(t *testing.T, slug string) *silov1.Tenant {
	t.Helper()

	resp, err := f.env.Tenants.CreateTenant(t.Context(), connect.NewRequest(&silov1.CreateTenantRequest{
		Name: "Tenant " + slug,
		Slug: slug,
	}))
	require.NoError(t, err, "create tenant %q", slug)
	tenant := resp.Msg.GetTenant()
	f.password(t, tenantID(t, tenant))

	return tenant
}

// password decrypts the role password of tenant id from its catalog row
// and records it for the leak check.
func (f *fixture) password(t *testing.T, id uuid.UUID) string {
	t.Helper()

	row := f.tenantRow(t, id)
	password, err := f.box.Open(row.RolePasswordEncrypted, id[:])
	require.NoError(t, err, "decrypt role password of tenant %s", id)

	f.mu.Lock()
	defer f.mu.Unlock()
	f.passwords[id] = string(password)

	return string(password)
}

// tenantRow reads tenant id from the catalog, purged tenants included.
func (f *fixture) tenantRow(t *testing.T, id uuid.UUID) catalog.Tenant {
	t.Helper()

	row, err := f.store.GetTenant(t.Context(), id)
	require.NoError(t, err, "read tenant %s from the catalog", id)

	return row
}

// getTenant reads tenant id through the API.
func (f *fixture) getTenant(t *testing.T, id uuid.UUID) *silov1.Tenant {
	t.Helper()

	resp, err := f.env.Tenants.GetTenant(t.Context(), connect.NewRequest(&silov1.GetTenantRequest{Id: id.String()}))
	require.NoError(t, err, "get tenant %s", id)

	return resp.Msg.GetTenant()
}

// waitForStatus polls tenant id through the API until it has the given
// status, and fails the test after statusTimeout.
func (f *fixture) waitForStatus(t *testing.T, id uuid.UUID, status silov1.TenantStatus) *silov1.Tenant {
	t.Helper()

	deadline := time.Now().Add(statusTimeout)
	for {
		tenant := f.getTenant(t, id)
		if tenant.GetStatus() == status {
			return tenant
		}
		if time.Now().After(deadline) {
			require.Failf(t, "tenant status timed out",
				"tenant %s is %s after %s, expected %s (last error: %q)",
				id, tenant.GetStatus(), statusTimeout, status, tenant.GetLastError())
		}
		time.Sleep(pollInterval)
	}
}

// provisionJob is the river_job row of a tenant's provisioning job, with
// the messages of the errors recorded on it.
type provisionJob struct {
	State   string
	Attempt int
	Errors  []string
}

// queryRower is a connection or a pool.
type queryRower interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// readProvisionJob reads the provisioning job of tenant id. Each tenant
// has exactly one.
func readProvisionJob(t *testing.T, db queryRower, id uuid.UUID) provisionJob {
	t.Helper()

	var job provisionJob
	err := db.QueryRow(t.Context(), `
		SELECT state::text, attempt,
		       coalesce(array(SELECT e->>'error' FROM unnest(errors) AS e), '{}')
		FROM river_job
		WHERE kind = 'silo.provision_tenant' AND args->>'tenant_id' = $1`, id.String()).
		Scan(&job.State, &job.Attempt, &job.Errors)
	require.NoError(t, err, "read provisioning job of tenant %s", id)

	return job
}

// waitForProvisionJob polls the provisioning job of tenant id until it
// reaches state, and fails the test after timeout. River records a job's
// end in batches, shortly after the tenant's status changes.
func waitForProvisionJob(t *testing.T, db queryRower, id uuid.UUID, state string, timeout time.Duration) provisionJob {
	t.Helper()

	deadline := time.Now().Add(timeout)
	for {
		job := readProvisionJob(t, db, id)
		if job.State == state {
			return job
		}
		if time.Now().After(deadline) {
			require.Failf(t, "job state timed out",
				"provisioning job of tenant %s is %s after %s, expected %s", id, job.State, timeout, state)
		}
		time.Sleep(pollInterval)
	}
}

// requireNoPasswordLeak checks every recorded password against the
// server's log, the catalog rows that hold errors and job arguments, and
// the PostgreSQL server log.
func (f *fixture) requireNoPasswordLeak(ctx context.Context, t *testing.T) {
	t.Helper()

	f.mu.Lock()
	passwords := make(map[uuid.UUID]string, len(f.passwords))
	for id, password := range f.passwords {
		passwords[id] = password
	}
	f.mu.Unlock()

	sources := map[string][]string{
		"silo log":              f.env.Logs.Lines(),
		"PostgreSQL server log": pgtest.LogLines(t),
	}
	for name, lines := range catalogRowsAsText(ctx, t, f.env.Catalog) {
		sources[name] = lines
	}
	requirePasswordsAbsent(t, passwords, sources)
}

// catalogRowsAsText returns every row of the catalog tables that can hold
// an error message, job arguments or audit details, each row as text, by
// table name. Role passwords are stored only encrypted, so none of these
// texts may contain one.
func catalogRowsAsText(ctx context.Context, t *testing.T, pool *pgxpool.Pool) map[string][]string {
	t.Helper()

	tables := map[string]string{
		"river_job":    `SELECT r::text FROM river_job r`,
		"tenants":      `SELECT r::text FROM tenants r`,
		"audit_events": `SELECT r::text FROM audit_events r`,
	}
	rowsByTable := map[string][]string{}
	for table, query := range tables {
		rows, err := pool.Query(ctx, query)
		require.NoError(t, err, "read %s", table)
		texts, err := pgx.CollectRows(rows, pgx.RowTo[string])
		require.NoError(t, err, "read %s", table)
		rowsByTable[table] = texts
	}

	return rowsByTable
}

// requirePasswordsAbsent fails the test when a line of a source contains a
// password. The message names the tenant, the source and the line number,
// never the password.
func requirePasswordsAbsent(t *testing.T, passwords map[uuid.UUID]string, sources map[string][]string) {
	t.Helper()

	for id, password := range passwords {
		require.NotEmpty(t, password, "password of tenant %s", id)
		for name, lines := range sources {
			for i, line := range lines {
				require.False(t, strings.Contains(line, password),
					"role password of tenant %s appears in %s, line %d", id, name, i+1)
			}
		}
	}
}

// tenantID parses the id of a tenant returned by the API.
func tenantID(t *testing.T, tenant *silov1.Tenant) uuid.UUID {
	t.Helper()

	id, err := uuid.Parse(tenant.GetId())
	require.NoError(t, err, "parse tenant id %q", tenant.GetId())

	return id
}

// connectSuperuser opens a superuser connection to database on the test
// cluster that closes when the test ends.
func connectSuperuser(t *testing.T, database string) *pgx.Conn {
	t.Helper()

	conn, err := pgx.Connect(t.Context(), pgtest.Cluster(t).URL(database))
	require.NoError(t, err, "connect to database %q as superuser", database)
	t.Cleanup(func() { conn.Close(context.Background()) })

	return conn
}

// connectAs connects to database on the test cluster as role with
// password. The caller closes the connection.
func connectAs(ctx context.Context, t *testing.T, role, password, database string) (*pgx.Conn, error) {
	t.Helper()

	config, err := pgx.ParseConfig(pgtest.Cluster(t).URL(database))
	require.NoError(t, err)
	config.User = role
	config.Password = password

	return pgx.ConnectConfig(ctx, config)
}

// requireSQLState fails the test unless err carries the PostgreSQL error
// code.
func requireSQLState(t *testing.T, err error, code string, msgAndArgs ...any) {
	t.Helper()

	require.Error(t, err, msgAndArgs...)
	var pgErr *pgconn.PgError
	require.ErrorAs(t, err, &pgErr, msgAndArgs...)
	require.Equal(t, code, pgErr.Code, msgAndArgs...)
}

// requireProvisioned checks a provisioned tenant on the test cluster.
// Exactly one role and one database carry the tenant's name, and the role
// owns the database and every relation in it. PUBLIC has neither CONNECT
// nor TEMPORARY on the database, and tenant_identity contains the tenant's
// id.
func requireProvisioned(t *testing.T, id uuid.UUID) {
	t.Helper()

	ctx := t.Context()
	name := catalog.ObjectName(id)
	hex := strings.TrimPrefix(name, "t_")
	admin := connectSuperuser(t, "postgres")

	var roles, databases int
	require.NoError(t, admin.QueryRow(ctx,
		`SELECT count(*) FROM pg_roles WHERE strpos(rolname, $1) > 0`, hex).Scan(&roles))
	require.Equal(t, 1, roles, "roles whose name contains the id of tenant %s", id)
	require.NoError(t, admin.QueryRow(ctx,
		`SELECT count(*) FROM pg_database WHERE strpos(datname, $1) > 0`, hex).Scan(&databases))
	require.Equal(t, 1, databases, "databases whose name contains the id of tenant %s", id)

	var owner string
	require.NoError(t, admin.QueryRow(ctx,
		`SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = $1`, name).Scan(&owner))
	require.Equal(t, name, owner, "owner of database %s", name)

	// A NULL datacl means the default privileges, which grant CONNECT and
	// TEMPORARY to PUBLIC, so the query reads acldefault in its place.
	rows, err := admin.Query(ctx, `
		SELECT a.privilege_type
		FROM pg_database d
		CROSS JOIN LATERAL aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) AS a
		WHERE d.datname = $1 AND a.grantee = 0
		ORDER BY 1`, name)
	require.NoError(t, err)
	publicPrivileges, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	require.NotContains(t, publicPrivileges, "CONNECT", "PUBLIC privileges on database %s", name)
	require.NotContains(t, publicPrivileges, "TEMPORARY", "PUBLIC privileges on database %s", name)

	tenantDB, err := pgx.Connect(ctx, pgtest.Cluster(t).URL(name))
	require.NoError(t, err, "connect to database %s as superuser", name)
	defer tenantDB.Close(context.WithoutCancel(ctx))

	rows, err = tenantDB.Query(ctx, `
		SELECT n.nspname || '.' || c.relname || ' (' || c.relkind::text || ') owned by ' || pg_get_userbyid(c.relowner)
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
		  AND c.relkind IN ('r', 'p', 'S', 'v', 'm', 'f')
		ORDER BY 1`)
	require.NoError(t, err)
	relations, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	require.NotEmpty(t, relations, "relations in database %s", name)
	for _, relation := range relations {
		require.True(t, strings.HasSuffix(relation, " owned by "+name), "relation in database %s: %s", name, relation)
	}

	rows, err = tenantDB.Query(ctx, `SELECT tenant_id FROM tenant_identity`)
	require.NoError(t, err)
	stamps, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	require.NoError(t, err)
	require.Equal(t, []uuid.UUID{id}, stamps, "tenant_identity of database %s", name)
}
