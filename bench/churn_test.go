//go:build bench

package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"silo.dev/silo/controlplane/catalog"
	"silo.dev/silo/gen/silo/v1/silov1connect"
	"silo.dev/silo/internal/config"
	"silo.dev/silo/internal/pgtest"
	"silo.dev/silo/internal/silotest"
)

// Settings of the churn benchmark. -short runs a few tenants for a moment
// to check the code and records nothing.
//
// NOTE: the benchmark creates its tenants fresh on every run, through the
// API, which takes most of its time. A reusable cluster of pre-made tenants
// would make runs shorter.
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
	// setup is how long creating the tenants took.
	setup time.Duration
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

	result.tenants = tenantsForFreeSpace(t, result.tenants)

	env := silotest.Start(t, &silotest.Options{Configure: func(cfg *config.Config) {
		cfg.PoolCacheSize = result.cacheSize
		cfg.PoolMaxConns = result.maxConns
		cfg.PoolConnectionBudget = result.budget
	}})
	ctx := t.Context()

	created := time.Now()
	tenants := createTenants(t, env, "churn", result.tenants)
	result.setup = time.Since(created)
	require.NoError(t, env.Catalog.QueryRow(ctx, `SELECT pg_database_size($1)`,
		catalog.ObjectName(tenants[0].ID)).Scan(&result.databaseSize))
	t.Logf("created %d tenants in %s", len(tenants), result.setup.Round(time.Millisecond))

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

// diskPerTenant is the free space the churn benchmark reserves per tenant:
// about twice the size of a new, nearly empty tenant database on
// PostgreSQL 15. The benchmark records the measured size of one in its
// section.
const diskPerTenant = 16 << 20

// tenantsForFreeSpace returns want, or fewer when the file system of the
// test cluster has less than diskPerTenant free for each of want tenants.
func tenantsForFreeSpace(t *testing.T, want int) int {
	t.Helper()

	var stat syscall.Statfs_t
	require.NoError(t, syscall.Statfs(filepath.Dir(pgtest.Cluster(t).LogPath()), &stat))
	free := int64(stat.Bavail) * stat.Bsize
	fit := int(free / diskPerTenant)
	if fit < want {
		t.Logf("%d MiB free on the test cluster's file system: %d tenants instead of %d", free>>20, fit, want)
		return fit
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
	line("- %d tenants, each with one ticket, and a pool cache of %d tenants. The tenants are created fresh on", r.tenants, r.cacheSize)
	line("  every run through the API, %d at a time, before the clock starts, which took %s in this run.", createConcurrency, r.setup.Round(time.Second))
	line("  The benchmark creates fewer than %d when the test cluster's file system has less than %d MiB free", churnTenants, diskPerTenant>>20)
	line("  per tenant; one tenant's database took %.1f MiB in this run.", float64(r.databaseSize)/(1<<20))
	line("  There is no baseline: the benchmark checks the cache's behaviour under churn, not an overhead.")
	line("- %d workers send `GetTicket` through the whole stack of a `silotest.Start` server over loopback HTTP,", r.workers)
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
	line("  connection budget %d (`PoolConnectionBudget`), the silotest configuration otherwise.", r.budget)
	line("")
	writeMachine(&b, host, settings)
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
