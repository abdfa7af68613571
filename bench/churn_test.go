//go:build bench

package bench

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"silo.dev/silo/controlplane/catalog"
	silov1 "silo.dev/silo/gen/silo/v1"
	"silo.dev/silo/gen/silo/v1/silov1connect"
	"silo.dev/silo/internal/config"
	"silo.dev/silo/internal/devstack"
	"silo.dev/silo/internal/pgcluster"
	"silo.dev/silo/internal/server"
	"silo.dev/silo/internal/silotest"
)

// Settings of the churn benchmark. -short runs a few tenants for a moment
// to check the code and records nothing.
const (
	churnTenants       = 1000
	churnShortTenants  = 12
	churnCacheSize     = 100
	churnShortCache    = 4
	churnPoolMaxConns  = 2
	churnWorkers       = 8
	churnWarmup        = 3 * time.Second
	churnDuration      = 20 * time.Second
	churnShortDuration = time.Second
	// churnZipfS and churnZipfV are the parameters s and v of rand.NewZipf:
	// the tenant of rank k is requested with a weight of (v+k)^(-s).
	churnZipfS = 1.1
	churnZipfV = 1
	// churnSampleInterval is how often the benchmark counts the server's
	// connections to tenant databases.
	churnSampleInterval = 50 * time.Millisecond
)

// poolApplicationPrefix starts the application_name of every connection of
// silo's tenant pools.
//
// NOTE: this copies the unexported applicationNamePrefix of
// dataplane/poolcache. Update it when that changes.
const poolApplicationPrefix = "silo:"

// churnResult is what the churn benchmark measured in its measured window.
type churnResult struct {
	tenants, workers, cacheSize int
	budget                      int
	maxConns                    int32
	duration, warmup            time.Duration
	// setup is how long preparing the fixture took: starting its cluster and
	// server and creating the missing tenants.
	setup time.Duration
	// created is how many tenants this run created. Zero means that the run
	// reused the fixture as it was.
	created int
	// databaseSize is the size in bytes of one tenant's database.
	databaseSize     int64
	load             loadResult
	distinct         int
	opens, evictions int
	peakConnections  int
	samples          int
}

// requests returns the number of requests sent, failed ones included.
func (r churnResult) requests() int {
	return len(r.load.latencies) + r.load.errors
}

// hitRate returns the share of requests that did not open a pool.
func (r churnResult) hitRate() float64 {
	return 1 - float64(r.opens)/float64(r.requests())
}

