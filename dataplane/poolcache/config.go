package poolcache

import (
	"errors"
	"fmt"
	"time"
)

// Config sets the size of the cache and the settings of each tenant pool.
type Config struct {
	// Capacity is the maximum number of pools kept open (SILO_POOL_CACHE_SIZE).
	Capacity int

	// MaxConns is the connection cap of each pool (SILO_POOL_MAX_CONNS).
	MaxConns int32

	// Budget is the cap on server connections across all pools, draining
	// ones included (SILO_POOL_CONNECTION_BUDGET). It must be at least
	// Capacity times MaxConns, so the cached pools alone never exhaust it.
	//
	// NOTE: connections of draining pools use the margin above that
	// product. With no margin, a new connection may wait, up to
	// ConnectTimeout, for a request on an evicted pool to end.
	Budget int

	// IdleTTL is how long a pool may go without a lease or an Acquire
	// before it is evicted (SILO_POOL_IDLE_TTL).
	IdleTTL time.Duration

	// ConnectTimeout bounds each new connection, including the wait for a
	// free slot of Budget.
	ConnectTimeout time.Duration

	// MaxConnIdleTime is how long a connection may sit idle in its pool
	// before the pool closes it.
	MaxConnIdleTime time.Duration

	// HealthCheckPeriod is the interval of each pool's check of its idle
	// connections.
	HealthCheckPeriod time.Duration
}

// Validate returns an error that lists every invalid setting, or nil.
func (c Config) Validate() error {
	var errs []error
	add := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf(format, args...))
	}

	if c.Capacity < 1 {
		add("invalid pool cache size SILO_POOL_CACHE_SIZE=%d: must be at least 1", c.Capacity)
	}
	if c.MaxConns < 1 {
		add("invalid pool connection cap SILO_POOL_MAX_CONNS=%d: must be at least 1", c.MaxConns)
	}
	if need := int64(c.Capacity) * int64(c.MaxConns); int64(c.Budget) < need {
		add("invalid connection budget SILO_POOL_CONNECTION_BUDGET=%d: it is less than SILO_POOL_CACHE_SIZE=%d times SILO_POOL_MAX_CONNS=%d = %d; raise the budget or lower one of them",
			c.Budget, c.Capacity, c.MaxConns, need)
	}

	durations := []struct {
		name  string
		value time.Duration
	}{
		{"idle TTL SILO_POOL_IDLE_TTL", c.IdleTTL},
		{"ConnectTimeout", c.ConnectTimeout},
		{"MaxConnIdleTime", c.MaxConnIdleTime},
		{"HealthCheckPeriod", c.HealthCheckPeriod},
	}
	for _, d := range durations {
		if d.value <= 0 {
			add("invalid %s=%s: must be positive", d.name, d.value)
		}
	}

	return errors.Join(errs...)
}
