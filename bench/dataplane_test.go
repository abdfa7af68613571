//go:build bench

package bench

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"silo.dev/silo/controlplane/catalog"
	"silo.dev/silo/dataplane/tenancy"
	silov1 "silo.dev/silo/gen/silo/v1"
	"silo.dev/silo/gen/silo/v1/silov1connect"
	"silo.dev/silo/internal/secret"
	"silo.dev/silo/internal/silotest"
)

// benchUser is the user that the data plane benchmarks send requests as. It
// is a member of every tenant they create.
const benchUser = "bench-member"

// createConcurrency is how many CreateTenant calls run at once while a
// benchmark sets up its tenants. silotest's job queue has 4 workers.
const createConcurrency = 4

// benchTenant is a tenant with one ticket, ready for GetTicket.
type benchTenant struct {
	ID       uuid.UUID
	Slug     string
	TicketID uuid.UUID
}

// createTenants creates count active tenants through the API, makes
// benchUser a member of each, and inserts one ticket into each tenant's
// database as the superuser. The ticket goes in without the data plane, so
// no tenant's pool or directory entry is warm afterwards. The superuser
// connection also means that neither silo nor a baseline is the first
// session on a tenant's database after provisioning.
func createTenants(t *testing.T, env *silotest.Env, prefix string, count int) []benchTenant {
	t.Helper()

	tenants := make([]benchTenant, count)
	t.Cleanup(func() { dropTenants(t, env, tenants) })
	indexes := make(chan int)
	errs := make(chan error, createConcurrency)
	var wg sync.WaitGroup
	for range createConcurrency {
		wg.Go(func() {
			for i := range indexes {
				tenant, err := createTenant(t.Context(), env, fmt.Sprintf("%s-%d", prefix, i))
				if err != nil {
					errs <- err
					return
				}
				tenants[i] = tenant
			}
			errs <- nil
		})
	}

	var sendErr error
	for i := range count {
		if sendErr != nil {
			break
		}
		select {
		case indexes <- i:
		case sendErr = <-errs:
		}
	}
	close(indexes)
	wg.Wait()
	close(errs)
	require.NoError(t, sendErr)
	for err := range errs {
		require.NoError(t, err)
	}

	return tenants
}

// dropTenants drops the databases and roles of tenants as the superuser,
// so that later benchmarks do not share the server with them: autovacuum
// visits every database of the cluster in turn. The server is still
// running, so the drop ends its connections to the tenants' databases.
func dropTenants(t *testing.T, env *silotest.Env, tenants []benchTenant) {
	t.Helper()

	// t.Context is canceled before cleanup functions run.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	names := make(chan string)
	errs := make(chan error, createConcurrency)
	var wg sync.WaitGroup
	for range createConcurrency {
		wg.Go(func() {
			var first error
			for name := range names {
				quoted := pgx.Identifier{name}.Sanitize()
				_, err := env.Catalog.Exec(ctx, "DROP DATABASE IF EXISTS "+quoted+" WITH (FORCE)")
				if err == nil {
					_, err = env.Catalog.Exec(ctx, "DROP ROLE IF EXISTS "+quoted)
				}
				if err != nil && first == nil {
					first = fmt.Errorf("drop database and role %s: %w", name, err)
				}
			}
			errs <- first
		})
	}
	for _, tenant := range tenants {
		if tenant.ID != uuid.Nil {
			names <- catalog.ObjectName(tenant.ID)
		}
	}
	close(names)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}

