package poolcache

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ErrStampMismatch is returned by Acquire when the tenant's database is not
// stamped with the tenant's id: its tenant_identity row names another
// tenant or is missing. The cache does not serve such a database.
var ErrStampMismatch = errors.New("tenant database is not stamped with the tenant's id")

// Target is how to reach one tenant's database.
type Target struct {
	TenantID uuid.UUID

	// ConnConfig is the host, port, TLS settings, tenant role, password and
	// database. It must come from pgx.ParseConfig or be a Copy of such a
	// config, because pgx rejects configs built by hand. The cache copies
	// it and leaves it unchanged.
	ConnConfig *pgx.ConnConfig
}

// Opener returns the connection settings of a tenant. The cache calls it
// on a miss, once for all the concurrent Acquires of that tenant.
type Opener func(ctx context.Context, tenantID uuid.UUID) (Target, error)

// applicationNamePrefix starts the application_name of every connection,
// followed by the tenant id, so pg_stat_activity shows whose pool a
// connection belongs to.
const applicationNamePrefix = "silo:"

// openTimeout bounds the whole open of a pool: the Opener call, the first
// connection and the stamp check. The first connection may take all of
// ConnectTimeout, waiting for a slot of the budget included, so the bound
// leaves as much again for the Opener and the stamp query.
func (c *Cache) openTimeout() time.Duration {
	return 2 * c.cfg.ConnectTimeout
}

// awaitOpen waits for the open of the tenant's pool, starting one unless
// one is in progress.
func (c *Cache) awaitOpen(ctx context.Context, tenantID uuid.UUID) error {
	results := c.flights.DoChan(tenantID.String(), func() (any, error) {
		return nil, c.openEntry(ctx, tenantID)
	})

	select {
	case <-ctx.Done():
		return fmt.Errorf("wait for the pool of tenant %s to open: %w", tenantID, context.Cause(ctx))
	case result := <-results:
		return result.Err
	}
}

// openEntry opens the tenant's pool and puts it in the cache. It runs once
// for all the Acquires that wait for it, so it ignores the cancellation of
// the first caller's ctx and uses openTimeout instead.
func (c *Cache) openEntry(ctx context.Context, tenantID uuid.UUID) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	// An open that finished after the caller's lookup missed has already
	// put the pool in the cache.
	if c.entries.Contains(tenantID) {
		c.mu.Unlock()
		return nil
	}
	f := &flight{}
	c.opening[tenantID] = f
	c.openCount++
	c.background.Add(1)
	c.mu.Unlock()
	defer c.background.Done()

	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.openTimeout())
	defer cancel()

	start := time.Now()
	pool, err := c.openPool(ctx, tenantID, func() { c.makeRoom(f) })

	c.mu.Lock()
	f.finished = true
	c.openCount--
	if c.opening[tenantID] == f {
		delete(c.opening, tenantID)
	}
	if err != nil {
		c.mu.Unlock()
		c.logger.Warn("open tenant pool failed", "tenant_id", tenantID, "error", err)
		return err
	}

	// A stale open read its settings before an Evict, and a concurrent open
	// that started after that Evict may have cached a pool already.
	closed := c.closed
	keep := !closed && !f.stale && !c.entries.Contains(tenantID)
	if keep {
		e := &entry{tenantID: tenantID, pool: pool, lastUsed: time.Now(), released: make(chan struct{})}
		c.evictReason = reasonCapacity
		c.entries.Add(tenantID, e)
	}
	c.mu.Unlock()

	if !keep {
		pool.Close()
		if closed {
			return ErrClosed
		}
		return nil
	}

	c.logger.Info("tenant pool opened", "tenant_id", tenantID,
		"database", pool.Config().ConnConfig.Database, "duration", time.Since(start))

	return nil
}

