package secret

import (
	"context"
	"crypto/rand"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"silo.dev/silo/internal/pgtest"
)

// TestSCRAMVerifierPostgresLogin creates a role from a verifier and logs in
// over scram-sha-256 with the password, which proves that PostgreSQL accepts
// the verifier format and derives the same keys. It also checks that the
// server log, with every statement logged, contains the verifier but not the
// password.
func TestSCRAMVerifierPostgresLogin(t *testing.T) {
	ctx := t.Context()
	cluster := pgtest.Cluster(t)
	superuserURL := cluster.URL("postgres")

	admin, err := pgx.Connect(ctx, superuserURL)
	require.NoError(t, err)
	t.Cleanup(func() {
		require.NoError(t, admin.Close(context.Background()))
	})

	password, err := NewPassword()
	require.NoError(t, err)
	verifier, err := SCRAMVerifier(password)
	require.NoError(t, err)

	// CREATE ROLE takes no bind parameters, so the verifier goes in a string
	// literal. Its base64 fields and separators contain no quote.
	require.NotContains(t, verifier, "'")
	role := "secret_scram_" + strings.ToLower(rand.Text())

	_, err = admin.Exec(ctx, "CREATE ROLE "+pgx.Identifier{role}.Sanitize()+" WITH LOGIN PASSWORD '"+verifier+"'")
	require.NoError(t, err)
	t.Cleanup(func() {
		_, err := admin.Exec(context.Background(), "DROP ROLE "+pgx.Identifier{role}.Sanitize())
		require.NoError(t, err)
	})

	var stored string
	err = admin.QueryRow(ctx, "SELECT rolpassword FROM pg_authid WHERE rolname = $1", role).Scan(&stored)
	require.NoError(t, err)
	require.Equal(t, verifier, stored, "PostgreSQL must store the verifier unchanged")

	roleConfig, err := pgx.ParseConfig(superuserURL)
	require.NoError(t, err)
	roleConfig.User = role
	roleConfig.Password = password

	conn, err := pgx.ConnectConfig(ctx, roleConfig)
	require.NoError(t, err, "login with the password behind the verifier")
	var currentUser string
	require.NoError(t, conn.QueryRow(ctx, "SELECT current_user").Scan(&currentUser))
	require.Equal(t, role, currentUser)
	require.NoError(t, conn.Close(ctx))

	wrongPassword, err := NewPassword()
	require.NoError(t, err)
	wrongConfig := roleConfig.Copy()
	wrongConfig.Password = wrongPassword

	wrongConn, err := pgx.ConnectConfig(ctx, wrongConfig)
	require.Error(t, err, "login with a wrong password must fail")
	require.Nil(t, wrongConn)
	var pgErr *pgconn.PgError
	require.ErrorAs(t, err, &pgErr)
	require.Equal(t, "28P01", pgErr.Code, "want invalid_password, got %s: %s", pgErr.Code, pgErr.Message)

	serverLog := strings.Join(pgtest.LogLines(t), "\n")
	require.Contains(t, serverLog, verifier, "the test cluster logs every statement, so CREATE ROLE must be in the log")
	require.NotContains(t, serverLog, password)
}