// TestBenchmarkChurn sends Zipf-distributed GetTicket requests over many
// more tenants than the pool cache holds, measures the cache's hit rate,
// throughput, latency, errors and the server's connections to tenant
// databases, and writes the churn section of docs/benchmarks.md. It fails
// on any error or when the connections exceed the budget.
func TestBenchmarkChurn(t *testing.T) {
	result := churnResult{
		tenants:   churnTenants,
		workers:   churnWorkers,
		cacheSize: churnCacheSize,
		maxConns:  churnPoolMaxConns,
		duration:  churnDuration,
		warmup:    churnWarmup,
	}
	if testing.Short() {
		result.tenants, result.cacheSize = churnShortTenants, churnShortCache
		result.duration, result.warmup = churnShortDuration, churnShortDuration
	}
	result.budget = result.cacheSize * int(result.maxConns)

	prepared := time.Now()
	env := startFixture(t, func(cfg *config.Config) {
		cfg.PoolCacheSize = result.cacheSize
		cfg.PoolMaxConns = result.maxConns
		cfg.PoolConnectionBudget = result.budget
	})
	ctx := t.Context()
	tenants, created := prepareChurnTenants(t, env, result.tenants)
	result.tenants, result.created = len(tenants), created
	result.setup = time.Since(prepared)
	require.NoError(t, env.Catalog.QueryRow(ctx, `SELECT pg_database_size($1)`,
		catalog.ObjectName(tenants[0].ID)).Scan(&result.databaseSize))
	t.Logf("prepared %d tenants in %s, %d of them created", len(tenants), result.setup.Round(time.Millisecond), created)

	// Zipf ranks map to tenants in a shuffled order, so popularity does not
	// follow creation order.
	shuffle := rand.New(rand.NewPCG(1, 2))
	shuffle.Shuffle(len(tenants), func(i, j int) { tenants[i], tenants[j] = tenants[j], tenants[i] })
	client := newHTTPClient(t, 2*result.workers)
	clients := make([]silov1connect.TicketServiceClient, len(tenants))
	for i, tenant := range tenants {
		clients[i] = ticketClient(t, env, client, env.URL, tenant.ID.String())
	}

	var requested sync.Map
	var measuring atomic.Bool
	zipfs := make([]*rand.Zipf, result.workers)
	for w := range zipfs {
		zipfs[w] = rand.NewZipf(rand.New(rand.NewPCG(uint64(w), 3)), churnZipfS, churnZipfV, uint64(len(tenants)-1))
	}
	request := func(ctx context.Context, worker int) error {
		rank := zipfs[worker].Uint64()
		if measuring.Load() {
			requested.Store(rank, true)
		}
		return getTicket(ctx, clients[rank], tenants[rank].TicketID)
	}

	sampler := startConnectionSampler(t, env)
	warm := runLoad(ctx, result.workers, result.warmup, request)
	require.Zero(t, warm.errors, "errors in the warm-up, the first: %v", warm.firstError)

	opensBefore, evictionsBefore := countPoolEvents(env)
	sampler.reset()
	measuring.Store(true)
	result.load = runLoad(ctx, result.workers, result.duration, request)
	measuring.Store(false)
	result.peakConnections, result.samples = sampler.peak()
	opensAfter, evictionsAfter := countPoolEvents(env)
	result.opens, result.evictions = opensAfter-opensBefore, evictionsAfter-evictionsBefore
	requested.Range(func(any, any) bool { result.distinct++; return true })
	if result.load.firstError != nil {
		t.Logf("first error: %v", result.load.firstError)
	}

	section := renderChurn(result, readSettings(t, env), describeMachine(ctx, env.Catalog), time.Now())
	if !recordSection(t, "churn", section) {
		return
	}
	require.Zero(t, result.load.errors, "requests failed, the first: %v", result.load.firstError)
	require.LessOrEqual(t, result.peakConnections, result.budget, "tenant connections exceeded the budget")
}

// diskPerTenant is the free space the churn benchmark reserves per tenant
// it creates: about twice the size of a new, nearly empty tenant database
// on PostgreSQL 15. The benchmark records the measured size of one in its
// section.
const diskPerTenant = 16 << 20

// tenantsForFreeSpace returns want, or fewer when the file system of dir
// has less than diskPerTenant free for each of the tenants that are
// missing: want minus existing.
func tenantsForFreeSpace(t *testing.T, dir string, existing, want int) int {
	t.Helper()

	missing := want - existing
	if missing <= 0 {
		return want
	}
	var stat syscall.Statfs_t
	require.NoError(t, syscall.Statfs(dir, &stat))
	free := int64(stat.Bavail) * stat.Bsize
	fit := int(free / diskPerTenant)
	if fit < missing {
		t.Logf("%d MiB free on the fixture's file system: %d tenants instead of %d", free>>20, existing+fit, want)
		return existing + fit
	}

	return want
}

// countPoolEvents returns how many pools the server's pool cache has logged
// as opened and as evicted so far.
func countPoolEvents(env *silotest.Env) (opens, evictions int) {
	for _, line := range env.Logs.Lines() {
		switch {
		case strings.Contains(line, `"msg":"tenant pool opened"`):
			opens++
		case strings.Contains(line, `"msg":"tenant pool evicted"`):
			evictions++
		}
	}

	return opens, evictions
}

// connectionSampler counts the server's connections of silo's tenant pools
// every churnSampleInterval and keeps the maximum.
type connectionSampler struct {
	mu      sync.Mutex
	max     int
	samples int
	err     error
}

