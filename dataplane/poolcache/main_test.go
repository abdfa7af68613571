package poolcache_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"silo.dev/silo/dataplane/poolcache"
	"silo.dev/silo/internal/pgtest"
)

// waitTimeout bounds the wait for a pool to close or a session to end.
const waitTimeout = 10 * time.Second

// pollInterval is the wait between two checks of a condition the test
// waits for.
const pollInterval = 10 * time.Millisecond

// cleanupTimeout bounds the statements of cleanup functions, which run
// after t.Context is canceled.
const cleanupTimeout = 10 * time.Second

func TestMain(m *testing.M) {
	pgtest.Main(m)
}

// testConfig returns settings small enough for the tests: 4 pools of 2
// connections and a budget of exactly 4 × 2.
func testConfig() poolcache.Config {
	return poolcache.Config{
		Capacity:          4,
		MaxConns:          2,
		Budget:            8,
		IdleTTL:           time.Minute,
		ConnectTimeout:    5 * time.Second,
		MaxConnIdleTime:   time.Minute,
		HealthCheckPeriod: time.Minute,
	}
}

// tenantDB is a database made for one test tenant. The superuser owns it,
// and a login role of the tenant's own may read its tenant_identity.
type tenantDB struct {
	id       uuid.UUID
	password string

	// config connects to the database as the tenant's role.
	config *pgx.ConnConfig
}

// applicationName returns the application_name of the cache's
// connections to this tenant's database.
func (d tenantDB) applicationName() string {
	return "silo:" + d.id.String()
}

// newTenantDB creates a tenant database for a new tenant id, stamped with
// that id.
func newTenantDB(t *testing.T) tenantDB {
	t.Helper()

	id := uuid.New()
	return newStampedTenantDB(t, id, id)
}

// newStampedTenantDB creates a login role and a database whose
// tenant_identity row names stamp, or that has no row when stamp is
// uuid.Nil, and returns it as the database of tenant id. Both are dropped
// after the test.
func newStampedTenantDB(t *testing.T, id, stamp uuid.UUID) tenantDB {
	t.Helper()

	cluster := pgtest.Cluster(t)
	role := "tenant_" + strings.ToLower(rand.Text())
	password := rand.Text()

	// Cleanups run last in, first out: this one runs after NewDatabase's
	// cleanup has dropped the database that holds the role's privilege.
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		defer cancel()

		conn, err := pgx.Connect(ctx, cluster.URL("postgres"))
		if err != nil {
			t.Errorf("connect to drop role %s: %v", role, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP ROLE IF EXISTS "+pgx.Identifier{role}.Sanitize()); err != nil {
			t.Errorf("drop role %s: %v", role, err)
		}
	})

	url := pgtest.NewDatabase(t, "")
	ctx := t.Context()
	admin, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer admin.Close(context.WithoutCancel(ctx))

	// rand.Text returns base32 letters and digits only, so the password
	// needs no quoting beyond the quotes around it.
	_, err = admin.Exec(ctx, "CREATE ROLE "+pgx.Identifier{role}.Sanitize()+" LOGIN PASSWORD '"+password+"'")
	require.NoError(t, err)
	_, err = admin.Exec(ctx, `CREATE TABLE tenant_identity (
		singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
		tenant_id uuid NOT NULL)`)
	require.NoError(t, err)
	if stamp != uuid.Nil {
		_, err = admin.Exec(ctx, `INSERT INTO tenant_identity (tenant_id) VALUES ($1)`, stamp)
		require.NoError(t, err)
	}
	_, err = admin.Exec(ctx, "GRANT SELECT ON tenant_identity TO "+pgx.Identifier{role}.Sanitize())
	require.NoError(t, err)

	config, err := pgx.ParseConfig(url)
	require.NoError(t, err)
	config.User = role
	config.Password = password

	return tenantDB{id: id, password: password, config: config}
}

// newTenantDBs creates n tenant databases.
func newTenantDBs(t *testing.T, n int) []tenantDB {
	t.Helper()

	tenants := make([]tenantDB, n)
	for i := range tenants {
		tenants[i] = newTenantDB(t)
	}
	return tenants
}

// directory is an Opener over the tenant databases of one test. It
// counts its calls per tenant and runs an optional hook before each.
type directory struct {
	mu      sync.Mutex
	tenants map[uuid.UUID]tenantDB
	calls   map[uuid.UUID]int

	// hook, when set, runs first on every call, and its error is
	// returned.
	hook func(ctx context.Context, id uuid.UUID) error
}

