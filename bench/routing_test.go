//go:build bench

package bench

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"silo.dev/silo/controlplane/catalog"
	"silo.dev/silo/dataplane/tenancy"
	"silo.dev/silo/dataplane/ticketapi"
	"silo.dev/silo/gen/silo/v1/silov1connect"
	"silo.dev/silo/internal/authn"
	"silo.dev/silo/internal/config"
	"silo.dev/silo/internal/server"
	"silo.dev/silo/internal/silotest"
)

// Settings of the warm routing benchmark. -short runs one short round to
// check the code and records nothing.
const (
	routingWorkers       = 8
	routingPoolMaxConns  = 8
	routingWarmup        = 2 * time.Second
	routingRoundDuration = 3 * time.Second
	routingRounds        = 8
	routingShortDuration = time.Second
)

// minRoutingRatio is the target for silo's throughput over the baseline's.
const minRoutingRatio = 0.90

// authLeeway copies the clock skew that the server allows token issuers,
// so the baseline's verifier is configured as silo's is.
//
// NOTE: this copies the unexported authLeeway of internal/server. Update it
// when that changes.
const authLeeway = 30 * time.Second

// routingRound is one measured round of silo and of the baseline.
type routingRound struct {
	silo, baseline loadResult
}

// TestBenchmarkWarmRouting measures GetTicket through silo's whole stack on
// a warm tenant. The baseline is a server with the same authentication and
// handlers whose tenant and pool are fixed. The test writes the
// warm-routing section of docs/benchmarks.md and fails when silo's
// throughput is below minRoutingRatio of the baseline's.
func TestBenchmarkWarmRouting(t *testing.T) {
	env := silotest.Start(t, &silotest.Options{Configure: func(cfg *config.Config) {
		cfg.PoolMaxConns = routingPoolMaxConns
		cfg.PoolConnectionBudget = cfg.PoolCacheSize * routingPoolMaxConns
	}})
	ctx := t.Context()
	tenant := createTenants(t, env, "routing", 1)[0]

	client := newHTTPClient(t, 2*routingWorkers)
	silo := ticketClient(t, env, client, env.URL, tenant.ID.String())
	baselineURL := startFixedTenantServer(t, env, tenant)
	baseline := ticketClient(t, env, client, baselineURL, "")
	require.NoError(t, getTicket(ctx, silo, tenant.TicketID))
	require.NoError(t, getTicket(ctx, baseline, tenant.TicketID))

	rounds, duration := routingRounds, routingRoundDuration
	warmup := routingWarmup
	if testing.Short() {
		rounds, duration, warmup = 1, routingShortDuration, routingShortDuration
	}
	load := func(client silov1connect.TicketServiceClient, d time.Duration) loadResult {
		return runLoad(ctx, routingWorkers, d, func(ctx context.Context, _ int) error {
			return getTicket(ctx, client, tenant.TicketID)
		})
	}

	load(silo, warmup)
	load(baseline, warmup)
	var measured []routingRound
	for round := range rounds {
		// Alternate which side goes first, so neither always runs on the
		// heels of the other.
		var r routingRound
		if round%2 == 0 {
			r.silo = load(silo, duration)
			r.baseline = load(baseline, duration)
		} else {
			r.baseline = load(baseline, duration)
			r.silo = load(silo, duration)
		}
		t.Logf("round %d: silo %.0f requests/s, baseline %.0f requests/s", round, r.silo.throughput(), r.baseline.throughput())
		measured = append(measured, r)
	}

	result := summarizeRouting(measured)
	result.warmup, result.roundDuration = warmup, duration
	section := renderRouting(result, env.Config, readSettings(t, env), describeMachine(ctx, env.Catalog), time.Now())
	if !recordSection(t, "warm-routing", section) {
		return
	}
	require.Zero(t, result.siloErrors, "silo returned errors")
	require.Zero(t, result.baselineErrors, "the baseline returned errors")
	require.GreaterOrEqual(t, result.ratio, minRoutingRatio,
		"silo's throughput over the baseline's is below the target")
}

// routingResult condenses the measured rounds.
type routingResult struct {
	rounds                         int
	warmup, roundDuration          time.Duration
	siloRate, baselineRate         float64
	ratio                          float64
	roundRatios                    []float64
	siloP50, siloP99               time.Duration
	baselineP50, baselineP99       time.Duration
	siloRequests, baselineRequests int
	siloErrors, baselineErrors     int
}

