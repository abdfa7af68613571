package poolcache_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"silo.dev/silo/dataplane/poolcache"
)

// The cache's leases are what the tenancy interceptor hands to handlers,
// so *Lease must satisfy tenancy.Lease, which has these methods.
var _ interface {
	Pool() *pgxpool.Pool
	Release()
} = (*poolcache.Lease)(nil)

// errInjected is the error that opener hooks of these tests return.
var errInjected = errors.New("injected opener failure")

func TestAcquireHitAndMiss(t *testing.T) {
	t.Parallel()

	tenant := newTenantDB(t)
	dir := newDirectory(tenant)
	cache, logs := newCache(t, testConfig(), dir)
	ctx := t.Context()

	lease, err := cache.Acquire(ctx, tenant.id)
	require.NoError(t, err)
	var user, database, applicationName string
	err = lease.Pool().QueryRow(ctx, `SELECT current_user, current_database(), current_setting('application_name')`).
		Scan(&user, &database, &applicationName)
	require.NoError(t, err)
	require.Equal(t, tenant.config.User, user)
	require.Equal(t, tenant.config.Database, database)
	require.Equal(t, tenant.applicationName(), applicationName)
	lease.Release()
	lease.Release()

	again, err := cache.Acquire(ctx, tenant.id)
	require.NoError(t, err)
	require.Same(t, lease.Pool(), again.Pool())
	again.Release()

	stats := cache.Stats()
	require.Equal(t, 1, stats.Pools)
	require.Equal(t, 0, stats.Draining)
	require.Equal(t, int64(1), stats.Hits)
	require.Equal(t, int64(1), stats.Misses)
	require.Equal(t, int64(0), stats.Evictions)
	require.Equal(t, int64(1), stats.Connections)
	require.Equal(t, int64(1), stats.PeakConnections)
	require.Equal(t, 1, dir.callCount(tenant.id))

	// A second Release that counted would leave the lease count below
	// zero, and the evicted pool would never close.
	cache.Evict(tenant.id)
	requirePoolClosed(t, lease.Pool())
	require.Eventually(t, func() bool { return cache.Stats().Draining == 0 }, waitTimeout, pollInterval)
	require.Equal(t, int64(0), cache.Stats().Connections)

	require.Contains(t, logs.String(), "tenant pool opened")
	require.Contains(t, logs.String(), "reason=evict")
	require.NotContains(t, logs.String(), tenant.password)
}

func TestAcquireConcurrentMissOpensOnce(t *testing.T) {
	t.Parallel()

	const requests = 200
	tenant := newTenantDB(t)
	dir := newDirectory(tenant)
	cfg := testConfig()
	cfg.Capacity, cfg.MaxConns, cfg.Budget = 1, 5, 5
	cache, _ := newCache(t, cfg, dir)
	ctx := t.Context()

	// The opener waits until every request has missed, so all of them
	// wait for the same open.
	dir.setHook(func(context.Context, uuid.UUID) error {
		deadline := time.Now().Add(waitTimeout)
		for cache.Stats().Misses < requests {
			if time.Now().After(deadline) {
				return errors.New("not every request missed")
			}
			time.Sleep(time.Millisecond)
		}
		return nil
	})
	sampler := sampleSessions(t, []string{tenant.applicationName()})

	// Every request holds its lease until all of them hold one, then runs
	// a query, so 200 lease holders share the pool's 5 connections.
	var leased, done sync.WaitGroup
	leased.Add(requests)
	errs := make(chan error, requests)
	for range requests {
		done.Go(func() {
			lease, err := cache.Acquire(ctx, tenant.id)
			leased.Done()
			if err != nil {
				errs <- err
				return
			}
			defer lease.Release()

			leased.Wait()
			_, err = lease.Pool().Exec(ctx, `SELECT pg_sleep(0.01)`)
			errs <- err
		})
	}
	done.Wait()
	close(errs)

	maxSessions, samples := sampler.stopSampling(t)
	for err := range errs {
		require.NoError(t, err)
	}
	stats := cache.Stats()
	t.Logf("200 concurrent cold requests: %d opener call(s), peak %d sessions in %d samples of pg_stat_activity, PeakConnections %d, MaxConns %d",
		dir.callCount(tenant.id), maxSessions, samples, stats.PeakConnections, cfg.MaxConns)

	require.Equal(t, 1, dir.callCount(tenant.id))
	require.Equal(t, int64(requests), stats.Misses)
	require.Equal(t, int64(0), stats.Hits)
	require.Equal(t, 1, stats.Pools)
	require.Positive(t, maxSessions)
	require.LessOrEqual(t, maxSessions, int(cfg.MaxConns))
	require.LessOrEqual(t, stats.PeakConnections, int64(cfg.MaxConns))
}