// createTenant creates one tenant with slug, adds benchUser as a member and
// inserts one ticket.
func createTenant(ctx context.Context, env *silotest.Env, slug string) (benchTenant, error) {
	created, err := env.Tenants.CreateTenant(ctx, connect.NewRequest(&silov1.CreateTenantRequest{Name: slug, Slug: slug}))
	if err != nil {
		return benchTenant{}, fmt.Errorf("create tenant %s: %w", slug, err)
	}
	tenant := created.Msg.GetTenant()
	if tenant.GetStatus() != silov1.TenantStatus_TENANT_STATUS_ACTIVE {
		return benchTenant{}, fmt.Errorf("create tenant %s: status %s: %s", slug, tenant.GetStatus(), tenant.GetLastError())
	}
	id, err := uuid.Parse(tenant.GetId())
	if err != nil {
		return benchTenant{}, fmt.Errorf("parse id of tenant %s: %w", slug, err)
	}

	_, err = env.Tenants.AddTenantUser(ctx, connect.NewRequest(&silov1.AddTenantUserRequest{
		TenantId: tenant.GetId(),
		UserId:   benchUser,
		Role:     silov1.TenantRole_TENANT_ROLE_MEMBER,
	}))
	if err != nil {
		return benchTenant{}, fmt.Errorf("add %s to tenant %s: %w", benchUser, slug, err)
	}

	ticketID, err := insertTicket(ctx, env, catalog.ObjectName(id))
	if err != nil {
		return benchTenant{}, fmt.Errorf("insert ticket into tenant %s: %w", slug, err)
	}

	return benchTenant{ID: id, Slug: slug, TicketID: ticketID}, nil
}

// insertTicket inserts a ticket into database as the superuser of the
// catalog's cluster and returns its id.
func insertTicket(ctx context.Context, env *silotest.Env, database string) (uuid.UUID, error) {
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
	if err := conn.QueryRow(ctx, `INSERT INTO tickets (title) VALUES ('Benchmark ticket') RETURNING id`).Scan(&id); err != nil {
		return uuid.Nil, fmt.Errorf("insert ticket: %w", err)
	}

	return id, nil
}

// tenantConnConfig returns the settings that connect to the tenant's
// database as the tenant's role, read from the catalog as silo reads them.
func tenantConnConfig(t *testing.T, env *silotest.Env, id uuid.UUID) *pgx.ConnConfig {
	t.Helper()

	box, err := secret.NewBox(env.Config.Key())
	require.NoError(t, err)
	config, err := tenancy.NewCatalogDirectory(catalog.New(env.Catalog), box).ConnConfig(t.Context(), id)
	require.NoError(t, err)

	return config
}

// newHTTPClient returns a client that keeps up to conns idle connections
// to one host, so that conns workers reuse their connections. Go's default
// keeps 2.
func newHTTPClient(t *testing.T, conns int) *http.Client {
	t.Helper()

	transport := &http.Transport{
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		IdleConnTimeout:     time.Minute,
	}
	t.Cleanup(transport.CloseIdleConnections)

	return &http.Client{Transport: transport}
}

// ticketClient returns a TicketService client at url that sends a token of
// benchUser and, when tenant is not empty, the X-Tenant-ID header.
func ticketClient(t *testing.T, env *silotest.Env, client *http.Client, url, tenant string) silov1connect.TicketServiceClient {
	t.Helper()

	interceptors := []connect.Interceptor{silotest.Bearer(env.Token(t, benchUser, false))}
	if tenant != "" {
		interceptors = append(interceptors, silotest.Header(tenancy.HeaderTenantID, tenant))
	}

	return silov1connect.NewTicketServiceClient(client, url, connect.WithInterceptors(interceptors...))
}

// getTicket reads ticket id and checks that the response carries it.
func getTicket(ctx context.Context, client silov1connect.TicketServiceClient, id uuid.UUID) error {
	response, err := client.GetTicket(ctx, connect.NewRequest(&silov1.GetTicketRequest{Id: id.String()}))
	if err != nil {
		return err
	}
	if got := response.Msg.GetTicket().GetId(); got != id.String() {
		return fmt.Errorf("get ticket %s: the response carries ticket %q", id, got)
	}

	return nil
}

