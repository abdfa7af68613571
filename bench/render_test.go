//go:build bench

package bench

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"silo.dev/silo/controlplane/provision"
	"silo.dev/silo/internal/silotest"
)

// Settings that silotest and provision fix in code, where the benchmark
// cannot read them.
//
// NOTE: these copy silotest.Start (PollInterval), provision.NewJobs
// (FetchCooldown) and River's default FetchPollInterval. Update them when
// those change.
const (
	createTenantPollInterval = 10 * time.Millisecond
	riverFetchCooldown       = 20 * time.Millisecond
	riverFetchPollInterval   = time.Second
)

// serverSettings are the PostgreSQL settings recorded with the results,
// because they change the cost of CREATE DATABASE and of every statement.
var serverSettings = []string{"fsync", "synchronous_commit", "full_page_writes", "log_statement", "log_connections"}

// benchSettings are the silo and PostgreSQL settings of a run.
type benchSettings struct {
	jobs             provision.Options
	provisionTimeout time.Duration
	connectionLimit  int
	// server maps each of serverSettings to its value.
	server map[string]string
}

// readSettings returns the settings env runs with.
func readSettings(t *testing.T, env *silotest.Env) benchSettings {
	t.Helper()

	settings := benchSettings{
		jobs:             silotest.JobOptions(nil),
		provisionTimeout: env.Config.ProvisionTimeout,
		connectionLimit:  env.Config.TenantConnectionLimit,
		server:           map[string]string{},
	}
	rows, err := env.Catalog.Query(t.Context(), `SELECT name, setting FROM pg_settings WHERE name = ANY($1)`, serverSettings)
	require.NoError(t, err)
	defer rows.Close()
	for rows.Next() {
		var name, value string
		require.NoError(t, rows.Scan(&name, &value))
		settings.server[name] = value
	}
	require.NoError(t, rows.Err())

	return settings
}