func TestCapacityEvictionKeepsLeasedPool(t *testing.T) {
	t.Parallel()

	first, second := newTenantDB(t), newTenantDB(t)
	dir := newDirectory(first, second)
	cfg := testConfig()
	cfg.Capacity, cfg.MaxConns, cfg.Budget = 1, 2, 2
	cache, logs := newCache(t, cfg, dir)
	admin := superuser(t)
	ctx := t.Context()

	held, err := cache.Acquire(ctx, first.id)
	require.NoError(t, err)
	defer held.Release()
	_, err = held.Pool().Exec(ctx, `SELECT 1`)
	require.NoError(t, err)

	other, err := cache.Acquire(ctx, second.id)
	require.NoError(t, err)
	defer other.Release()

	stats := cache.Stats()
	require.Equal(t, 1, stats.Pools)
	require.Equal(t, 1, stats.Draining)
	require.Equal(t, int64(1), stats.Evictions)

	// The eviction closed the idle connection at once, while the lease
	// still holds the pool open.
	requireSessionsEventually(t, admin, []string{first.applicationName()}, 0)

	var database string
	require.NoError(t, held.Pool().QueryRow(ctx, `SELECT current_database()`).Scan(&database))
	require.Equal(t, first.config.Database, database)
	_, err = other.Pool().Exec(ctx, `SELECT 1`)
	require.NoError(t, err)

	held.Release()
	requirePoolClosed(t, held.Pool())
	require.Eventually(t, func() bool { return cache.Stats().Draining == 0 }, waitTimeout, pollInterval)
	requireSessionsEventually(t, admin, []string{first.applicationName()}, 0)
	require.Contains(t, logs.String(), "reason=capacity")

	reopened, err := cache.Acquire(ctx, first.id)
	require.NoError(t, err)
	defer reopened.Release()
	require.NotSame(t, held.Pool(), reopened.Pool())
	require.Equal(t, 2, dir.callCount(first.id))
}

