//go:build bench

package bench

import (
	"context"
	"fmt"
	"maps"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"silo.dev/silo/controlplane/catalog"
	"silo.dev/silo/controlplane/provision"
	silov1 "silo.dev/silo/gen/silo/v1"
	"silo.dev/silo/internal/server"
	"silo.dev/silo/internal/silotest"
)

// Rounds of the provisioning benchmark. Each round provisions one tenant
// through silo and one through the baseline. -short runs a few rounds to
// check the code and records nothing.
const (
	warmupRounds        = 5
	measuredRounds      = 100
	shortWarmupRounds   = 1
	shortMeasuredRounds = 5
)

// maxProvisioningRatio is the target for the median silo time over the
// median baseline time.
const maxProvisioningRatio = 1.5

// siloPhase is a part of one CreateTenant call, cut at timestamps the
// catalog records. PostgreSQL's now() is the start of the transaction, so
// each timestamp is when a transaction began, not when it committed.
type siloPhase int

const (
	// phaseAPI runs from the call to the transaction that inserts the
	// tenant and its job: HTTP, validation, password and placement.
	phaseAPI siloPhase = iota
	// phaseQueue runs from that transaction to the job's start: commit,
	// River's insert notification and fetch.
	phaseQueue
	// phaseJob runs from the job's start to the transaction that marks the
	// tenant active: tenant lock, catalog reads and the provisioning steps.
	phaseJob
	// phaseResponse runs from that transaction to the response: its commit,
	// CreateTenant's next poll of the catalog and the HTTP response.
	phaseResponse
	phaseCount
)

var phaseNames = [phaseCount]string{
	phaseAPI:      "call to catalog insert (API)",
	phaseQueue:    "catalog insert to job start (River)",
	phaseJob:      "job start to activation (provisioning job)",
	phaseResponse: "activation to response (CreateTenant poll)",
}

// siloRound is one tenant provisioned through the API.
type siloRound struct {
	total  time.Duration
	phases [phaseCount]time.Duration
	// steps are the durations of the job's steps. The role step runs from
	// the job's start, so it includes the tenant lock and catalog reads.
	steps map[provision.Step]time.Duration
}

// baselineRound is one tenant provisioned by the baseline.
type baselineRound struct {
	total time.Duration
	steps map[provision.Step]time.Duration
}

// provisioningResult is everything the benchmark measured.
type provisioningResult struct {
	warmup   int
	silo     []siloRound
	baseline []baselineRound
}

// TestBenchmarkProvisioning times tenants provisioned through silo against
// the baseline, writes the provisioning section of docs/benchmarks.md, and
// fails when the median ratio misses maxProvisioningRatio.
func TestBenchmarkProvisioning(t *testing.T) {
	clock := &stepClock{ends: map[uuid.UUID]map[provision.Step]time.Time{}}
	env := silotest.Start(t, &silotest.Options{Prepare: func(srv *server.Server) {
		srv.Provisioner.SetAfterStep(clock.record)
	}})
	base := newBaseline(t, env)
	ctx := t.Context()

	result := provisioningResult{warmup: warmupRounds}
	measured := measuredRounds
	if testing.Short() {
		result.warmup, measured = shortWarmupRounds, shortMeasuredRounds
	}

	for round := range result.warmup + measured {
		// The last warm-up round also checks that the baseline sends the
		// statements silo sends.
		check := round == result.warmup-1
		var siloLog, baselineLog logWindow
		if check {
			siloLog.start = logLineCount(t)
		}

		silo := provisionWithSilo(t, env, clock, round)
		if check {
			siloLog.end = logLineCount(t)
		}

		tenant, password := storeBaselineTenant(t, base, round)
		if check {
			baselineLog.start = logLineCount(t)
		}
		baseline := provisionWithBaseline(t, base, tenant, password)
		if check {
			baselineLog.end = logLineCount(t)
			checkSameStatements(t, base, tenant, siloLog, baselineLog)
		}

		if round >= result.warmup {
			result.silo = append(result.silo, silo)
			result.baseline = append(result.baseline, baseline)
		}
	}

	settings := readSettings(t, env)
	section := renderProvisioning(result, settings, describeMachine(ctx, env.Catalog), time.Now())
	t.Log("\n" + section)

	switch {
	case testing.Short():
		t.Logf("-short: %s not updated and the ratio target not checked", benchmarksDoc)
	case raceEnabled:
		t.Logf("race detector on: %s not updated and the ratio target not checked", benchmarksDoc)
	default:
		require.NoError(t, writeSection(benchmarksDoc, "provisioning", section))
		t.Logf("updated %s", benchmarksDoc)
		require.LessOrEqual(t, result.ratio(), maxProvisioningRatio,
			"median silo time over median baseline time is above the target; the phase table above shows where the time goes")
	}
}

