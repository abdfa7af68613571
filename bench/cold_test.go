//go:build bench

package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"silo.dev/silo/internal/config"
	"silo.dev/silo/internal/silotest"
)

// Tenants of the cold tenant benchmark. Each is measured once per side.
// -short measures a few to check the code and records nothing.
const (
	coldWarmupTenants      = 4
	coldTenants            = 40
	coldShortTenants       = 4
	coldShortWarmupTenants = 1
)

// maxColdRatio is the target for silo's median first-request latency over
// the baseline's.
const maxColdRatio = 1.5

// selectTicketSQL is the statement that the GetTicket handler sends.
//
// NOTE: this copies the unexported ticketColumns and selectTicket of
// dataplane/ticketapi. Update it when those change.
const selectTicketSQL = "SELECT id, workflow_id, title, description, status, assignee, created_at, updated_at FROM tickets WHERE id = $1 "

// coldSample is the first request to one tenant on each side.
type coldSample struct {
	silo, baseline time.Duration
	// poolOpen is how long silo's pool cache took to open the tenant's
	// pool, from the cache's log.
	poolOpen time.Duration
}

// TestBenchmarkColdTenant times the first GetTicket to tenants whose pools
// silo has not opened yet against a new connection as the tenant's role
// that sends the handler's SELECT, writes the cold-tenant section of
// docs/benchmarks.md, and fails when the median ratio misses maxColdRatio.
func TestBenchmarkColdTenant(t *testing.T) {
	// A cache larger than the tenant count, so no eviction runs during a
	// measured request: each tenant is cold because it was never requested.
	env := silotest.Start(t, &silotest.Options{Configure: func(c *config.Config) {
		c.PoolCacheSize = coldTenants + coldWarmupTenants + 1
		c.PoolConnectionBudget = c.PoolCacheSize * int(c.PoolMaxConns)
	}})
	ctx := t.Context()

	warmup, measured := coldWarmupTenants, coldTenants
	if testing.Short() {
		warmup, measured = coldShortWarmupTenants, coldShortTenants
	}
	tenants := createTenants(t, env, "cold", warmup+measured)
	client := newHTTPClient(t, 2)

	// One request to a tenant outside the benchmark opens the HTTP
	// connection, so no tenant's first request pays for it.
	spare := createTenants(t, env, "cold-spare", 1)[0]
	require.NoError(t, getTicket(ctx, ticketClient(t, env, client, env.URL, spare.ID.String()), spare.TicketID))

	var samples []coldSample
	for i, tenant := range tenants {
		config := tenantConnConfig(t, env, tenant.ID)
		silo := func() time.Duration {
			tickets := ticketClient(t, env, client, env.URL, tenant.ID.String())
			start := time.Now()
			err := getTicket(ctx, tickets, tenant.TicketID)
			took := time.Since(start)
			require.NoError(t, err)
			return took
		}
		baseline := func() time.Duration {
			took, err := connectAndSelect(ctx, config, tenant.TicketID)
			require.NoError(t, err)
			return took
		}

		// Alternate which side goes first, so neither always finds the
		// database's pages in memory.
		var sample coldSample
		if i%2 == 0 {
			sample.silo = silo()
			sample.baseline = baseline()
		} else {
			sample.baseline = baseline()
			sample.silo = silo()
		}
		if i >= warmup {
			sample.poolOpen = poolOpenDuration(t, env, tenant.ID)
			samples = append(samples, sample)
		}
	}

	result := summarizeCold(samples)
	section := renderCold(result, warmup, env.Config.PoolCacheSize, readSettings(t, env), describeMachine(ctx, env.Catalog), time.Now())
	if !recordSection(t, "cold-tenant", section) {
		return
	}
	require.LessOrEqual(t, result.ratio, maxColdRatio,
		"silo's median first-request latency over the baseline's is above the target; the section shows the pool open's share")
}

// connectAndSelect times a new connection with config and the handler's
// SELECT of ticket id on it. The close is not timed, because silo keeps its
// pool open.
func connectAndSelect(ctx context.Context, config *pgx.ConnConfig, id uuid.UUID) (time.Duration, error) {
	var (
		ticketID, workflowID       *uuid.UUID
		title, description, status string
		assignee                   *string
		createdAt, updatedAt       time.Time
	)

	start := time.Now()
	conn, err := pgx.ConnectConfig(ctx, config.Copy())
	if err != nil {
		return 0, fmt.Errorf("connect as tenant role %s: %w", config.User, err)
	}
	err = conn.QueryRow(ctx, selectTicketSQL, id).Scan(&ticketID, &workflowID, &title, &description, &status, &assignee, &createdAt, &updatedAt)
	took := time.Since(start)
	closeErr := conn.Close(context.WithoutCancel(ctx))
	if err != nil {
		return 0, fmt.Errorf("select ticket %s: %w", id, err)
	}
	if closeErr != nil {
		return 0, fmt.Errorf("close connection as tenant role %s: %w", config.User, closeErr)
	}

	return took, nil
}

