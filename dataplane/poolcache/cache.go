package poolcache

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/hashicorp/golang-lru/v2/simplelru"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/sync/singleflight"
)

// ErrClosed is returned by Acquire after Close.
var ErrClosed = errors.New("pool cache is closed")

// Cache keeps a pool for each of the Config.Capacity most recently used
// tenants. It is safe for concurrent use.
type Cache struct {
	cfg    Config
	open   Opener
	logger *slog.Logger
	budget *connBudget

	// flights runs one open per tenant at a time, keyed by tenant id, and
	// hands its result to every Acquire that waits for it.
	flights singleflight.Group

	// mu guards the fields below and the lease fields of every entry. It is
	// never held during I/O.
	mu      sync.Mutex
	entries *simplelru.LRU[uuid.UUID, *entry]
	opening map[uuid.UUID]*flight
	closed  bool

	// openCount is the number of opens in progress, stale ones included.
	// Each of them will need a place in the cache.
	openCount int

	// evictReason is the reason logged for entries that the current call
	// into entries evicts, set before each such call.
	evictReason string

	draining  int
	hits      int64
	misses    int64
	evictions int64

	// background counts opens in progress and evicted pools not yet
	// closed, for Close to wait for.
	background sync.WaitGroup
	stopSweep  chan struct{}
	sweepDone  chan struct{}
}

// entry is a tenant's pool and its leases.
type entry struct {
	tenantID uuid.UUID
	pool     *pgxpool.Pool

	// The fields below are guarded by Cache.mu.
	leases   int
	lastUsed time.Time
	evicted  bool

	// released is closed when the entry is evicted and has no leases left,
	// which lets its pool close.
	released chan struct{}
}

// flight is an open of a tenant's pool, guarded by Cache.mu.
type flight struct {
	// stale is set by Evict, so the pool opened with settings read before
	// the Evict is closed instead of cached.
	stale bool

	// finished is set when the open has ended, whatever its result.
	finished bool
}

// Stats is a snapshot of the cache's counters.
type Stats struct {
	// Pools is the number of pools in the cache.
	Pools int

	// Draining is the number of evicted pools not yet closed, because a
	// lease is still held or the close is in progress.
	Draining int

	// Connections is the number of server connections open now, in all
	// pools, draining ones included.
	Connections int64

	// PeakConnections is the maximum of Connections since New.
	PeakConnections int64

	// Hits is the number of Acquires served by a pool in the cache.
	Hits int64

	// Misses is the number of Acquires that found no pool in the cache and
	// waited for one to open.
	Misses int64

	// Evictions is the number of pools removed from the cache for any
	// reason: capacity, idle TTL, Evict or Close.
	Evictions int64
}

// Lease holds a tenant's pool open until Release. It satisfies
// tenancy.Lease.
type Lease struct {
	cache    *Cache
	entry    *entry
	released atomic.Bool
}

// Pool returns the leased pool. The pool may close once the lease is
// released, so callers must not use it after Release.
func (l *Lease) Pool() *pgxpool.Pool {
	return l.entry.pool
}

// Release ends the lease. Calls after the first do nothing. When the pool
// has been evicted and this was its last lease, the pool closes in the
// background.
func (l *Lease) Release() {
	if !l.released.CompareAndSwap(false, true) {
		return
	}

	c := l.cache
	c.mu.Lock()
	defer c.mu.Unlock()

	e := l.entry
	e.leases--
	e.lastUsed = time.Now()
	if e.evicted && e.leases == 0 {
		close(e.released)
	}
}

// New returns an empty cache that opens pools with open, and starts its
// idle sweeper. Call Close to stop the sweeper and close every pool.
func New(cfg Config, open Opener, logger *slog.Logger) (*Cache, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("create pool cache: %w", err)
	}
	if open == nil {
		return nil, errors.New("create pool cache: the opener is nil")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}

	c := &Cache{
		cfg:       cfg,
		open:      open,
		logger:    logger,
		budget:    newConnBudget(cfg.Budget),
		opening:   map[uuid.UUID]*flight{},
		stopSweep: make(chan struct{}),
		sweepDone: make(chan struct{}),
	}
	entries, err := simplelru.NewLRU(cfg.Capacity, c.onEvict)
	if err != nil {
		return nil, fmt.Errorf("create pool cache: %w", err)
	}
	c.entries = entries

	go c.sweep(sweepInterval(cfg.IdleTTL))

	return c, nil
}

// Acquire returns a lease on the tenant's pool, opening the pool on a
// miss. Concurrent misses of one tenant share one open, and a failed open
// is not cached, so the next Acquire tries again. ctx bounds this call's
// wait. The shared open ignores its cancellation and is bounded by twice
// ConnectTimeout instead, because other calls may wait for it too.
func (c *Cache) Acquire(ctx context.Context, tenantID uuid.UUID) (*Lease, error) {
	lease, err := c.lookup(tenantID, true)
	if lease != nil || err != nil {
		return lease, err
	}

	// The pool that an open puts in the cache can be evicted again before
	// this call leases it, so the loop opens another. Each round needs a
	// completed open, so it does not spin.
	for {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("acquire pool of tenant %s: %w", tenantID, context.Cause(ctx))
		}
		if err := c.awaitOpen(ctx, tenantID); err != nil {
			return nil, err
		}

		lease, err := c.lookup(tenantID, false)
		if lease != nil || err != nil {
			return lease, err
		}
	}
}

// lookup leases the tenant's pool if the cache contains it. With count
// set, the call counts as a hit or a miss.
func (c *Cache) lookup(tenantID uuid.UUID, count bool) (*Lease, error) {
	c.mu.Lock()
	defer c.mu.Unlock()

	if c.closed {
		return nil, ErrClosed
	}

	e, ok := c.entries.Get(tenantID)
	if !ok {
		if count {
			c.misses++
		}
		return nil, nil
	}
	if count {
		c.hits++
	}

	e.leases++
	e.lastUsed = time.Now()

	return &Lease{cache: c, entry: e}, nil
}

// Stats returns a snapshot of the cache's counters.
func (c *Cache) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()

	return Stats{
		Pools:           c.entries.Len(),
		Draining:        c.draining,
		Connections:     c.budget.open.Load(),
		PeakConnections: c.budget.peak.Load(),
		Hits:            c.hits,
		Misses:          c.misses,
		Evictions:       c.evictions,
	}
}