// makeRoom evicts the least recently used pool when the connection of the
// open f finds the budget exhausted while the cached pools and the opens
// in progress exceed Capacity. The evicted pool's idle connections then
// free their slots. Evicting only on a shortage keeps opens that fail, for
// example of a tenant whose database is down, from evicting pools while
// the budget has room.
func (c *Cache) makeRoom(f *flight) {
	c.mu.Lock()
	defer c.mu.Unlock()

	if f.finished || c.closed {
		return
	}
	cached := c.entries.Len()
	if cached == 0 || cached+c.openCount <= c.cfg.Capacity {
		return
	}

	c.evictReason = reasonCapacity
	c.entries.RemoveOldest()
}

// openPool calls the Opener for the tenant's connection settings, opens a
// pool with them and checks the database's stamp. It closes the pool when
// the check fails. onShortage runs when a connection of the pool waits for
// a slot of the budget.
func (c *Cache) openPool(ctx context.Context, tenantID uuid.UUID, onShortage func()) (*pgxpool.Pool, error) {
	target, err := c.open(ctx, tenantID)
	if err != nil {
		return nil, fmt.Errorf("look up connection settings of tenant %s: %w", tenantID, err)
	}
	if target.ConnConfig == nil {
		return nil, fmt.Errorf("look up connection settings of tenant %s: the opener returned no ConnConfig", tenantID)
	}
	if target.TenantID != tenantID {
		return nil, fmt.Errorf("look up connection settings of tenant %s: the opener returned settings of tenant %s", tenantID, target.TenantID)
	}

	config, err := c.poolConfig(target, onShortage)
	if err != nil {
		return nil, err
	}
	pool, err := pgxpool.NewWithConfig(ctx, config)
	if err != nil {
		return nil, fmt.Errorf("create pool of tenant %s: %w", tenantID, err)
	}

	if err := checkStamp(ctx, pool, tenantID); err != nil {
		pool.Close()
		return nil, err
	}

	return pool, nil
}

// poolConfig returns the pool settings of a tenant: the target's
// connection settings with the cache's limits and the budget's hook.
func (c *Cache) poolConfig(target Target, onShortage func()) (*pgxpool.Config, error) {
	// pgxpool accepts only a Config made by ParseConfig. The empty string
	// yields defaults, and the tenant's settings replace its ConnConfig.
	config, err := pgxpool.ParseConfig("")
	if err != nil {
		return nil, fmt.Errorf("create pool settings of tenant %s: %w", target.TenantID, err)
	}

	connConfig := target.ConnConfig.Copy()
	connConfig.ConnectTimeout = c.cfg.ConnectTimeout
	if connConfig.RuntimeParams == nil {
		connConfig.RuntimeParams = map[string]string{}
	}
	connConfig.RuntimeParams["application_name"] = applicationNamePrefix + target.TenantID.String()

	config.ConnConfig = connConfig
	config.MaxConns = c.cfg.MaxConns
	config.MinConns = 0
	config.MinIdleConns = 0
	config.MaxConnIdleTime = c.cfg.MaxConnIdleTime
	config.HealthCheckPeriod = c.cfg.HealthCheckPeriod
	config.BeforeConnect = c.budget.beforeConnect(onShortage)

	return config, nil
}

// checkStamp returns an error wrapping ErrStampMismatch unless the
// database's tenant_identity row names tenantID.
func checkStamp(ctx context.Context, pool *pgxpool.Pool, tenantID uuid.UUID) error {
	var stamped uuid.UUID
	err := pool.QueryRow(ctx, `SELECT tenant_id FROM tenant_identity`).Scan(&stamped)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("check stamp of tenant %s: %w: tenant_identity has no row", tenantID, ErrStampMismatch)
	}
	if err != nil {
		return fmt.Errorf("check stamp of tenant %s: %w", tenantID, err)
	}

	if stamped != tenantID {
		return fmt.Errorf("check stamp of tenant %s: %w: tenant_identity names tenant %s", tenantID, ErrStampMismatch, stamped)
	}

	return nil
}