// totals returns the total time of each silo round and of each baseline
// round.
func (r provisioningResult) totals() (silo, baseline []time.Duration) {
	for _, round := range r.silo {
		silo = append(silo, round.total)
	}
	for _, round := range r.baseline {
		baseline = append(baseline, round.total)
	}

	return silo, baseline
}

// ratio returns the median silo time over the median baseline time.
func (r provisioningResult) ratio() float64 {
	silo, baseline := r.totals()

	return float64(summarize(silo).Median) / float64(summarize(baseline).Median)
}

// provisionWithSilo creates a tenant through the API, times the call, and
// splits the time into phases from the catalog's timestamps and into the
// job's steps from clock.
func provisionWithSilo(t *testing.T, env *silotest.Env, clock *stepClock, round int) siloRound {
	t.Helper()

	request := connect.NewRequest(&silov1.CreateTenantRequest{
		Name: fmt.Sprintf("Silo tenant %d", round),
		Slug: fmt.Sprintf("bench-silo-%d", round),
	})
	start := time.Now()
	response, err := env.Tenants.CreateTenant(t.Context(), request)
	end := time.Now()
	require.NoError(t, err)
	tenant := response.Msg.GetTenant()
	require.Equal(t, silov1.TenantStatus_TENANT_STATUS_ACTIVE, tenant.GetStatus(), "tenant %s: %s", tenant.GetSlug(), tenant.GetLastError())

	id, err := uuid.Parse(tenant.GetId())
	require.NoError(t, err)
	var created, attempted, activated time.Time
	var attempt int
	err = env.Catalog.QueryRow(t.Context(), `
		SELECT t.created_at, j.attempted_at, t.updated_at, j.attempt
		FROM tenants t JOIN river_job j ON j.kind = $2 AND j.args->>'tenant_id' = t.id::text
		WHERE t.id = $1`, id, provision.ProvisionArgs{}.Kind()).Scan(&created, &attempted, &activated, &attempt)
	require.NoError(t, err)
	require.Equal(t, 1, attempt, "tenant %s was provisioned after a retry, which the benchmark does not measure", id)

	// The catalog's timestamps carry no monotonic clock reading, so these
	// differences use the wall clock, shared with PostgreSQL on this host.
	var sample siloRound
	sample.total = end.Sub(start)
	sample.phases[phaseAPI] = created.Sub(start)
	sample.phases[phaseQueue] = attempted.Sub(created)
	sample.phases[phaseJob] = activated.Sub(attempted)
	sample.phases[phaseResponse] = end.Sub(activated)

	stepEnds := clock.wait(t, id)
	sample.steps = make(map[provision.Step]time.Duration, len(provision.Steps))
	stepStart := attempted
	for _, step := range provision.Steps {
		sample.steps[step] = stepEnds[step].Sub(stepStart)
		stepStart = stepEnds[step]
	}

	return sample
}

// stepClock records when each step of silo's provisioning job ends. Its
// record method is the provisioner's after-step hook.
type stepClock struct {
	mu   sync.Mutex
	ends map[uuid.UUID]map[provision.Step]time.Time
}

func (c *stepClock) record(_ context.Context, id uuid.UUID, step provision.Step) error {
	now := time.Now()

	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ends[id] == nil {
		c.ends[id] = map[provision.Step]time.Time{}
	}
	c.ends[id][step] = now

	return nil
}

// wait returns the end of each step of tenant id's job. It waits because
// the hook runs after a step returns, so CreateTenant can see the tenant
// active before the activate step is recorded.
func (c *stepClock) wait(t *testing.T, id uuid.UUID) map[provision.Step]time.Time {
	t.Helper()

	var ends map[provision.Step]time.Time
	require.Eventually(t, func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		ends = c.ends[id]
		return len(ends) == len(provision.Steps)
	}, 5*time.Second, time.Millisecond, "steps of tenant %s not all recorded", id)

	c.mu.Lock()
	defer c.mu.Unlock()

	return maps.Clone(c.ends[id])
}

// storeBaselineTenant stores the catalog row of the baseline's tenant in
// round and returns it with its role password.
func storeBaselineTenant(t *testing.T, base *baseline, round int) (catalog.Tenant, string) {
	t.Helper()

	tenant, password, err := base.createTenantRow(t.Context(),
		fmt.Sprintf("Baseline tenant %d", round), fmt.Sprintf("bench-baseline-%d", round))
	require.NoError(t, err)

	return tenant, password
}

// provisionWithBaseline times the baseline's provisioning of tenant.
func provisionWithBaseline(t *testing.T, base *baseline, tenant catalog.Tenant, password string) baselineRound {
	t.Helper()

	start := time.Now()
	steps, err := base.provision(t.Context(), tenant, password)
	total := time.Since(start)
	require.NoError(t, err)

	return baselineRound{total: total, steps: steps}
}
