package tenancy_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"silo.dev/silo/controlplane/catalog"
	silov1 "silo.dev/silo/gen/silo/v1"
	"silo.dev/silo/internal/pgtest"
	"silo.dev/silo/internal/silotest"
)

// world is a running silo with two active tenants and users in them.
type world struct {
	env        *silotest.Env
	a, b       *silov1.Tenant
	adminToken string
}

// newWorld starts silo with tenants tenant-a and tenant-b. users maps each
// user to their role in each tenant slug.
func newWorld(t *testing.T, users map[string]map[string]silov1.TenantRole) *world {
	t.Helper()

	env := silotest.Start(t, nil)
	w := &world{env: env, adminToken: env.Token(t, silotest.AdminSubject, true)}
	tenants := map[string]*silov1.Tenant{}
	for _, slug := range []string{"tenant-a", "tenant-b"} {
		resp, err := env.Tenants.CreateTenant(t.Context(), connect.NewRequest(&silov1.CreateTenantRequest{Name: slug, Slug: slug}))
		require.NoError(t, err)
		require.Equal(t, silov1.TenantStatus_TENANT_STATUS_ACTIVE, resp.Msg.GetTenant().GetStatus())
		tenants[slug] = resp.Msg.GetTenant()
	}
	w.a, w.b = tenants["tenant-a"], tenants["tenant-b"]

	for user, roles := range users {
		for slug, role := range roles {
			_, err := env.Tenants.AddTenantUser(t.Context(), connect.NewRequest(&silov1.AddTenantUserRequest{
				TenantId: tenants[slug].GetId(), UserId: user, Role: role,
			}))
			require.NoError(t, err)
		}
	}

	return w
}

func (w *world) tickets(t *testing.T, user, tenantRef string) interface {
	CreateTicket(title string) (*silov1.Ticket, error)
	ListTickets() ([]*silov1.Ticket, error)
} {
	t.Helper()

	var opts []connect.ClientOption
	if tenantRef != "" {
		opts = append(opts, connect.WithInterceptors(silotest.Header("X-Tenant-ID", tenantRef)))
	}

	return ticketCalls{t: t, client: w.env.TicketClient(w.env.Token(t, user, false), opts...)}
}

type ticketCalls struct {
	t      *testing.T
	client interface {
		CreateTicket(ctx context.Context, req *connect.Request[silov1.CreateTicketRequest]) (*connect.Response[silov1.CreateTicketResponse], error)
		ListTickets(ctx context.Context, req *connect.Request[silov1.ListTicketsRequest]) (*connect.Response[silov1.ListTicketsResponse], error)
	}
}

func (c ticketCalls) CreateTicket(title string) (*silov1.Ticket, error) {
	resp, err := c.client.CreateTicket(c.t.Context(), connect.NewRequest(&silov1.CreateTicketRequest{Title: title}))
	if err != nil {
		return nil, err
	}

	return resp.Msg.GetTicket(), nil
}

func (c ticketCalls) ListTickets() ([]*silov1.Ticket, error) {
	resp, err := c.client.ListTickets(c.t.Context(), connect.NewRequest(&silov1.ListTicketsRequest{}))
	if err != nil {
		return nil, err
	}

	return resp.Msg.GetTickets(), nil
}

func titles(tickets []*silov1.Ticket) []string {
	var out []string
	for _, ticket := range tickets {
		out = append(out, ticket.GetTitle())
	}

	return out
}

// databaseTitles reads ticket titles straight from a tenant's database.
func databaseTitles(t *testing.T, tenantID string) []string {
	t.Helper()

	id, err := uuid.Parse(tenantID)
	require.NoError(t, err)
	conn, err := pgx.Connect(t.Context(), pgtest.Cluster(t).URL(catalog.ObjectName(id)))
	require.NoError(t, err)
	defer conn.Close(t.Context())
	rows, err := conn.Query(t.Context(), `SELECT title FROM tickets ORDER BY created_at, id`)
	require.NoError(t, err)
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)

	return out
}

func TestEachTenantSeesOwnTickets(t *testing.T) {
	t.Parallel()
	w := newWorld(t, map[string]map[string]silov1.TenantRole{
		"nora": {"tenant-a": silov1.TenantRole_TENANT_ROLE_MEMBER, "tenant-b": silov1.TenantRole_TENANT_ROLE_MEMBER},
	})

	_, err := w.tickets(t, "nora", "tenant-a").CreateTicket("only in A")
	require.NoError(t, err)
	_, err = w.tickets(t, "nora", w.b.GetId()).CreateTicket("only in B")
	require.NoError(t, err)
	_, err = w.tickets(t, "nora", "TENANT-B").CreateTicket("also in B")
	require.NoError(t, err)

	inA, err := w.tickets(t, "nora", "tenant-a").ListTickets()
	require.NoError(t, err)
	require.Equal(t, []string{"only in A"}, titles(inA))
	inB, err := w.tickets(t, "nora", "tenant-b").ListTickets()
	require.NoError(t, err)
	require.Equal(t, []string{"only in B", "also in B"}, titles(inB))

	require.Equal(t, []string{"only in A"}, databaseTitles(t, w.a.GetId()))
	require.Equal(t, []string{"only in B", "also in B"}, databaseTitles(t, w.b.GetId()))

	for slug, want := range map[string][]string{"tenant-a": {"only in A"}, "tenant-b": {"only in B", "also in B"}} {
		body := restGet(t, w.env.URL+"/api/v1/tickets", w.env.Token(t, "nora", false), slug)
		var got []string
		for _, ticket := range body["tickets"].([]any) {
			got = append(got, ticket.(map[string]any)["title"].(string))
		}
		require.Equal(t, want, got, "REST list of %s", slug)
	}
}

func TestActiveTenantRoutesRequests(t *testing.T) {
	t.Parallel()
	w := newWorld(t, map[string]map[string]silov1.TenantRole{
		"omar": {"tenant-a": silov1.TenantRole_TENANT_ROLE_MEMBER, "tenant-b": silov1.TenantRole_TENANT_ROLE_MEMBER},
	})
	omar := w.env.UserClient(t, "omar")

	switched, err := omar.SwitchTenant(t.Context(), connect.NewRequest(&silov1.SwitchTenantRequest{TenantId: "tenant-a"}))
	require.NoError(t, err)
	_, err = w.tickets(t, "omar", "").CreateTicket("while A is active")
	require.NoError(t, err)
	require.Equal(t, []string{"while A is active"}, databaseTitles(t, w.a.GetId()))

	_, err = omar.SwitchTenant(t.Context(), connect.NewRequest(&silov1.SwitchTenantRequest{TenantId: "tenant-b"}))
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		list, err := w.tickets(t, "omar", "").ListTickets()
		return err == nil && len(list) == 0
	}, 5*time.Second, 20*time.Millisecond, "after switching to B the list is B's, which is empty")

	scoped := w.env.TicketClient(switched.Msg.GetToken())
	list, err := scoped.ListTickets(t.Context(), connect.NewRequest(&silov1.ListTicketsRequest{}))
	require.NoError(t, err)
	require.Equal(t, []string{"while A is active"}, titles(list.Msg.GetTickets()), "the tenant-scoped token keeps naming A")
}

// restGet sends a GET with a bearer token and an X-Tenant-ID header and
// returns the decoded JSON body of a 200 response.
func restGet(t *testing.T, url, token, tenant string) map[string]any {
	t.Helper()

	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("x-tenant-id", tenant)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(raw))

	var body map[string]any
	require.NoError(t, json.NewDecoder(bytes.NewReader(raw)).Decode(&body))

	return body
}
