package migrations_test

import (
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"silo.dev/silo/internal/pgtest"
	"silo.dev/silo/migrations"
)

func TestMain(m *testing.M) {
	pgtest.Main(m)
}

func connConfig(t *testing.T) *pgx.ConnConfig {
	t.Helper()

	config, err := pgx.ParseConfig(pgtest.NewDatabase(t, ""))
	require.NoError(t, err)

	return config
}

func TestUpAppliesLatest(t *testing.T) {
	t.Parallel()

	for _, schema := range []migrations.Schema{migrations.Catalog, migrations.Tenant} {
		config := connConfig(t)
		latest, err := schema.Latest()
		require.NoError(t, err)
		require.Positive(t, latest)

		version, err := schema.Up(t.Context(), config)
		require.NoError(t, err)
		require.Equal(t, latest, version)

		again, err := schema.Up(t.Context(), config)
		require.NoError(t, err)
		require.Equal(t, latest, again, "a second run changes nothing")
	}
}

func TestVersionOfEmptyDatabase(t *testing.T) {
	t.Parallel()

	version, dirty, err := migrations.Tenant.Version(t.Context(), connConfig(t))

	require.NoError(t, err)
	require.Zero(t, version)
	require.False(t, dirty)
}

func TestUpRepairsDirtyVersion(t *testing.T) {
	t.Parallel()
	config := connConfig(t)
	conn, err := pgx.ConnectConfig(t.Context(), config)
	require.NoError(t, err)
	defer conn.Close(t.Context())
	// A process that died while applying the first migration leaves this
	// behind: the version recorded as dirty, the migration itself rolled
	// back.
	_, err = conn.Exec(t.Context(), `
		CREATE TABLE schema_migrations (version bigint NOT NULL PRIMARY KEY, dirty boolean NOT NULL);
		INSERT INTO schema_migrations VALUES (1, true);`)
	require.NoError(t, err)

	version, err := migrations.Tenant.Up(t.Context(), config)
	require.NoError(t, err)
	latest, err := migrations.Tenant.Latest()
	require.NoError(t, err)
	require.Equal(t, latest, version)

	_, dirty, err := migrations.Tenant.Version(t.Context(), config)
	require.NoError(t, err)
	require.False(t, dirty)
	var tables int
	require.NoError(t, conn.QueryRow(t.Context(),
		`SELECT count(*) FROM pg_tables WHERE tablename IN ('tickets', 'workflows', 'tenant_identity')`).Scan(&tables))
	require.Equal(t, 3, tables)
}
