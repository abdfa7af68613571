package tenancy

import (
	"context"

	"github.com/jackc/pgx/v5/pgxpool"
)

// WithPool returns ctx carrying tenant t and pool, as the interceptor would
// build it. It is for tests and benchmarks that bypass the interceptor:
// the pool is not leased, so the caller keeps it open and closes it, and
// Detach on the returned context returns a release that does nothing.
func WithPool(ctx context.Context, t Tenant, pool *pgxpool.Pool) context.Context {
	lease := callerOwnedLease{pool: pool}
	acquire := func(context.Context) (Lease, error) { return lease, nil }

	return withScope(ctx, &scope{tenant: t, lease: lease, acquire: acquire})
}

// callerOwnedLease is a Lease on a pool that the caller owns.
type callerOwnedLease struct {
	pool *pgxpool.Pool
}

func (l callerOwnedLease) Pool() *pgxpool.Pool { return l.pool }

// Release does nothing, because the caller of WithPool owns the pool.
func (l callerOwnedLease) Release() {}