// startConnectionSampler starts sampling pg_stat_activity until the test
// ends. It reads on the catalog's superuser pool, so it sees every
// session.
func startConnectionSampler(t *testing.T, env *silotest.Env) *connectionSampler {
	t.Helper()

	s := &connectionSampler{}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		ticker := time.NewTicker(churnSampleInterval)
		defer ticker.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-ticker.C:
			}
			var count int
			err := env.Catalog.QueryRow(ctx,
				`SELECT count(*) FROM pg_stat_activity WHERE starts_with(application_name, $1)`, poolApplicationPrefix).Scan(&count)
			s.record(ctx, count, err)
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		s.mu.Lock()
		defer s.mu.Unlock()
		require.NoError(t, s.err, "count tenant connections in pg_stat_activity")
	})

	return s
}

func (s *connectionSampler) record(ctx context.Context, count int, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()

	if err != nil {
		if ctx.Err() == nil && s.err == nil {
			s.err = err
		}
		return
	}
	s.samples++
	s.max = max(s.max, count)
}

// reset discards the samples so far.
func (s *connectionSampler) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()

	s.max, s.samples = 0, 0
}

// peak returns the maximum count since the last reset and the number of
// samples it is taken from.
func (s *connectionSampler) peak() (peak, samples int) {
	s.mu.Lock()
	defer s.mu.Unlock()

	return s.max, s.samples
}

// renderChurn returns the churn section of the benchmarks page.
func renderChurn(r churnResult, settings benchSettings, host machine, at time.Time) string {
	var b strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }

	line("## Pool cache churn")
	line("")
	line("Recorded %s by `make bench` (TestBenchmarkChurn in bench/), which runs", at.UTC().Format("2006-01-02 15:04 MST"))
	line("`go test -tags bench -run '^TestBenchmark' -count=1 -timeout 30m -v ./bench/`.")
	line("")
	line("### What is measured")
	line("")
	line("- %d tenants, each with one ticket, and a pool cache of %d tenants. The tenants are a fixture that", r.tenants, r.cacheSize)
	line("  later runs reuse: a PostgreSQL cluster in `.bench/postgres` at the repository root, which git ignores.")
	line("  A run creates only the tenants that are missing, through the API, %d at a time, before the clock", createConcurrency)
	if r.created == 0 {
		line("  starts. This run reused the fixture as it was, and preparing it took %s.", r.setup.Round(100*time.Millisecond))
	} else {
		line("  starts. This run built the fixture: it created %d tenants, and preparing it took %s.", r.created, r.setup.Round(100*time.Millisecond))
	}
	line("  Preparing covers starting the cluster and the server and checking each tenant's membership and")
	line("  ticket. The benchmark uses fewer than %d tenants when the fixture's file system has less than", churnTenants)
	line("  %d MiB free per missing tenant. One tenant's database took %.1f MiB in this run.", diskPerTenant>>20, float64(r.databaseSize)/(1<<20))
	line("  There is no baseline: the benchmark checks the cache's behaviour under churn, not an overhead.")
	line("- %d workers send `GetTicket` through the whole stack of a silo server with role all over loopback HTTP,", r.workers)
	line("  one request at a time each. Each request picks its tenant from a Zipf distribution (`math/rand/v2`")
	line("  `NewZipf` with s=%.1f, v=%d over the tenants in a fixed shuffled order), so a few tenants take most", churnZipfS, churnZipfV)
	line("  requests and the long tail forces opens and evictions.")
	line("- A %s warm-up that is not counted fills the cache, then %s are measured.", r.warmup, r.duration)
	line("- Hit rate: the share of requests that did not open a pool, 1 - opens / requests, with the opens")
	line("  counted from the pool cache's \"tenant pool opened\" log lines. Concurrent misses of one tenant share")
	line("  one open and count once.")
	line("- Tenant connections: every %s the benchmark counts the sessions in `pg_stat_activity` whose", churnSampleInterval)
	line("  `application_name` starts with `%s`, which names silo's tenant pools. The peak is the largest count", poolApplicationPrefix)
	line("  in the measured window, from %d samples.", r.samples)
	line("")
	line("### Settings")
	line("")
	line("- silo: pool cache of %d tenants (`PoolCacheSize`), at most %d connections per tenant pool (`PoolMaxConns`),", r.cacheSize, r.maxConns)
	line("  connection budget %d (`PoolConnectionBudget`), the silotest configuration otherwise, with the", r.budget)
	line("  fixture's encryption key.")
	line("")
	var machineSection strings.Builder
	writeMachine(&machineSection, host, settings)
	b.WriteString(strings.Replace(machineSection.String(), fixtureClusterReplaced, fixtureClusterDescription, 1))
	line("### Results")
	line("")
	line("| requests | requests/s | p50 | p99 | errors | tenants requested | pool opens | evictions | hit rate | peak tenant connections |")
	line("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	var p50, p99 time.Duration
	if len(r.load.latencies) > 0 {
		p50, p99 = percentile(r.load.latencies, 50), percentile(r.load.latencies, 99)
	}
	line("| %d | %.0f | %s | %s | %d | %d of %d | %d | %d | %.1f%% | %d |", r.requests(), r.load.throughput(), us(p50), us(p99),
		r.load.errors, r.distinct, r.tenants, r.opens, r.evictions, 100*r.hitRate(), r.peakConnections)
	line("")
	line("Errors: %d (target: zero, %s). Peak tenant connections: %d (target: at most the budget of %d, %s).",
		r.load.errors, verdict(r.load.errors == 0), r.peakConnections, r.budget, verdict(r.peakConnections <= r.budget))

	return b.String()
}

