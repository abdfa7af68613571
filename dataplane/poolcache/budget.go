package poolcache

import (
	"context"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"golang.org/x/sync/semaphore"
)

// serverExitTimeout bounds the wait, when a connection closes, for the
// server to close its end. A backend that does not close its end by then
// is counted as gone anyway.
const serverExitTimeout = time.Second

// connBudget caps the server connections of all pools of a cache at one
// semaphore slot per socket, and counts them.
//
// A slot is taken before each dial of a connection attempt and released
// when that socket closes, so failed attempts, connections a pool closes
// and connections of pools closed after eviction all give their slot back
// exactly once. pgxpool has no hook for a failed connect, so the slot
// follows the socket rather than a pair of pool hooks.
type connBudget struct {
	size  int
	slots *semaphore.Weighted

	open atomic.Int64
	peak atomic.Int64
}

func newConnBudget(size int) *connBudget {
	return &connBudget{size: size, slots: semaphore.NewWeighted(int64(size))}
}

// beforeConnect returns the pgxpool BeforeConnect hook of one pool.
// onShortage runs when a dial of that pool finds no free slot, before it
// waits for one.
func (b *connBudget) beforeConnect(onShortage func()) func(context.Context, *pgx.ConnConfig) error {
	return func(_ context.Context, config *pgx.ConnConfig) error {
		b.guard(config, onShortage)
		return nil
	}
}

// guard makes every dial of the connection attempt that uses config take
// a slot. config is the copy that pgxpool makes for this one attempt, so
// the dialer installed here belongs to this attempt alone.
func (b *connBudget) guard(config *pgx.ConnConfig, onShortage func()) {
	dial := config.DialFunc
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	attempt := &connectAttempt{budget: b, dial: dial, onShortage: onShortage}
	config.DialFunc = attempt.dialContext

	// pgconn calls AfterConnect once the connection is established. Later
	// dials with this config are cancel requests, which PostgreSQL handles
	// while reading the startup packet (ProcessStartupPacket in
	// postmaster.c), so they take no max_connections slot. They skip the
	// budget, because waiting for a slot would delay the cancel of a query
	// whose client has gone.
	next := config.AfterConnect
	config.AfterConnect = func(ctx context.Context, conn *pgconn.PgConn) error {
		attempt.connected.Store(true)
		if next != nil {
			return next(ctx, conn)
		}
		return nil
	}
}

// connectAttempt is one connection attempt of a pool, which dials once per
// host and TLS mode it tries.
type connectAttempt struct {
	budget     *connBudget
	dial       pgconn.DialFunc
	onShortage func()
	connected  atomic.Bool
}

// dialContext waits for a slot and dials. pgconn bounds ctx by
// ConnectTimeout, which therefore bounds the wait too.
func (a *connectAttempt) dialContext(ctx context.Context, network, address string) (net.Conn, error) {
	if a.connected.Load() {
		return a.dial(ctx, network, address)
	}

	b := a.budget
	if !b.slots.TryAcquire(1) {
		a.onShortage()
		if err := b.slots.Acquire(ctx, 1); err != nil {
			return nil, fmt.Errorf("wait for a free connection of SILO_POOL_CONNECTION_BUDGET=%d: %w", b.size, err)
		}
	}

	conn, err := a.dial(ctx, network, address)
	if err != nil {
		b.slots.Release(1)
		return nil, err
	}

	b.raisePeak(b.open.Add(1))

	return &budgetConn{Conn: conn, budget: b}, nil
}

// raisePeak records open as the peak if it exceeds the current one.
func (b *connBudget) raisePeak(open int64) {
	for {
		peak := b.peak.Load()
		if open <= peak || b.peak.CompareAndSwap(peak, open) {
			return
		}
	}
}

// budgetConn is a socket to the server that holds a slot of the budget
// until it closes.
type budgetConn struct {
	net.Conn
	budget *connBudget

	closeOnce sync.Once
	closeErr  error
}

// Close waits for the server to close its end, then closes the socket and
// releases the slot. A PostgreSQL backend frees its max_connections slot
// and its pg_stat_activity row in its shared memory exit callbacks, and
// closes its socket only later, in its process exit callbacks (ipc.c and
// pqcomm.c, PostgreSQL 15). Waiting for that close keeps the budget true
// as the server counts, not only as this process counts.
func (c *budgetConn) Close() error {
	c.closeOnce.Do(func() {
		c.awaitServerClose()
		c.closeErr = c.Conn.Close()

		c.budget.open.Add(-1)
		c.budget.slots.Release(1)
	})

	return c.closeErr
}

// awaitServerClose half-closes the socket, which ends the session even
// when no Terminate message was sent, and reads until the server closes
// its end or serverExitTimeout passes.
func (c *budgetConn) awaitServerClose() {
	if half, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		_ = half.CloseWrite()
	}
	if err := c.SetReadDeadline(time.Now().Add(serverExitTimeout)); err != nil {
		return
	}

	_, _ = io.Copy(io.Discard, c.Conn)
}
