package provision_test

import (
	"sync"
	"testing"

	"connectrpc.com/connect"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"silo.dev/silo/controlplane/catalog"
	silov1 "silo.dev/silo/gen/silo/v1"
)

// tenantObjectNames returns every role and database on the test cluster
// whose name looks like a tenant's, as "role NAME" and "database NAME".
func tenantObjectNames(t *testing.T) map[string]bool {
	t.Helper()

	admin := connectSuperuser(t, "postgres")
	rows, err := admin.Query(t.Context(), `
		SELECT 'role ' || rolname FROM pg_roles WHERE rolname LIKE 't\_%'
		UNION ALL
		SELECT 'database ' || datname FROM pg_database WHERE datname LIKE 't\_%'`)
	require.NoError(t, err)
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)

	set := make(map[string]bool, len(names))
	for _, name := range names {
		set[name] = true
	}

	return set
}

// TestCreateTenantConcurrentSlug does not run in parallel with other tests:
// it compares every tenant role and database on the shared cluster before
// and after, and tenants of parallel tests would show up there.
func TestCreateTenantConcurrentSlug(t *testing.T) {
	f := startSilo(t, nil)
	before := tenantObjectNames(t)

	const calls = 10
	codes := make([]connect.Code, calls)
	tenants := make([]*silov1.Tenant, calls)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range calls {
		wg.Go(func() {
			<-start
			resp, err := f.env.Tenants.CreateTenant(t.Context(), connect.NewRequest(&silov1.CreateTenantRequest{
				Name: "Contested", Slug: "contested",
			}))
			if err != nil {
				codes[i] = connect.CodeOf(err)
				return
			}
			tenants[i] = resp.Msg.GetTenant()
		})
	}
	close(start)
	wg.Wait()

	var winner *silov1.Tenant
	for i := range calls {
		if tenants[i] == nil {
			require.Equal(t, connect.CodeAlreadyExists, codes[i], "code of call %d", i)
			continue
		}
		require.Nil(t, winner, "a second call succeeded: %d", i)
		winner = tenants[i]
	}
	require.NotNil(t, winner, "no call succeeded")
	require.Equal(t, silov1.TenantStatus_TENANT_STATUS_ACTIVE, winner.GetStatus())
	id := tenantID(t, winner)
	f.password(t, id)

	var rows, jobs int
	require.NoError(t, f.env.Catalog.QueryRow(t.Context(), `SELECT count(*) FROM tenants`).Scan(&rows))
	require.Equal(t, 1, rows, "tenant rows")
	require.NoError(t, f.env.Catalog.QueryRow(t.Context(),
		`SELECT count(*) FROM river_job WHERE kind = 'silo.provision_tenant'`).Scan(&jobs))
	require.Equal(t, 1, jobs, "provisioning jobs")

	after := tenantObjectNames(t)
	var created []string
	for name := range after {
		if !before[name] {
			created = append(created, name)
		}
	}
	name := catalog.ObjectName(id)
	require.ElementsMatch(t, []string{"role " + name, "database " + name}, created, "tenant roles and databases created by the test")
	requireProvisioned(t, id)
}

func TestCreateTenantHostileSlugs(t *testing.T) {
	t.Parallel()

	f := startSilo(t, nil)

	tests := []struct {
		name string
		slug string
		// stored is the slug after normalization; empty means the slug is
		// rejected with CodeInvalidArgument.
		stored string
	}{
		{name: "hyphenated", slug: "acme-corp", stored: "acme-corp"},
		{name: "SQL keyword", slug: "select", stored: "select"},
		{name: "uppercase and spaces", slug: "  Drop-Table  ", stored: "drop-table"},
		{name: "double quote", slug: `a"b`},
		{name: "statement separator", slug: "x; drop database postgres; --"},
		{name: "quote and comment", slug: "Robert'); DROP TABLE tenants;--"},
		{name: "reserved name", slug: "postgres"},
		{name: "escaped quote", slug: `abc\'`},
		{name: "null byte", slug: "abc\x00def"},
	}
	accepted := 0
	for _, tc := range tests {
		if tc.stored != "" {
			accepted++
		}
		t.Run(tc.name, func(t *testing.T) {
			resp, err := f.env.Tenants.CreateTenant(t.Context(), connect.NewRequest(&silov1.CreateTenantRequest{
				Name: "Hostile", Slug: tc.slug,
			}))
			if tc.stored == "" {
				require.Equal(t, connect.CodeInvalidArgument, connect.CodeOf(err), "error: %v", err)
				return
			}

			require.NoError(t, err)
			tenant := resp.Msg.GetTenant()
			id := tenantID(t, tenant)
			f.password(t, id)
			require.Equal(t, tc.stored, tenant.GetSlug())
			require.Equal(t, silov1.TenantStatus_TENANT_STATUS_ACTIVE, tenant.GetStatus())
			requireProvisioned(t, id)
		})
	}

	admin := connectSuperuser(t, "postgres")
	var postgres bool
	require.NoError(t, admin.QueryRow(t.Context(),
		`SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'postgres')`).Scan(&postgres))
	require.True(t, postgres, "database postgres exists")

	var rows int
	require.NoError(t, f.env.Catalog.QueryRow(t.Context(), `SELECT count(*) FROM tenants`).Scan(&rows),
		"the tenants table exists")
	require.Equal(t, accepted, rows, "tenant rows")
}
