package tenantapi_test

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"silo.dev/silo/controlplane/catalog"
	"silo.dev/silo/internal/pgtest"
	"silo.dev/silo/internal/silotest"

	"silo.dev/silo/controlplane/provision"
	"silo.dev/silo/internal/server"
)

// blockProvisioning holds every provisioning job after its first step until
// release is closed.
func blockProvisioning(release <-chan struct{}) func(*server.Server) {
	return func(s *server.Server) {
		s.Provisioner.SetAfterStep(func(ctx context.Context, _ uuid.UUID, step provision.Step) error {
			if step != provision.StepRole {
				return nil
			}
			select {
			case <-release:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}
}

func nameMask() *fieldmaskpb.FieldMask {
	return &fieldmaskpb.FieldMask{Paths: []string{"name"}}
}

// tenantDatabaseURL returns a superuser URL of the tenant's database.
func tenantDatabaseURL(t *testing.T, env *silotest.Env, id string) string {
	t.Helper()

	parsed, err := uuid.Parse(id)
	require.NoError(t, err)

	return pgtest.Cluster(t).URL(catalog.ObjectName(parsed))
}

// execOn runs one statement on the database at url and returns the first
// column of its first row, if it has one.
func execOn(t *testing.T, url, sql string) (any, error) {
	t.Helper()

	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(t.Context()))

	rows, err := conn.Query(t.Context(), sql)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var value any
	if rows.Next() {
		values, err := rows.Values()
		if err != nil {
			return nil, err
		}
		value = values[0]
	}

	return value, rows.Err()
}