// poolOpenDuration returns the duration that the pool cache logged when it
// opened the tenant's pool.
func poolOpenDuration(t *testing.T, env *silotest.Env, id uuid.UUID) time.Duration {
	t.Helper()

	for _, line := range env.Logs.Lines() {
		if !strings.Contains(line, `"tenant pool opened"`) || !strings.Contains(line, id.String()) {
			continue
		}
		var record struct {
			Duration time.Duration `json:"duration"`
		}
		require.NoError(t, json.Unmarshal([]byte(line), &record), "log line %s", line)
		return record.Duration
	}
	require.Failf(t, "pool open not logged", "no \"tenant pool opened\" log line for tenant %s", id)

	return 0
}

// coldResult condenses the cold samples.
type coldResult struct {
	silo, baseline, poolOpen summary
	siloP99, baselineP99     time.Duration
	ratio                    float64
	pairRatio                float64
}

func summarizeCold(samples []coldSample) coldResult {
	var silo, baseline, poolOpen []time.Duration
	for _, s := range samples {
		silo = append(silo, s.silo)
		baseline = append(baseline, s.baseline)
		poolOpen = append(poolOpen, s.poolOpen)
	}
	result := coldResult{
		silo:        summarize(silo),
		baseline:    summarize(baseline),
		poolOpen:    summarize(poolOpen),
		siloP99:     percentile(silo, 99),
		baselineP99: percentile(baseline, 99),
		pairRatio:   medianRatio(silo, baseline),
	}
	result.ratio = float64(result.silo.Median) / float64(result.baseline.Median)

	return result
}

// renderCold returns the cold-tenant section of the benchmarks page.
func renderCold(result coldResult, warmup, cacheSize int, settings benchSettings, host machine, at time.Time) string {
	var b strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }

	line("## Cold tenant")
	line("")
	line("Recorded %s by `make bench` (TestBenchmarkColdTenant in bench/), which runs", at.UTC().Format("2006-01-02 15:04 MST"))
	line("`go test -tags bench -run '^TestBenchmark' -count=1 -timeout 30m -v ./bench/`.")
	line("")
	line("### What is measured")
	line("")
	line("- **silo**: the first `GetTicket` to a tenant through the whole stack of a `silotest.Start` server over")
	line("  a warm loopback HTTP connection, with the tenant's UUID in `X-Tenant-ID`. No earlier request touched")
	line("  the tenant, so its directory entries and its pool are cold: the interceptor reads the tenant and the")
	line("  membership from the catalog, the pool cache reads and decrypts the connection settings, connects as")
	line("  the tenant's role (SCRAM), checks the database's `tenant_identity` stamp, and the handler runs its SELECT.")
	line("- **baseline**: `pgx.ConnectConfig` as the tenant's role with the settings silo uses, then the SELECT that")
	line("  the handler sends (`selectTicketSQL` in bench/ copies it). Closing the connection is not timed,")
	line("  because silo keeps its pool open.")
	line("- Each tenant is created through the API and gets its one ticket over a superuser connection, so neither")
	line("  side opens the first session on the tenant's database. For each tenant, both sides run one after the")
	line("  other, alternating which goes first. %d tenants are measured after %d warm-up tenants that are not counted.", result.silo.Count, warmup)
	line("- The median is the middle value or the mean of the two middle values. p95 and p99 are nearest-rank.")
	line("")
	line("### Settings")
	line("")
	line("- silo: the silotest configuration with a pool cache of %d tenants, more than the run requests, so no pool", cacheSize)
	line("  eviction (and no backend exit on the server) competes with a measured request; the churn section measures")
	line("  requests under eviction.")
	line("")
	writeMachine(&b, host, settings)
	line("### Results")
	line("")
	line("| | tenants | median | p95 | p99 | min | max |")
	line("|---|---:|---:|---:|---:|---:|---:|")
	line("| silo | %d | %s | %s | %s | %s | %s |", result.silo.Count, ms(result.silo.Median), ms(result.silo.P95), ms(result.siloP99), ms(result.silo.Min), ms(result.silo.Max))
	line("| baseline | %d | %s | %s | %s | %s | %s |", result.baseline.Count, ms(result.baseline.Median), ms(result.baseline.P95), ms(result.baselineP99), ms(result.baseline.Min), ms(result.baseline.Max))
	line("| silo's pool open | %d | %s | %s | | %s | %s |", result.poolOpen.Count, ms(result.poolOpen.Median), ms(result.poolOpen.P95), ms(result.poolOpen.Min), ms(result.poolOpen.Max))
	line("")
	line("Median ratio silo/baseline: **%.2f** (target: at most %.1f, %s). The median of the per-tenant ratios is %.2f.",
		result.ratio, maxColdRatio, verdict(result.ratio <= maxColdRatio), result.pairRatio)
	line("The pool open is the duration that the pool cache logs with \"tenant pool opened\": connection settings")
	line("from the catalog, the first connection and the stamp check.")

	return b.String()
}