func TestLoadStaysWithinBudget(t *testing.T) {
	t.Parallel()

	const (
		tenantCount = 20
		workers     = 20
		requests    = 200
	)
	tenants := newTenantDBs(t, tenantCount)
	dir := newDirectory(tenants...)
	cfg := testConfig()
	cache, _ := newCache(t, cfg, dir)
	ctx := t.Context()

	names := make([]string, len(tenants))
	for i, tenant := range tenants {
		names[i] = tenant.applicationName()
	}
	sampler := sampleSessions(t, names)

	start := time.Now()
	var failures atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	// Seven requests in eight go to four hot tenants, as many as the cache
	// holds, and the rest to any of the 20. The cold requests keep evicting
	// hot pools while the test makes far fewer opens than a uniform choice,
	// each of which costs a SCRAM authentication.
	pick := func() tenantDB {
		if rand.IntN(8) < 7 {
			return tenants[rand.IntN(cfg.Capacity)]
		}
		return tenants[rand.IntN(len(tenants))]
	}
	for range workers {
		wg.Go(func() {
			for range requests {
				tenant := pick()
				if err := selectOne(ctx, cache, tenant.id); err != nil {
					failures.Add(1)
					firstErr.CompareAndSwap(nil, err)
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)

	maxSessions, samples := sampler.stopSampling(t)
	stats := cache.Stats()
	t.Logf("%d requests over %d tenants in %v: peak %d sessions in %d samples of pg_stat_activity, PeakConnections %d, budget %d; hits %d, misses %d, evictions %d",
		workers*requests, tenantCount, elapsed.Round(time.Millisecond), maxSessions, samples, stats.PeakConnections, cfg.Budget,
		stats.Hits, stats.Misses, stats.Evictions)

	require.Zero(t, failures.Load(), "first error: %v", firstErr.Load())
	require.Positive(t, maxSessions)
	require.LessOrEqual(t, maxSessions, cfg.Budget)
	require.LessOrEqual(t, stats.PeakConnections, int64(cfg.Budget))
	require.Equal(t, int64(workers*requests), stats.Hits+stats.Misses)
	require.LessOrEqual(t, stats.Pools, cfg.Capacity)
	require.Positive(t, stats.Evictions)
}

// selectOne runs SELECT 1 on the tenant's pool through a lease, as a
// request handler does.
func selectOne(ctx context.Context, cache *poolcache.Cache, tenantID uuid.UUID) error {
	lease, err := cache.Acquire(ctx, tenantID)
	if err != nil {
		return err
	}
	defer lease.Release()

	var one int
	return lease.Pool().QueryRow(ctx, `SELECT 1`).Scan(&one)
}

func TestHeldConnectionDoesNotBlockOthers(t *testing.T) {
	t.Parallel()

	const hold = 2 * time.Second
	tenants := newTenantDBs(t, 4)
	held, others := tenants[0], tenants[1:]
	dir := newDirectory(tenants...)
	cfg := testConfig()
	cfg.Capacity, cfg.MaxConns, cfg.Budget = 2, 2, 4
	cache, _ := newCache(t, cfg, dir)
	admin := superuser(t)
	ctx := t.Context()

	lease, err := cache.Acquire(ctx, held.id)
	require.NoError(t, err)
	conn, err := lease.Pool().Acquire(ctx)
	require.NoError(t, err)
	holding := make(chan struct{})
	go func() {
		defer close(holding)
		defer lease.Release()
		defer conn.Release()
		time.Sleep(hold)
	}()

	cache.Evict(held.id)

	start := time.Now()
	for _, tenant := range others {
		require.NoError(t, selectOne(ctx, cache, tenant.id))
	}
	elapsed := time.Since(start)
	t.Logf("3 cold Acquires and queries of other tenants took %v while an evicted pool's connection was held for %v", elapsed, hold)
	require.Less(t, elapsed, hold/2)

	sessions, err := countSessions(ctx, admin, []string{held.applicationName()})
	require.NoError(t, err)
	require.Equal(t, 1, sessions, "the held connection")
	// The fourth tenant's pool evicted the second one by capacity, which
	// closes at once because it has no lease.
	require.Eventually(t, func() bool { return cache.Stats().Draining == 1 }, waitTimeout, pollInterval)

	<-holding
	requirePoolClosed(t, lease.Pool())
	requireSessionsEventually(t, admin, []string{held.applicationName()}, 0)
	require.Eventually(t, func() bool { return cache.Stats().Draining == 0 }, waitTimeout, pollInterval)
}

func TestStampMismatchRejected(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name  string
		stamp uuid.UUID
	}{
		{name: "another tenant", stamp: uuid.New()},
		{name: "no stamp", stamp: uuid.Nil},
	}

	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()

			tenant := newStampedTenantDB(t, uuid.New(), tc.stamp)
			dir := newDirectory(tenant)
			cache, logs := newCache(t, testConfig(), dir)
			admin := superuser(t)
			ctx := t.Context()

			for attempt := 1; attempt <= 2; attempt++ {
				lease, err := cache.Acquire(ctx, tenant.id)
				require.ErrorIs(t, err, poolcache.ErrStampMismatch)
				require.Nil(t, lease)
				require.Equal(t, attempt, dir.callCount(tenant.id), "a refused pool is not cached")
			}

			stats := cache.Stats()
			require.Equal(t, 0, stats.Pools)
			require.Equal(t, int64(0), stats.Connections)
			requireSessionsEventually(t, admin, []string{tenant.applicationName()}, 0)
			require.Contains(t, logs.String(), "open tenant pool failed")
			require.NotContains(t, logs.String(), tenant.password)
		})
	}
}

func TestFailedOpenNotCached(t *testing.T) {
	t.Parallel()

	failing, healthy := newTenantDB(t), newTenantDB(t)
	dir := newDirectory(failing, healthy)
	cache, _ := newCache(t, testConfig(), dir)
	ctx := t.Context()

	var failed atomic.Bool
	dir.setHook(func(_ context.Context, id uuid.UUID) error {
		if id == failing.id && failed.CompareAndSwap(false, true) {
			return errInjected
		}
		return nil
	})

	_, err := cache.Acquire(ctx, failing.id)
	require.ErrorIs(t, err, errInjected)

	require.NoError(t, selectOne(ctx, cache, healthy.id))
	require.NoError(t, selectOne(ctx, cache, failing.id))
	require.Equal(t, 2, dir.callCount(failing.id))
	require.Equal(t, 1, dir.callCount(healthy.id))
	require.Equal(t, 2, cache.Stats().Pools)
}

