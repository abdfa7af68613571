package poolcache

import (
	"time"

	"github.com/google/uuid"
)

// Reasons for an eviction, as logged.
const (
	reasonCapacity = "capacity"
	reasonIdle     = "idle"
	reasonEvict    = "evict"
	reasonClose    = "close"
)

// minSweepInterval keeps the sweeper's ticker positive for tiny idle TTLs.
const minSweepInterval = time.Millisecond

// onEvict is the LRU's eviction callback, called with Cache.mu held. The
// entry leaves the cache at once, and its pool drains in the background.
func (c *Cache) onEvict(_ uuid.UUID, e *entry) {
	e.evicted = true
	c.draining++
	c.evictions++
	if e.leases == 0 {
		close(e.released)
	}

	c.background.Add(1)
	go c.drain(e, c.evictReason, e.leases)
}

// drain closes the idle connections of an evicted pool at once, and the
// pool itself after its last lease ends. It runs without Cache.mu, because
// closing connections waits for the server.
func (c *Cache) drain(e *entry, reason string, leases int) {
	defer c.background.Done()

	c.logger.Info("tenant pool evicted", "tenant_id", e.tenantID, "reason", reason, "leases", leases)
	e.pool.Reset()

	<-e.released
	e.pool.Close()

	c.mu.Lock()
	c.draining--
	c.mu.Unlock()
}

// Evict removes the tenant's pool from the cache, for example after a
// status or credential change. The pool closes once its last lease ends,
// and later Acquires open a new pool with new settings. An open in
// progress is not cached: the Acquires that wait for it open again.
func (c *Cache) Evict(tenantID uuid.UUID) {
	c.mu.Lock()
	defer c.mu.Unlock()

	c.evictReason = reasonEvict
	c.entries.Remove(tenantID)

	if f, ok := c.opening[tenantID]; ok {
		f.stale = true
	}
	c.flights.Forget(tenantID.String())
}

// Close evicts every pool, stops the sweeper and waits until every pool
// is closed, which includes waiting for every lease to be released and
// every open in progress to end. Acquire returns ErrClosed afterwards.
func (c *Cache) Close() {
	c.mu.Lock()
	first := !c.closed
	if first {
		c.closed = true
		c.evictReason = reasonClose
		c.entries.Purge()
	}
	c.mu.Unlock()

	if first {
		close(c.stopSweep)
	}
	<-c.sweepDone
	c.background.Wait()
}

// sweepInterval returns the sweeper's period: a quarter of the idle TTL,
// so an idle pool is evicted between 1 and 1.25 times the TTL after its
// last use, for TTLs of 4 ms and more.
func sweepInterval(idleTTL time.Duration) time.Duration {
	return max(idleTTL/4, minSweepInterval)
}

// sweep evicts idle pools every interval until Close.
func (c *Cache) sweep(interval time.Duration) {
	defer close(c.sweepDone)

	ticker := time.NewTicker(interval)
	defer ticker.Stop()

	for {
		select {
		case <-c.stopSweep:
			return
		case now := <-ticker.C:
			c.evictIdle(now)
		}
	}
}

// evictIdle evicts the pools that have no lease and were last used at
// least IdleTTL before now.
func (c *Cache) evictIdle(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()

	c.evictReason = reasonIdle
	for _, e := range c.entries.Values() {
		if e.leases == 0 && now.Sub(e.lastUsed) >= c.cfg.IdleTTL {
			c.entries.Remove(e.tenantID)
		}
	}
}
