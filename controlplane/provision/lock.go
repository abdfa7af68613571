package provision

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
)

// unlockTimeout bounds the release of a tenant lock. A release that times
// out closes the connection, which releases the lock as well.
const unlockTimeout = 5 * time.Second

// lockTenant takes a session advisory lock on the catalog for one tenant,
// so a provisioning job and a purge job, or two runs of one job after a
// rescue, never work on the same tenant at once. The returned function
// releases the lock; if the release fails, the connection is closed, which
// releases it too.
func lockTenant(ctx context.Context, pool *pgxpool.Pool, id uuid.UUID) (func(), error) {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("acquire catalog connection for tenant lock: %w", err)
	}

	const key = `hashtextextended('silo.tenant.' || $1::text, 0)`
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(`+key+`)`, id); err != nil {
		conn.Release()
		return nil, fmt.Errorf("lock tenant %s: %w", id, err)
	}

	return func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), unlockTimeout)
		defer cancel()
		if _, err := conn.Exec(ctx, `SELECT pg_advisory_unlock(`+key+`)`, id); err != nil {
			_ = conn.Conn().Close(ctx)
		}
		conn.Release()
	}, nil
}
