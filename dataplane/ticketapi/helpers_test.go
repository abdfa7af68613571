package ticketapi_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"silo.dev/silo/controlplane/catalog"
	"silo.dev/silo/dataplane/tenancy"
	"silo.dev/silo/dataplane/ticketapi"
	silov1 "silo.dev/silo/gen/silo/v1"
	"silo.dev/silo/gen/silo/v1/silov1connect"
	"silo.dev/silo/internal/pgtest"
	"silo.dev/silo/migrations"
)

// env is one tenant database served by the ticket and workflow handlers
// over a real HTTP server.
type env struct {
	tenant    tenancy.Tenant
	pool      *pgxpool.Pool
	server    *httptest.Server
	tickets   silov1connect.TicketServiceClient
	workflows silov1connect.WorkflowServiceClient
	logs      *syncBuffer
}

// newEnv creates a tenant database with the tenant schema and serves the
// handlers behind tenantInterceptor, which builds the context the tenancy
// interceptor would build.
func newEnv(t *testing.T) *env {
	t.Helper()

	pool := newTenantPool(t)
	tenant := tenancy.Tenant{ID: uuid.New(), Slug: "acme", Role: catalog.RoleOwner}

	return serve(t, tenant, pool, connect.WithInterceptors(tenantInterceptor{tenant: tenant, pool: pool}))
}

// newTenantPool creates a database, applies the tenant schema and returns
// a pool on it that is closed when the test ends.
func newTenantPool(t *testing.T) *pgxpool.Pool {
	t.Helper()

	url := pgtest.NewDatabase(t, "")
	connConfig, err := pgx.ParseConfig(url)
	require.NoError(t, err)
	_, err = migrations.Tenant.Up(t.Context(), connConfig)
	require.NoError(t, err)

	pool, err := pgxpool.New(t.Context(), url)
	require.NoError(t, err)
	t.Cleanup(pool.Close)

	return pool
}

// serve starts an HTTP server with both services and returns clients of
// it. Watches must end before the test does, because closing the server
// waits for its open calls.
func serve(t *testing.T, tenant tenancy.Tenant, pool *pgxpool.Pool, opts ...connect.HandlerOption) *env {
	t.Helper()

	logs := &syncBuffer{}
	svc := ticketapi.New(slog.New(slog.NewTextHandler(logs, nil)))

	mux := http.NewServeMux()
	mux.Handle(silov1connect.NewTicketServiceHandler(svc, opts...))
	mux.Handle(silov1connect.NewWorkflowServiceHandler(svc, opts...))
	server := httptest.NewServer(mux)
	t.Cleanup(server.Close)

	return &env{
		tenant:    tenant,
		pool:      pool,
		server:    server,
		tickets:   silov1connect.NewTicketServiceClient(server.Client(), server.URL),
		workflows: silov1connect.NewWorkflowServiceClient(server.Client(), server.URL),
		logs:      logs,
	}
}

// tenantInterceptor puts the tenant and its pool in the context of every
// call, as the tenancy interceptor does after resolving the tenant.
type tenantInterceptor struct {
	tenant tenancy.Tenant
	pool   *pgxpool.Pool
}

func (i tenantInterceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		return next(tenancy.WithPool(ctx, i.tenant, i.pool), req)
	}
}

func (i tenantInterceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (i tenantInterceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		return next(tenancy.WithPool(ctx, i.tenant, i.pool), conn)
	}
}

// syncBuffer is a bytes.Buffer that the server's log handler and the test
// may use at the same time.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()

	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()

	return b.buf.String()
}

func createTicket(t *testing.T, client silov1connect.TicketServiceClient, req *silov1.CreateTicketRequest) *silov1.Ticket {
	t.Helper()

	resp, err := client.CreateTicket(t.Context(), connect.NewRequest(req))
	require.NoError(t, err)

	return resp.Msg.GetTicket()
}

func createWorkflow(t *testing.T, client silov1connect.WorkflowServiceClient, req *silov1.CreateWorkflowRequest) *silov1.Workflow {
	t.Helper()

	resp, err := client.CreateWorkflow(t.Context(), connect.NewRequest(req))
	require.NoError(t, err)

	return resp.Msg.GetWorkflow()
}

// requireCode checks the Connect code of err and that its message contains
// every one of parts.
func requireCode(t *testing.T, err error, code connect.Code, parts ...string) {
	t.Helper()

	require.Error(t, err)
	require.Equal(t, code, connect.CodeOf(err), "error: %v", err)
	var connectErr *connect.Error
	require.ErrorAs(t, err, &connectErr)
	for _, part := range parts {
		require.Contains(t, connectErr.Message(), part)
	}
}

// listTicketIDs pages through ListTickets with the given page size and
// status filter and returns the ids in order and the number of pages.
func listTicketIDs(t *testing.T, client silov1connect.TicketServiceClient, size int32, status string) ([]string, int) {
	t.Helper()

	var ids []string
	token := ""
	pages := 0
	for {
		resp, err := client.ListTickets(t.Context(), connect.NewRequest(&silov1.ListTicketsRequest{PageSize: size, PageToken: token, Status: status}))
		require.NoError(t, err)
		require.LessOrEqual(t, len(resp.Msg.GetTickets()), int(size))
		for _, ticket := range resp.Msg.GetTickets() {
			ids = append(ids, ticket.GetId())
		}
		pages++

		token = resp.Msg.GetNextPageToken()
		if token == "" {
			return ids, pages
		}
	}
}