// renderProvisioning returns the provisioning section of the benchmarks
// page in Markdown.
func renderProvisioning(result provisioningResult, settings benchSettings, host machine, at time.Time) string {
	siloTotals, baselineTotals := result.totals()
	silo := summarize(siloTotals)
	base := summarize(baselineTotals)
	ratio := result.ratio()
	verdict := "met"
	if ratio > maxProvisioningRatio {
		verdict = "missed"
	}

	var b strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }

	line("## Provisioning")
	line("")
	line("Recorded %s by `make bench` (TestBenchmarkProvisioning in bench/).", at.UTC().Format("2006-01-02 15:04 MST"))
	line("")
	line("### What is measured")
	line("")
	line("- **silo**: the time from the `CreateTenant` call to its response with the tenant `active`.")
	line("  The call is a Connect request over loopback HTTP to a server in the test process (`silotest.Start`).")
	line("  The server stores the tenant and its River job in one transaction, the job runs the provisioning steps,")
	line("  and `CreateTenant` polls the catalog until the tenant leaves `provisioning`.")
	line("- **baseline**: the statements of the provisioning job sent without the API and the job queue.")
	line("  CREATE ROLE with a SCRAM verifier from `secret.SCRAMVerifier`, CREATE DATABASE ... TEMPLATE template0,")
	line("  REVOKE CONNECT, TEMPORARY ... FROM PUBLIC and the catalog UPDATE to active (`catalog.Store.MarkActive`)")
	line("  go over one warm connection. The tenant migrations (`migrations.Tenant.Up`) and the `tenant_identity`")
	line("  stamp connect as the new role, as the job does. The catalog row is inserted before the clock starts,")
	line("  with a provisioning job scheduled %.0f hours later, so that silo's reconciler, which marks tenants failed", placeholderJobDelay.Hours())
	line("  that are in provisioning without a live job, leaves the baseline's tenants alone.")
	line("  The baseline leaves out what silo adds: the tenant lock, the catalog reads and the checks for a role or")
	line("  database left by an earlier attempt. The test checks in the server log that every statement the")
	line("  baseline sends is among the statements of a silo round.")
	line("- %d rounds of each after %d warm-up rounds that are not counted, interleaved: silo, baseline, silo, ...", len(result.silo), result.warmup)
	line("  All rounds run one after another against one throwaway PostgreSQL cluster on 127.0.0.1.")
	line("- The median is the middle value, or the mean of the two middle values. p95 is the nearest-rank")
	line("  95th percentile. The ratio is the median silo time over the median baseline time.")
	line("")
	line("### Settings")
	line("")
	line("- `CreateTenant` poll interval: %s, set by silotest. The production default is 20ms.", createTenantPollInterval)
	line("- River: FetchCooldown %s, FetchPollInterval %s, %d workers.", riverFetchCooldown, riverFetchPollInterval, settings.jobs.Workers)
	line("- Job queue (silotest.JobOptions): %d attempts, first retry after %s, retries at most %s apart, job timeout %s.",
		settings.jobs.MaxAttempts, settings.jobs.RetryBase, settings.jobs.RetryMax, settings.jobs.Timeout)
	line("- Provision timeout: %s. Tenant role connection limit: %d.", settings.provisionTimeout, settings.connectionLimit)
	var server []string
	for _, name := range serverSettings {
		server = append(server, fmt.Sprintf("%s=%s", name, settings.server[name]))
	}
	line("- PostgreSQL (the test cluster of `pgtest`): %s.", strings.Join(server, ", "))
	line("")
	line("### Machine")
	line("")
	line("- CPU: %s", host.CPU)
	line("- Cores: %s", host.Cores)
	line("- Memory: %s", host.Memory)
	line("- OS: %s", host.OS)
	line("- PostgreSQL: %s", host.PostgreSQL)
	line("- Go: %s", host.Go)
	line("")
	line("### Results")
	line("")
	line("| | rounds | median | p95 | min | max |")
	line("|---|---:|---:|---:|---:|---:|")
	line("| silo | %d | %s | %s | %s | %s |", silo.Count, ms(silo.Median), ms(silo.P95), ms(silo.Min), ms(silo.Max))
	line("| baseline | %d | %s | %s | %s | %s |", base.Count, ms(base.Median), ms(base.P95), ms(base.Min), ms(base.Max))
	line("")
	line("Median ratio silo/baseline: **%.2f** (target: at most %.1f, %s).", ratio, maxProvisioningRatio, verdict)
	line("The median of the per-round ratios is %.2f.", medianRatio(siloTotals, baselineTotals))
	line("")
	line("Where silo's time goes, from the catalog's timestamps (medians of each phase, so they need not add up")
	line("to the median total):")
	line("")
	line("| phase | median | p95 |")
	line("|---|---:|---:|")
	for phase := range phaseCount {
		durations := make([]time.Duration, len(result.silo))
		for i, round := range result.silo {
			durations[i] = round.phases[phase]
		}
		s := summarize(durations)
		line("| %s | %s | %s |", phaseNames[phase], ms(s.Median), ms(s.P95))
	}
	line("")
	line("Provisioning steps, silo's job against the baseline. Silo's step ends come from a hook the benchmark")
	line("installs with `Provisioner.SetAfterStep`, which only records the time. Silo's role step runs from the")
	line("job's start, so it includes the tenant lock and the catalog reads:")
	line("")
	line("| step | silo median | silo p95 | baseline median | baseline p95 |")
	line("|---|---:|---:|---:|---:|")
	for _, step := range provision.Steps {
		siloSteps := make([]time.Duration, len(result.silo))
		for i, round := range result.silo {
			siloSteps[i] = round.steps[step]
		}
		baselineSteps := make([]time.Duration, len(result.baseline))
		for i, round := range result.baseline {
			baselineSteps[i] = round.steps[step]
		}
		s, bs := summarize(siloSteps), summarize(baselineSteps)
		line("| %s | %s | %s | %s | %s |", step, ms(s.Median), ms(s.P95), ms(bs.Median), ms(bs.P95))
	}

	return b.String()
}

// ms formats d in milliseconds with one decimal.
func ms(d time.Duration) string {
	return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
}

func TestRenderProvisioningVerdict(t *testing.T) {
	steps := func(d time.Duration) map[provision.Step]time.Duration {
		out := map[provision.Step]time.Duration{}
		for _, step := range provision.Steps {
			out[step] = d
		}
		return out
	}

	tests := []struct {
		name     string
		silo     time.Duration
		baseline time.Duration
		want     string
	}{
		{"within target", 120 * time.Millisecond, 100 * time.Millisecond, "**1.20** (target: at most 1.5, met)"},
		{"at target", 150 * time.Millisecond, 100 * time.Millisecond, "**1.50** (target: at most 1.5, met)"},
		{"above target", 151 * time.Millisecond, 100 * time.Millisecond, "**1.51** (target: at most 1.5, missed)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			result := provisioningResult{
				warmup:   1,
				silo:     []siloRound{{total: tc.silo, steps: steps(time.Millisecond)}},
				baseline: []baselineRound{{total: tc.baseline, steps: steps(time.Millisecond)}},
			}

			page := renderProvisioning(result, benchSettings{}, machine{}, time.Now())

			require.Contains(t, page, tc.want)
			require.Contains(t, page, "| silo | 1 | ")
		})
	}
}