// summarizeRouting returns the throughput of each side over all its rounds,
// its latency percentiles over all requests, and the ratio silo/baseline.
func summarizeRouting(rounds []routingRound) routingResult {
	var siloTime, baselineTime time.Duration
	var siloLatencies, baselineLatencies []time.Duration
	result := routingResult{rounds: len(rounds)}
	for _, r := range rounds {
		siloTime += r.silo.elapsed
		baselineTime += r.baseline.elapsed
		siloLatencies = append(siloLatencies, r.silo.latencies...)
		baselineLatencies = append(baselineLatencies, r.baseline.latencies...)
		result.siloErrors += r.silo.errors
		result.baselineErrors += r.baseline.errors
		result.roundRatios = append(result.roundRatios, r.silo.throughput()/r.baseline.throughput())
	}

	result.siloRequests, result.baselineRequests = len(siloLatencies), len(baselineLatencies)
	result.siloRate = float64(len(siloLatencies)) / siloTime.Seconds()
	result.baselineRate = float64(len(baselineLatencies)) / baselineTime.Seconds()
	result.ratio = result.siloRate / result.baselineRate
	result.siloP50, result.siloP99 = percentile(siloLatencies, 50), percentile(siloLatencies, 99)
	result.baselineP50, result.baselineP99 = percentile(baselineLatencies, 50), percentile(baselineLatencies, 99)

	return result
}

// startFixedTenantServer serves TicketService behind the authentication
// middleware that silo uses, configured as silo's is, with the handlers
// that silo uses. In place of the tenancy interceptor and the pool cache,
// every call gets tenant and one pool on its database, opened as the
// tenant's role with silo's pool size. It returns the server's base URL.
func startFixedTenantServer(t *testing.T, env *silotest.Env, tenant benchTenant) string {
	t.Helper()

	cfg := env.Config
	verifier, err := authn.NewVerifier(t.Context(), authn.Config{
		Issuer:      cfg.AuthIssuer,
		Audience:    cfg.AuthAudience,
		HMACKey:     cfg.AuthHMACKeyBytes(),
		JWKSURL:     cfg.AuthJWKSURL,
		AdminClaim:  cfg.AuthAdminClaim,
		SigningKey:  cfg.TokenSigningKeyBytes(),
		TokenIssuer: cfg.TokenIssuer,
		Leeway:      authLeeway,
	})
	require.NoError(t, err)

	poolConfig, err := pgxpool.ParseConfig("")
	require.NoError(t, err)
	poolConfig.ConnConfig = tenantConnConfig(t, env, tenant.ID)
	poolConfig.ConnConfig.RuntimeParams["application_name"] = "silo-bench-baseline"
	poolConfig.MaxConns = cfg.PoolMaxConns
	pool, err := pgxpool.NewWithConfig(t.Context(), poolConfig)
	require.NoError(t, err)
	t.Cleanup(pool.Close)

	// The handlers log as silo's do: JSON at silo's level into memory.
	handlers := ticketapi.New(server.NewLogger(&silotest.Buffer{}, cfg))
	fixed := fixedTenant{
		tenant: tenancy.Tenant{ID: tenant.ID, Slug: tenant.Slug, Role: catalog.RoleMember},
		pool:   pool,
	}
	mux := http.NewServeMux()
	mux.Handle(silov1connect.NewTicketServiceHandler(handlers,
		connect.WithReadMaxBytes(int(cfg.MaxRequestBytes)), connect.WithInterceptors(fixed)))

	protocols := new(http.Protocols)
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	httpServer := &http.Server{
		Handler:           verifier.Middleware(mux, func(*http.Request) bool { return false }, cfg.MaxRequestBytes),
		Protocols:         protocols,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	var lc net.ListenConfig
	listener, err := lc.Listen(t.Context(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- httpServer.Serve(listener) }()
	t.Cleanup(func() {
		require.NoError(t, httpServer.Close())
		require.ErrorIs(t, <-done, http.ErrServerClosed)
	})

	return "http://" + listener.Addr().String()
}

// median returns the middle value of values, or the mean of the two middle
// values for an even count. values must not be empty.
func median(values []float64) float64 {
	sorted := slices.Clone(values)
	slices.Sort(sorted)
	n := len(sorted)
	if n%2 == 0 {
		return (sorted[n/2-1] + sorted[n/2]) / 2
	}

	return sorted[n/2]
}

// fixedTenant puts one tenant and its pool in the context of every call,
// as the tenancy interceptor does after it resolves the tenant.
type fixedTenant struct {
	tenant tenancy.Tenant
	pool   *pgxpool.Pool
}

func (f fixedTenant) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		return next(tenancy.WithPool(ctx, f.tenant, f.pool), req)
	}
}