// fixtureDir is the folder at the repository root, ignored by git, that
// keeps the churn benchmark's cluster, its superuser password and silo's
// encryption key between runs. Tests run in the package folder.
const fixtureDir = "../.bench"

// fixturePasswordFile and fixtureKeyFile are the files in fixtureDir that
// keep the cluster's superuser password and SILO_ENCRYPTION_KEY. The key
// decrypts the tenant passwords in the catalog, so it must outlive a run.
const (
	fixturePasswordFile = "postgres-password"
	fixtureKeyFile      = "encryption-key"
)

// fixtureCatalog is the catalog database in the fixture's cluster.
const fixtureCatalog = "silo"

// fixtureStopTimeout bounds the stop of the fixture's cluster after the
// test.
const fixtureStopTimeout = time.Minute

// fixtureClusterReplaced and fixtureClusterDescription swap the cluster
// that writeMachine names for the fixture's cluster in the churn section.
const (
	fixtureClusterReplaced    = "the throwaway test cluster of `pgtest` on 127.0.0.1"
	fixtureClusterDescription = "the fixture cluster in `.bench/postgres` on 127.0.0.1, with the `pgtest` cluster's fsync settings"
)

// startFixture starts the fixture's cluster in fixtureDir, creating it on
// first use, and a silo server with role all on its catalog, migrated on
// start. configure changes the configuration before the server starts.
// The server and then the cluster stop when the test ends, and fixtureDir
// stays on disk.
//
// The cluster runs with pgcluster's Fast settings like the pgtest cluster,
// so a crash of the machine can corrupt it: delete fixtureDir to rebuild
// it. Unlike the pgtest cluster it does not log statements or connections,
// because its log outlives the run and would grow with every run.
func startFixture(t *testing.T, configure func(*config.Config)) *silotest.Env {
	t.Helper()

	ctx := t.Context()
	stack, err := devstack.Open(fixtureDir)
	require.NoError(t, err)
	password, err := stack.Key(fixturePasswordFile)
	require.NoError(t, err)
	key, err := stack.Key(fixtureKeyFile)
	require.NoError(t, err)

	cluster, err := pgcluster.Open(pgcluster.Options{Dir: filepath.Join(fixtureDir, "postgres"), Password: password, Fast: true})
	require.NoError(t, err)
	require.NoError(t, cluster.Init(ctx))
	require.NoError(t, cluster.Start(ctx))
	t.Cleanup(func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), fixtureStopTimeout)
		defer cancel()
		require.NoError(t, cluster.Stop(stopCtx))
	})
	require.NoError(t, cluster.EnsureDatabase(ctx, fixtureCatalog))
	catalogURL := cluster.URL(fixtureCatalog)

	cfg := silotest.Config(t, catalogURL)
	cfg.EncryptionKey = key
	cfg.MigrateOnStart = true
	configure(cfg)
	require.NoError(t, cfg.Validate())

	logs := &silotest.Buffer{}
	logger := server.NewLogger(logs, cfg)
	jobOpts := silotest.JobOptions(logger)
	srv, err := server.New(ctx, cfg, server.RoleAll, logger, &server.Options{Jobs: &jobOpts, PollInterval: 10 * time.Millisecond})
	require.NoError(t, err)

	var lc net.ListenConfig
	listener, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	serveCtx, stopServer := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan error, 1)
	go func() { done <- srv.Serve(serveCtx, listener) }()
	t.Cleanup(func() {
		stopServer()
		require.NoError(t, <-done)
	})

	pool, err := pgxpool.New(ctx, catalogURL)
	require.NoError(t, err)
	t.Cleanup(pool.Close)

	env := &silotest.Env{
		URL:        "http://" + listener.Addr().String(),
		CatalogURL: catalogURL,
		Catalog:    pool,
		Config:     cfg,
		Server:     srv,
		Logs:       logs,
	}
	env.Tenants = env.Client(env.Token(t, silotest.AdminSubject, true))

	return env
}

