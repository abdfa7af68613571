//go:build bench

package bench

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"

	silov1 "silo.dev/silo/gen/silo/v1"
	"silo.dev/silo/gen/silo/v1/silov1connect"
	"silo.dev/silo/internal/silotest"
)

// Rounds of the change propagation benchmark, and the bound on each poll.
// -short runs a few rounds to check the code and records nothing.
const (
	propagationWarmup      = 2
	propagationRounds      = 20
	propagationShortRounds = 3
	propagationPollTimeout = 5 * time.Second
)

// propagationRound is one suspend and resume of the tenant.
type propagationRound struct {
	// rejected runs from SuspendTenant's response to the response of the
	// first GetTicket that the data plane rejected.
	rejected time.Duration
	// served is the number of GetTicket calls served after SuspendTenant
	// returned.
	served int
	// resumed runs from ResumeTenant's response to the response of the
	// first GetTicket served again.
	resumed time.Duration
}

// TestBenchmarkChangePropagation times how long a suspended tenant stays
// served by a split data plane after SuspendTenant returns on the control
// plane, and writes the change-propagation section of docs/benchmarks.md. It fails
// when a rejection does not arrive within propagationPollTimeout.
func TestBenchmarkChangePropagation(t *testing.T) {
	split := silotest.StartSplit(t, nil)
	env := split.Control
	ctx := t.Context()
	tenant := createTenants(t, env, "propagation", 1)[0]
	tickets := ticketClient(t, env, newHTTPClient(t, 2), split.Data.URL, tenant.ID.String())
	require.NoError(t, getTicket(ctx, tickets, tenant.TicketID))

	rounds := propagationRounds
	if testing.Short() {
		rounds = propagationShortRounds
	}
	var measured []propagationRound
	for round := range propagationWarmup + rounds {
		_, err := env.Tenants.SuspendTenant(ctx, connect.NewRequest(&silov1.SuspendTenantRequest{Id: tenant.ID.String()}))
		require.NoError(t, err)
		suspended := time.Now()
		served, err := pollUntil(ctx, tickets, tenant, false)
		require.NoError(t, err, "round %d: suspend", round)
		rejected := time.Since(suspended)

		_, err = env.Tenants.ResumeTenant(ctx, connect.NewRequest(&silov1.ResumeTenantRequest{Id: tenant.ID.String()}))
		require.NoError(t, err)
		resumedAt := time.Now()
		_, err = pollUntil(ctx, tickets, tenant, true)
		require.NoError(t, err, "round %d: resume", round)
		resumed := time.Since(resumedAt)

		if round >= propagationWarmup {
			measured = append(measured, propagationRound{rejected: rejected, served: served, resumed: resumed})
		}
	}

	section := renderPropagation(measured, readSettings(t, env), describeMachine(ctx, env.Catalog), time.Now())
	recordSection(t, "change-propagation", section)
}

// pollUntil sends GetTicket back to back until it is served, when served
// is set, or rejected because the tenant is not active. It returns how many
// calls were served before a rejection. Any other error ends the poll, and so
// does propagationPollTimeout.
func pollUntil(ctx context.Context, tickets silov1connect.TicketServiceClient, tenant benchTenant, served bool) (int, error) {
	deadline := time.Now().Add(propagationPollTimeout)
	count := 0
	for time.Now().Before(deadline) {
		err := getTicket(ctx, tickets, tenant.TicketID)
		switch {
		case err == nil && served:
			return count, nil
		case err == nil:
			count++
		case connect.CodeOf(err) == connect.CodeFailedPrecondition && strings.Contains(err.Error(), "suspended"):
			if !served {
				return count, nil
			}
		default:
			return count, fmt.Errorf("get ticket of tenant %s: %w", tenant.Slug, err)
		}
	}

	want := "rejected"
	if served {
		want = "served"
	}
	return count, errors.New("GetTicket not " + want + " within " + propagationPollTimeout.String())
}

// renderPropagation returns the change-propagation section of the
// benchmarks page.
func renderPropagation(rounds []propagationRound, settings benchSettings, host machine, at time.Time) string {
	var rejected, resumed []time.Duration
	maxServed, totalServed := 0, 0
	for _, r := range rounds {
		rejected = append(rejected, r.rejected)
		resumed = append(resumed, r.resumed)
		maxServed = max(maxServed, r.served)
		totalServed += r.served
	}
	suspend, resume := summarize(rejected), summarize(resumed)

	var b strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }

	line("## Change propagation")
	line("")
	line("Recorded %s by `make bench` (TestBenchmarkChangePropagation in bench/), which runs", at.UTC().Format("2006-01-02 15:04 MST"))
	line("`go test -tags bench -run '^TestBenchmark' -count=1 -timeout 30m -v ./bench/`.")
	line("")
	line("Measured on a split deployment: a control plane server (`--role controlplane`) and a data plane server")
	line("(`--role dataplane`), both in the test process on loopback ports (`silotest.StartSplit`). The data plane")
	line("resolves tenants through the control plane's internal CatalogService and learns of the suspend from its")
	line("WatchChanges stream, which the control plane feeds from the catalog's LISTEN/NOTIFY channel.")
	line("")
	line("### What is measured")
	line("")
	line("- One tenant, with a warm pool on the data plane. A round suspends it with `SuspendTenant` on the control")
	line("  plane, then sends `GetTicket` to the data plane as a member back to back, one at a time over loopback HTTP, until it")
	line("  rejects it (FailedPrecondition, tenant suspended). It then resumes the tenant with `ResumeTenant` and")
	line("  polls the same way until `GetTicket` is served again.")
	line("- Suspend: the time from SuspendTenant's response to the response of the first rejected call, and the")
	line("  number of calls served in between. Resume: the time from ResumeTenant's response to the response of")
	line("  the first served call. Both include that last call. A status change also evicts the tenant's pool")
	line("  (the change feed's `evict` flag), so the first call after a resume opens the pool again.")
	line("- %d rounds after %d warm-up rounds that are not counted; each poll gives up after %s.", len(rounds), propagationWarmup, propagationPollTimeout)
	line("")
	writeMachine(&b, host, settings)
	line("### Results")
	line("")
	line("| | rounds | median | p95 | min | max |")
	line("|---|---:|---:|---:|---:|---:|")
	line("| suspend to first rejection | %d | %s | %s | %s | %s |", suspend.Count, us(suspend.Median), us(suspend.P95), us(suspend.Min), us(suspend.Max))
	line("| resume to first served call | %d | %s | %s | %s | %s |", resume.Count, us(resume.Median), us(resume.P95), us(resume.Min), us(resume.Max))
	line("")
	line("Calls served after SuspendTenant returned: %d in all %d rounds, at most %d in one round.", totalServed, len(rounds), maxServed)

	return b.String()
}