func (f fixedTenant) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (f fixedTenant) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		return next(tenancy.WithPool(ctx, f.tenant, f.pool), conn)
	}
}

// renderRouting returns the warm-routing section of the benchmarks page.
func renderRouting(result routingResult, cfg *config.Config, settings benchSettings, host machine, at time.Time) string {
	var b strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	met := result.ratio >= minRoutingRatio

	line("## Warm routing")
	line("")
	line("Recorded %s by `make bench` (TestBenchmarkWarmRouting in bench/), which runs", at.UTC().Format("2006-01-02 15:04 MST"))
	line("`go test -tags bench -run '^TestBenchmark' -count=1 -timeout 30m -v ./bench/`.")
	line("")
	line("### What is measured")
	line("")
	line("- **silo**: `GetTicket` of one ticket through the whole stack of a `silotest.Start` server over loopback HTTP:")
	line("  the authentication middleware verifies the user's bearer JWT, the tenancy interceptor resolves the")
	line("  `X-Tenant-ID` header (the tenant's UUID) and the caller's membership from its cached directory and")
	line("  leases the tenant's pool from the pool cache, then the ticket handler runs its SELECT. The tenant's")
	line("  pool and directory entries are warm: the warm-up rounds open them.")
	line("- **baseline**: a server that the benchmark builds in the same process from the same pieces:")
	line("  `authn.Verifier.Middleware` with silo's token settings, the handlers of `ticketapi.New` and the same")
	line("  Connect handler options. In place of the tenancy interceptor and the pool cache, an interceptor puts")
	line("  one fixed `pgxpool` on the tenant's database, opened as the tenant's role, in every call's context")
	line("  with `tenancy.WithPool`. The request carries no `X-Tenant-ID` header.")
	line("- %d concurrent clients, each sending one request at a time with the user token of a tenant member,", routingWorkers)
	line("  over one shared HTTP/1.1 client that keeps %d idle connections. Latency is the client's time per call.", 2*routingWorkers)
	line("- A %s warm-up of each side that is not counted, then %d rounds of %s per side, interleaved, and", result.warmup, result.rounds, result.roundDuration)
	line("  alternating which side goes first. Throughput is successful requests over the summed round time of")
	line("  that side. p50 and p99 are nearest-rank percentiles over all measured requests of that side.")
	line("- Client, both servers and PostgreSQL share the machine below, so the client's CPU time counts against")
	line("  both sides alike.")
	line("")
	line("### Settings")
	line("")
	line("- Tenant pool: at most %d connections on both sides (silo's `PoolMaxConns`, set by the benchmark,", routingPoolMaxConns)
	line("  with the connection budget raised to %d to allow it).", cfg.PoolConnectionBudget)
	line("- silo: the silotest configuration otherwise (pool cache of %d tenants, debug logs in JSON to memory,", cfg.PoolCacheSize)
	line("  which the baseline's handlers also get), the change feed connected, so directory answers come from memory.")
	line("")
	writeMachine(&b, host, settings)
	line("### Results")
	line("")
	line("| | requests | requests/s | p50 | p99 | errors |")
	line("|---|---:|---:|---:|---:|---:|")
	line("| silo | %d | %.0f | %s | %s | %d |", result.siloRequests, result.siloRate, us(result.siloP50), us(result.siloP99), result.siloErrors)
	line("| baseline | %d | %.0f | %s | %s | %d |", result.baselineRequests, result.baselineRate, us(result.baselineP50), us(result.baselineP99), result.baselineErrors)
	line("")
	ratios := make([]string, len(result.roundRatios))
	for i, r := range result.roundRatios {
		ratios[i] = fmt.Sprintf("%.2f", r)
	}
	line("Throughput ratio silo/baseline: **%.2f** (target: at least %.2f, %s). Per round: %s,",
		result.ratio, minRoutingRatio, verdict(met), strings.Join(ratios, ", "))
	line("with a median of %.2f. Rounds whose ratio is far from 1 in both directions point to load from outside", median(result.roundRatios))
	line("the benchmark rather than to silo.")

	return b.String()
}