func TestFailedConnectReleasesSlot(t *testing.T) {
	t.Parallel()

	healthy := newTenantDB(t)
	wrongPassword := newTenantDB(t)
	wrongPassword.config = wrongPassword.config.Copy()
	wrongPassword.config.Password = "wrong"
	hangUp := newTenantDB(t)
	hangUp.config = hangUp.config.Copy()
	hangUp.config.Host, hangUp.config.Port = startHangUpServer(t)

	dir := newDirectory(healthy, wrongPassword, hangUp)
	cfg := testConfig()
	cfg.Capacity, cfg.MaxConns, cfg.Budget = 1, 1, 1
	cfg.ConnectTimeout = 2 * time.Second
	cache, _ := newCache(t, cfg, dir)
	ctx := t.Context()

	// With a budget of one connection, a slot that a failed connect kept
	// would make every later connect time out.
	for range 3 {
		_, err := cache.Acquire(ctx, wrongPassword.id)
		require.ErrorContains(t, err, "28P01")
		_, err = cache.Acquire(ctx, hangUp.id)
		require.Error(t, err)
	}
	require.Equal(t, int64(0), cache.Stats().Connections)

	start := time.Now()
	require.NoError(t, selectOne(ctx, cache, healthy.id))
	require.Less(t, time.Since(start), cfg.ConnectTimeout)
	require.Equal(t, int64(1), cache.Stats().PeakConnections)
}

// startHangUpServer starts a TCP server on 127.0.0.1 that closes every
// connection at once, and returns its host and port.
func startHangUpServer(t *testing.T) (string, uint16) {
	t.Helper()

	listener, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { listener.Close() })

	go func() {
		for {
			conn, err := listener.Accept()
			if err != nil {
				return
			}
			conn.Close()
		}
	}()

	address := listener.Addr().(*net.TCPAddr)
	return address.IP.String(), uint16(address.Port)
}

func TestIdleTTLEvicts(t *testing.T) {
	t.Parallel()

	const idleTTL = 200 * time.Millisecond
	idle, leased := newTenantDB(t), newTenantDB(t)
	dir := newDirectory(idle, leased)
	cfg := testConfig()
	cfg.IdleTTL = idleTTL
	cache, logs := newCache(t, cfg, dir)
	ctx := t.Context()

	idleLease, err := cache.Acquire(ctx, idle.id)
	require.NoError(t, err)
	idleLease.Release()
	lease, err := cache.Acquire(ctx, leased.id)
	require.NoError(t, err)
	defer lease.Release()

	requirePoolClosed(t, idleLease.Pool())
	require.Contains(t, logs.String(), "reason=idle")

	// A pool with a lease is never idle, however long the lease lasts.
	time.Sleep(3 * idleTTL)
	require.Equal(t, 1, cache.Stats().Pools)
	lease.Release()

	again, err := cache.Acquire(ctx, leased.id)
	require.NoError(t, err)
	require.Same(t, lease.Pool(), again.Pool())
	again.Release()

	requirePoolClosed(t, lease.Pool())
	stats := cache.Stats()
	require.Equal(t, 0, stats.Pools)
	require.Equal(t, int64(2), stats.Evictions)
}

func TestCloseWaitsForPools(t *testing.T) {
	t.Parallel()

	held, released := newTenantDB(t), newTenantDB(t)
	dir := newDirectory(held, released)
	cache, _ := newCache(t, testConfig(), dir)
	admin := superuser(t)
	ctx := t.Context()

	lease, err := cache.Acquire(ctx, held.id)
	require.NoError(t, err)
	defer lease.Release()
	require.NoError(t, selectOne(ctx, cache, released.id))

	closed := make(chan struct{})
	go func() {
		defer close(closed)
		cache.Close()
	}()

	require.Eventually(t, func() bool {
		lease, err := cache.Acquire(ctx, released.id)
		if err == nil {
			lease.Release()
		}
		return errors.Is(err, poolcache.ErrClosed)
	}, waitTimeout, pollInterval)
	select {
	case <-closed:
		t.Fatal("Close returned while a lease was held")
	case <-time.After(200 * time.Millisecond):
	}
	_, err = lease.Pool().Exec(ctx, `SELECT 1`)
	require.NoError(t, err, "a lease keeps working after Close starts")

	lease.Release()
	select {
	case <-closed:
	case <-time.After(waitTimeout):
		t.Fatal("Close did not return after the last lease was released")
	}

	stats := cache.Stats()
	require.Equal(t, 0, stats.Pools)
	require.Equal(t, 0, stats.Draining)
	require.Equal(t, int64(0), stats.Connections)
	sessions, err := countSessions(ctx, admin, []string{held.applicationName(), released.applicationName()})
	require.NoError(t, err)
	require.Zero(t, sessions)
}