// churnSlug returns the slug of the fixture's tenant i.
func churnSlug(i int) string {
	return fmt.Sprintf("churn-%04d", i)
}

// prepareChurnTenants returns want fixture tenants, or fewer when the disk
// has no room for the missing ones, sorted by slug. It creates the missing
// tenants through the API, createConcurrency at a time, and makes sure
// that benchUser is a member of every existing one and that each has a
// ticket. It also returns how many tenants it created. The tenants stay
// after the test.
func prepareChurnTenants(t *testing.T, env *silotest.Env, want int) ([]benchTenant, int) {
	t.Helper()

	ctx := t.Context()
	slugs := make([]string, want)
	for i := range slugs {
		slugs[i] = churnSlug(i)
	}
	existing, err := listChurnTenants(ctx, env, slugs)
	require.NoError(t, err)

	var missing []string
	for _, slug := range slugs {
		if _, ok := existing[slug]; !ok {
			missing = append(missing, slug)
		}
	}
	usable := tenantsForFreeSpace(t, fixtureDir, len(existing), want)
	missing = missing[:usable-len(existing)]

	tenants := make([]benchTenant, 0, usable)
	members, err := listMembers(ctx, env)
	require.NoError(t, err)
	ready, err := forEachConcurrently(ctx, sortedValues(existing), func(ctx context.Context, tenant benchTenant) (benchTenant, error) {
		return completeTenant(ctx, env, tenant, members[tenant.ID])
	})
	require.NoError(t, err)
	tenants = append(tenants, ready...)

	created, err := forEachConcurrently(ctx, missing, func(ctx context.Context, slug string) (benchTenant, error) {
		return createTenant(ctx, env, slug)
	})
	require.NoError(t, err)
	tenants = append(tenants, created...)
	slices.SortFunc(tenants, func(a, b benchTenant) int { return strings.Compare(a.Slug, b.Slug) })
	require.NotEmpty(t, tenants, "no room on disk for a single fixture tenant")

	return tenants, len(created)
}

// listChurnTenants returns the active tenants among slugs, keyed by slug. It
// fails when one of the slugs belongs to a tenant in another status, for
// instance one left half-made by an interrupted run, because CreateTenant
// cannot take its slug.
func listChurnTenants(ctx context.Context, env *silotest.Env, slugs []string) (map[string]benchTenant, error) {
	rows, err := env.Catalog.Query(ctx, `SELECT id, slug, status FROM tenants WHERE status <> 'deleted' AND slug = ANY($1)`, slugs)
	if err != nil {
		return nil, fmt.Errorf("list fixture tenants: %w", err)
	}
	defer rows.Close()

	tenants := make(map[string]benchTenant, len(slugs))
	for rows.Next() {
		var tenant benchTenant
		var status string
		if err := rows.Scan(&tenant.ID, &tenant.Slug, &status); err != nil {
			return nil, fmt.Errorf("list fixture tenants: %w", err)
		}
		if status != string(catalog.StatusActive) {
			return nil, fmt.Errorf("fixture tenant %s is %s, not active: delete .bench at the repository root to rebuild the fixture", tenant.Slug, status)
		}
		tenants[tenant.Slug] = tenant
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list fixture tenants: %w", err)
	}

	return tenants, nil
}