// loadResult is what one run of concurrent workers measured.
type loadResult struct {
	elapsed   time.Duration
	latencies []time.Duration
	errors    int
	// firstError is the first error a request returned, for the test log.
	firstError error
}

// throughput returns the requests per second that succeeded.
func (r loadResult) throughput() float64 {
	return float64(len(r.latencies)) / r.elapsed.Seconds()
}

// runLoad runs workers goroutines that each call request in a loop until
// duration has passed, and times every call. A call that fails counts as
// an error and not as a latency. request gets the worker's index.
func runLoad(ctx context.Context, workers int, duration time.Duration, request func(ctx context.Context, worker int) error) loadResult {
	type workerResult struct {
		latencies []time.Duration
		errors    int
		first     error
	}
	results := make([]workerResult, workers)

	start := time.Now()
	deadline := start.Add(duration)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			out := &results[w]
			for ctx.Err() == nil {
				begin := time.Now()
				if begin.After(deadline) {
					return
				}
				err := request(ctx, w)
				took := time.Since(begin)
				if err != nil {
					out.errors++
					if out.first == nil {
						out.first = err
					}
					continue
				}
				out.latencies = append(out.latencies, took)
			}
		})
	}
	wg.Wait()

	result := loadResult{elapsed: time.Since(start)}
	for _, r := range results {
		result.latencies = append(result.latencies, r.latencies...)
		result.errors += r.errors
		if result.firstError == nil {
			result.firstError = r.first
		}
	}

	return result
}

// recordSection writes section to the benchmarks page under name unless
// the run is -short or under the race detector, whose timings are not
// comparable.
func recordSection(t *testing.T, name, section string) bool {
	t.Helper()

	t.Log("\n" + section)
	switch {
	case testing.Short():
		t.Logf("-short: %s not updated and the targets not checked", benchmarksDoc)
		return false
	case raceEnabled:
		t.Logf("race detector on: %s not updated and the targets not checked", benchmarksDoc)
		return false
	}

	require.NoError(t, writeSection(benchmarksDoc, name, section))
	t.Logf("updated %s", benchmarksDoc)

	return true
}

// writeMachine appends the machine subsection and the PostgreSQL settings
// of the test cluster to b.
func writeMachine(b *strings.Builder, host machine, settings benchSettings) {
	line := func(format string, args ...any) { fmt.Fprintf(b, format+"\n", args...) }

	var server []string
	for _, name := range serverSettings {
		server = append(server, fmt.Sprintf("%s=%s", name, settings.server[name]))
	}

	line("### Machine")
	line("")
	line("- CPU: %s", host.CPU)
	line("- Cores: %s", host.Cores)
	line("- Memory: %s", host.Memory)
	line("- OS: %s", host.OS)
	line("- PostgreSQL: %s, the throwaway test cluster of `pgtest` on 127.0.0.1: %s.", host.PostgreSQL, strings.Join(server, ", "))
	line("- Go: %s", host.Go)
	line("- Load average when the section was written: %s (from /proc/loadavg, 1, 5 and 15 minutes). The", loadAverage())
	line("  benchmark does not control other processes on the machine, so a load above the core count means")
	line("  they competed for the CPUs.")
	line("")
}

// loadAverage returns the 1, 5 and 15 minute load averages of the host.
func loadAverage() string {
	content, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return fmt.Sprintf("unknown (%v)", err)
	}
	fields := strings.Fields(string(content))
	if len(fields) < 3 {
		return fmt.Sprintf("unknown (/proc/loadavg contains %q)", content)
	}

	return strings.Join(fields[:3], ", ")
}

// verdict returns "met" or "missed".
func verdict(met bool) string {
	if met {
		return "met"
	}

	return "missed"
}

// us formats d in microseconds, or in milliseconds from 10 ms on.
func us(d time.Duration) string {
	if d >= 10*time.Millisecond {
		return ms(d)
	}

	return fmt.Sprintf("%.0f µs", float64(d)/float64(time.Microsecond))
}