func newDirectory(tenants ...tenantDB) *directory {
	d := &directory{tenants: map[uuid.UUID]tenantDB{}, calls: map[uuid.UUID]int{}}
	for _, tenant := range tenants {
		d.tenants[tenant.id] = tenant
	}
	return d
}

func (d *directory) open(ctx context.Context, id uuid.UUID) (poolcache.Target, error) {
	d.mu.Lock()
	d.calls[id]++
	hook := d.hook
	tenant, ok := d.tenants[id]
	d.mu.Unlock()

	if hook != nil {
		if err := hook(ctx, id); err != nil {
			return poolcache.Target{}, err
		}
	}
	if !ok {
		return poolcache.Target{}, fmt.Errorf("tenant %s not found", id)
	}

	return poolcache.Target{TenantID: id, ConnConfig: tenant.config}, nil
}

// setHook replaces the hook.
func (d *directory) setHook(hook func(ctx context.Context, id uuid.UUID) error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.hook = hook
}

// callCount returns the number of calls for the tenant id.
func (d *directory) callCount(id uuid.UUID) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.calls[id]
}

// logBuffer collects log output of a cache for checks, safe for
// concurrent writes.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// newCache creates a cache over dir that is closed after the test, and
// returns it with its log output.
func newCache(t *testing.T, cfg poolcache.Config, dir *directory) (*poolcache.Cache, *logBuffer) {
	t.Helper()

	logs := &logBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cache, err := poolcache.New(cfg, dir.open, logger)
	require.NoError(t, err)
	t.Cleanup(cache.Close)

	return cache, logs
}

// superuser returns a connection to the cluster's postgres database that
// is closed after the test.
func superuser(t *testing.T) *pgx.Conn {
	t.Helper()

	conn, err := pgx.Connect(t.Context(), pgtest.Cluster(t).URL("postgres"))
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close(context.Background()) })

	return conn
}

// countSessions returns the number of server sessions whose
// application_name is one of names.
func countSessions(ctx context.Context, conn *pgx.Conn, names []string) (int, error) {
	var sessions int
	err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE application_name = ANY($1)`, names).Scan(&sessions)
	if err != nil {
		return 0, fmt.Errorf("count sessions: %w", err)
	}
	return sessions, nil
}

// requireSessionsEventually waits until the number of sessions named one
// of names is want.
func requireSessionsEventually(t *testing.T, conn *pgx.Conn, names []string, want int) {
	t.Helper()

	var last int
	require.Eventually(t, func() bool {
		sessions, err := countSessions(t.Context(), conn, names)
		require.NoError(t, err)
		last = sessions
		return sessions == want
	}, waitTimeout, pollInterval, "sessions named %v: want %d, last count %d", names, want, last)
}

// sessionSampler counts, in a loop on a connection of its own, the server
// sessions whose application_name is one of names, and keeps the maximum.
type sessionSampler struct {
	stop chan struct{}
	done chan struct{}

	max     int
	samples int
	err     error
}

// sampleSessions starts a sampler. Call stopSampling to end it and read
// its maximum.
func sampleSessions(t *testing.T, names []string) *sessionSampler {
	t.Helper()

	conn := superuser(t)
	s := &sessionSampler{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		for {
			select {
			case <-s.stop:
				return
			default:
			}

			sessions, err := countSessions(context.Background(), conn, names)
			if err != nil {
				s.err = err
				return
			}
			s.samples++
			s.max = max(s.max, sessions)
		}
	}()

	return s
}

// stopSampling ends the sampler and returns the maximum number of sessions
// it saw and the number of samples it took.
func (s *sessionSampler) stopSampling(t *testing.T) (maxSessions, samples int) {
	t.Helper()

	close(s.stop)
	<-s.done
	require.NoError(t, s.err)

	return s.max, s.samples
}

// requirePoolClosed waits until pool rejects acquires because it is
// closed.
func requirePoolClosed(t *testing.T, pool *pgxpool.Pool) {
	t.Helper()

	require.Eventually(t, func() bool {
		err := pool.Ping(t.Context())
		return err != nil && strings.Contains(err.Error(), "closed pool")
	}, waitTimeout, pollInterval, "pool still open")
}