// listMembers returns the ids of the tenants that benchUser is a member
// of.
func listMembers(ctx context.Context, env *silotest.Env) (map[uuid.UUID]bool, error) {
	rows, err := env.Catalog.Query(ctx, `SELECT tenant_id FROM tenant_users WHERE user_id = $1`, benchUser)
	if err != nil {
		return nil, fmt.Errorf("list memberships of %s: %w", benchUser, err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return nil, fmt.Errorf("list memberships of %s: %w", benchUser, err)
	}

	members := make(map[uuid.UUID]bool, len(ids))
	for _, id := range ids {
		members[id] = true
	}

	return members, nil
}

// completeTenant makes benchUser a member of an existing tenant unless
// member is set, and returns the tenant with its first ticket, which it
// inserts when the tenant has none.
func completeTenant(ctx context.Context, env *silotest.Env, tenant benchTenant, member bool) (benchTenant, error) {
	if !member {
		_, err := env.Tenants.AddTenantUser(ctx, connect.NewRequest(&silov1.AddTenantUserRequest{
			TenantId: tenant.ID.String(),
			UserId:   benchUser,
			Role:     silov1.TenantRole_TENANT_ROLE_MEMBER,
		}))
		if err != nil && connect.CodeOf(err) != connect.CodeAlreadyExists {
			return benchTenant{}, fmt.Errorf("add %s to tenant %s: %w", benchUser, tenant.Slug, err)
		}
	}

	ticketID, err := ensureTicket(ctx, env, catalog.ObjectName(tenant.ID))
	if err != nil {
		return benchTenant{}, fmt.Errorf("ensure a ticket in tenant %s: %w", tenant.Slug, err)
	}
	tenant.TicketID = ticketID

	return tenant, nil
}

// ensureTicket returns the id of the oldest ticket in database, inserted
// by insertTicket when there is none, and connects as the superuser like
// insertTicket.
func ensureTicket(ctx context.Context, env *silotest.Env, database string) (uuid.UUID, error) {
	config, err := pgx.ParseConfig(env.CatalogURL)
	if err != nil {
		return uuid.Nil, fmt.Errorf("parse catalog URL: %w", err)
	}
	config.Database = database
	conn, err := pgx.ConnectConfig(ctx, config)
	if err != nil {
		return uuid.Nil, fmt.Errorf("connect to %s as superuser: %w", database, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))

	var id uuid.UUID
	err = conn.QueryRow(ctx, `SELECT id FROM tickets ORDER BY created_at, id LIMIT 1`).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return insertTicket(ctx, env, database)
	}
	if err != nil {
		return uuid.Nil, fmt.Errorf("look up a ticket: %w", err)
	}

	return id, nil
}

// sortedValues returns the tenants of bySlug sorted by slug.
func sortedValues(bySlug map[string]benchTenant) []benchTenant {
	tenants := make([]benchTenant, 0, len(bySlug))
	for _, slug := range slices.Sorted(maps.Keys(bySlug)) {
		tenants = append(tenants, bySlug[slug])
	}

	return tenants
}

// forEachConcurrently calls do on each of inputs, createConcurrency at a
// time, and returns the outputs in the order of inputs. It stops handing
// out inputs after the first error and returns that error.
func forEachConcurrently[In, Out any](ctx context.Context, inputs []In, do func(context.Context, In) (Out, error)) ([]Out, error) {
	outputs := make([]Out, len(inputs))
	var next atomic.Int64
	var failed atomic.Bool
	errs := make([]error, createConcurrency)
	var wg sync.WaitGroup
	for w := range createConcurrency {
		wg.Go(func() {
			for !failed.Load() {
				i := int(next.Add(1) - 1)
				if i >= len(inputs) {
					return
				}
				output, err := do(ctx, inputs[i])
				if err != nil {
					errs[w] = err
					failed.Store(true)
					return
				}
				outputs[i] = output
			}
		})
	}
	wg.Wait()

	if err := errors.Join(errs...); err != nil {
		return nil, err
	}

	return outputs, nil
}