func TestEvictThenAcquireOpensFreshPool(t *testing.T) {
	t.Parallel()

	tenant := newTenantDB(t)
	dir := newDirectory(tenant)
	cache, _ := newCache(t, testConfig(), dir)
	admin := superuser(t)
	ctx := t.Context()

	old, err := cache.Acquire(ctx, tenant.id)
	require.NoError(t, err)
	old.Release()

	// A credential change: the old pool's password no longer works for new
	// connections, and the opener returns the new one.
	rotated := tenant
	rotated.config = tenant.config.Copy()
	rotated.config.Password = "rotated"
	_, err = admin.Exec(ctx, "ALTER ROLE "+pgx.Identifier{tenant.config.User}.Sanitize()+" PASSWORD 'rotated'")
	require.NoError(t, err)
	dir.mu.Lock()
	dir.tenants[tenant.id] = rotated
	dir.mu.Unlock()

	cache.Evict(tenant.id)
	fresh, err := cache.Acquire(ctx, tenant.id)
	require.NoError(t, err)
	defer fresh.Release()

	require.NotSame(t, old.Pool(), fresh.Pool())
	_, err = fresh.Pool().Exec(ctx, `SELECT 1`)
	require.NoError(t, err)
	requirePoolClosed(t, old.Pool())
	require.Equal(t, 2, dir.callCount(tenant.id))

	stats := cache.Stats()
	require.Equal(t, 1, stats.Pools)
	require.Equal(t, int64(1), stats.Evictions)
	require.Equal(t, int64(2), stats.Misses)
}

func TestEvictDuringOpenIsNotCached(t *testing.T) {
	t.Parallel()

	tenant := newTenantDB(t)
	dir := newDirectory(tenant)
	cache, _ := newCache(t, testConfig(), dir)
	ctx := t.Context()

	entered := make(chan struct{})
	proceed := make(chan struct{})
	var first atomic.Bool
	dir.setHook(func(context.Context, uuid.UUID) error {
		if first.CompareAndSwap(false, true) {
			close(entered)
			<-proceed
		}
		return nil
	})

	type result struct {
		lease *poolcache.Lease
		err   error
	}
	results := make(chan result, 1)
	go func() {
		lease, err := cache.Acquire(ctx, tenant.id)
		results <- result{lease, err}
	}()

	<-entered
	cache.Evict(tenant.id)
	close(proceed)

	got := <-results
	require.NoError(t, got.err)
	defer got.lease.Release()
	require.Equal(t, 2, dir.callCount(tenant.id), "the open that started before Evict is not used")

	stats := cache.Stats()
	require.Equal(t, 1, stats.Pools)
	require.Equal(t, int64(1), stats.Misses)
	_, err := got.lease.Pool().Exec(ctx, `SELECT 1`)
	require.NoError(t, err)
}

func TestOpenWithFullBudgetEvictsIdlePool(t *testing.T) {
	t.Parallel()

	tenants := newTenantDBs(t, 3)
	dir := newDirectory(tenants...)
	cfg := testConfig()
	cfg.Capacity, cfg.MaxConns, cfg.Budget = 2, 2, 4
	cfg.ConnectTimeout = 3 * time.Second
	cache, logs := newCache(t, cfg, dir)
	ctx := t.Context()

	// Two cached pools with two idle connections each take the whole
	// budget.
	var pools []*pgxpool.Pool
	for _, tenant := range tenants[:2] {
		lease, err := cache.Acquire(ctx, tenant.id)
		require.NoError(t, err)
		first, err := lease.Pool().Acquire(ctx)
		require.NoError(t, err)
		second, err := lease.Pool().Acquire(ctx)
		require.NoError(t, err)
		first.Release()
		second.Release()
		lease.Release()
		pools = append(pools, lease.Pool())
	}
	require.Equal(t, int64(4), cache.Stats().Connections)

	start := time.Now()
	require.NoError(t, selectOne(ctx, cache, tenants[2].id))
	elapsed := time.Since(start)
	t.Logf("open with the budget full of idle connections took %v", elapsed)
	require.Less(t, elapsed, cfg.ConnectTimeout/2)

	requirePoolClosed(t, pools[0])
	require.Contains(t, logs.String(), "reason=capacity")
	stats := cache.Stats()
	require.Equal(t, 2, stats.Pools)
	require.Equal(t, int64(1), stats.Evictions)
	require.LessOrEqual(t, stats.PeakConnections, int64(cfg.Budget))
}
