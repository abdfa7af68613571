package provision_test

import (
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"silo.dev/silo/controlplane/catalog"
	"silo.dev/silo/internal/config"
	"silo.dev/silo/internal/silotest"
)

func TestTenantRoleIsolation(t *testing.T) {
	t.Parallel()

	f := startSilo(t, nil)
	first := tenantID(t, f.createTenant(t, "first"))
	second := tenantID(t, f.createTenant(t, "second"))
	firstPassword := f.password(t, first)
	catalogDatabase := f.env.Catalog.Config().ConnConfig.Database

	tests := []struct {
		name     string
		password string
		database string
		// code is the expected SQLSTATE; empty means the connection works.
		code string
	}{
		{name: "own database", password: firstPassword, database: catalog.ObjectName(first)},
		{name: "other tenant database", password: firstPassword, database: catalog.ObjectName(second), code: "42501"},
		{name: "catalog database", password: firstPassword, database: catalogDatabase, code: "42501"},
		{name: "wrong password", password: firstPassword + "x", database: catalog.ObjectName(first), code: "28P01"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			role := catalog.ObjectName(first)
			conn, err := connectAs(t.Context(), t, role, tc.password, tc.database)
			if tc.code != "" {
				requireSQLState(t, err, tc.code, "connect as %s to %s", role, tc.database)
				return
			}
			require.NoError(t, err, "connect as %s to %s", role, tc.database)
			defer conn.Close(t.Context())

			var user, database string
			require.NoError(t, conn.QueryRow(t.Context(), `SELECT current_user, current_database()`).Scan(&user, &database))
			require.Equal(t, role, user)
			require.Equal(t, tc.database, database)

			// The role owns its database, so it can create tables in it.
			_, err = conn.Exec(t.Context(), `CREATE TABLE isolation_probe (id integer)`)
			require.NoError(t, err)
		})
	}
}

func TestTenantRoleAttributes(t *testing.T) {
	t.Parallel()

	// 7 differs from the default of 20, so a role created with the default
	// fails the check.
	const connectionLimit = 7
	f := startSilo(t, &silotest.Options{Configure: func(c *config.Config) {
		c.TenantConnectionLimit = connectionLimit
	}})
	id := tenantID(t, f.createTenant(t, "attributes"))

	var super, createDB, createRole, replication, bypassRLS, login bool
	var limit int
	admin := connectSuperuser(t, "postgres")
	err := admin.QueryRow(t.Context(), `
		SELECT rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls, rolcanlogin, rolconnlimit
		FROM pg_roles WHERE rolname = $1`, catalog.ObjectName(id)).
		Scan(&super, &createDB, &createRole, &replication, &bypassRLS, &login, &limit)
	require.NoError(t, err)

	require.False(t, super, "superuser")
	require.False(t, createDB, "createdb")
	require.False(t, createRole, "createrole")
	require.False(t, replication, "replication")
	require.False(t, bypassRLS, "bypassrls")
	require.True(t, login, "login")
	require.Equal(t, connectionLimit, limit, "connection limit")

	rows, err := admin.Query(t.Context(), `
		SELECT pg_get_userbyid(roleid) FROM pg_auth_members
		WHERE member = (SELECT oid FROM pg_roles WHERE rolname = $1)`, catalog.ObjectName(id))
	require.NoError(t, err)
	memberships, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	require.Empty(t, memberships, "roles that the tenant role is a member of: %s", strings.Join(memberships, ", "))
}
