package tenancy_test

import (
	"context"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"

	silov1 "silo.dev/silo/gen/silo/v1"
	"silo.dev/silo/internal/silotest"
)

// changeTimeout is how long a catalog change may take to reach the data
// plane in tests. The target is a second, and the margin keeps a loaded
// machine from failing the test.
const changeTimeout = 5 * time.Second

func TestNoPoolForRefusedTenant(t *testing.T) {
	t.Parallel()
	w := newWorld(t, map[string]map[string]silov1.TenantRole{
		"rita": {"tenant-a": silov1.TenantRole_TENANT_ROLE_MEMBER},
	})

	_, err := w.tickets(t, "rita", w.b.GetId()).ListTickets()
	require.Equal(t, connect.CodePermissionDenied, connect.CodeOf(err))

	var sessions int
	require.NoError(t, w.env.Catalog.QueryRow(t.Context(),
		`SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 OR datname = $2`,
		"silo:"+w.b.GetId(), "t_"+stripHyphens(w.b.GetId())).Scan(&sessions))
	require.Zero(t, sessions, "no connection to tenant B was opened")
}

func TestChangesStopRequests(t *testing.T) {
	t.Parallel()
	w := newWorld(t, map[string]map[string]silov1.TenantRole{
		"sam": {"tenant-a": silov1.TenantRole_TENANT_ROLE_MEMBER, "tenant-b": silov1.TenantRole_TENANT_ROLE_MEMBER},
	})
	sam := w.tickets(t, "sam", "tenant-a")
	_, err := sam.ListTickets()
	require.NoError(t, err, "warm the cache and the pool")

	_, err = w.env.Tenants.SuspendTenant(t.Context(), connect.NewRequest(&silov1.SuspendTenantRequest{Id: w.a.GetId()}))
	require.NoError(t, err)
	requireRefused(t, func() error { _, err := sam.ListTickets(); return err }, connect.CodeFailedPrecondition)

	_, err = w.env.Tenants.ResumeTenant(t.Context(), connect.NewRequest(&silov1.ResumeTenantRequest{Id: w.a.GetId()}))
	require.NoError(t, err)
	require.Eventually(t, func() bool { _, err := sam.ListTickets(); return err == nil }, changeTimeout, 20*time.Millisecond)

	_, err = w.env.Tenants.RemoveTenantUser(t.Context(), connect.NewRequest(&silov1.RemoveTenantUserRequest{TenantId: w.a.GetId(), UserId: "sam"}))
	require.NoError(t, err)
	requireRefused(t, func() error { _, err := sam.ListTickets(); return err }, connect.CodePermissionDenied)

	samB := w.tickets(t, "sam", "tenant-b")
	_, err = samB.ListTickets()
	require.NoError(t, err)
	_, err = w.env.Tenants.DeleteTenant(t.Context(), connect.NewRequest(&silov1.DeleteTenantRequest{Id: w.b.GetId()}))
	require.NoError(t, err)
	requireRefused(t, func() error { _, err := samB.ListTickets(); return err }, connect.CodeFailedPrecondition, connect.CodePermissionDenied)
}

// requireRefused waits until call fails with one of codes, then checks
// that it keeps failing.
func requireRefused(t *testing.T, call func() error, codes ...connect.Code) {
	t.Helper()

	require.Eventually(t, func() bool {
		return containsCode(codes, connect.CodeOf(call()))
	}, changeTimeout, 20*time.Millisecond)
	for range 5 {
		require.Contains(t, codes, connect.CodeOf(call()))
	}
}

func containsCode(codes []connect.Code, code connect.Code) bool {
	for _, c := range codes {
		if c == code {
			return true
		}
	}

	return false
}

func stripHyphens(id string) string {
	out := make([]byte, 0, len(id))
	for i := range len(id) {
		if id[i] != '-' {
			out = append(out, id[i])
		}
	}

	return string(out)
}

func TestRolesPerProcedure(t *testing.T) {
	t.Parallel()
	w := newWorld(t, map[string]map[string]silov1.TenantRole{
		"vera":  {"tenant-a": silov1.TenantRole_TENANT_ROLE_VIEWER},
		"max":   {"tenant-a": silov1.TenantRole_TENANT_ROLE_MEMBER},
		"alina": {"tenant-a": silov1.TenantRole_TENANT_ROLE_ADMIN},
	})
	header := connect.WithInterceptors(silotest.Header("X-Tenant-ID", "tenant-a"))
	viewer := w.env.TicketClient(w.env.Token(t, "vera", false), header)
	member := w.env.TicketClient(w.env.Token(t, "max", false), header)
	admin := w.env.TicketClient(w.env.Token(t, "alina", false), header)

	_, err := viewer.CreateTicket(t.Context(), connect.NewRequest(&silov1.CreateTicketRequest{Title: "by a viewer"}))
	require.Equal(t, connect.CodePermissionDenied, connect.CodeOf(err), "viewers only read")
	created, err := member.CreateTicket(t.Context(), connect.NewRequest(&silov1.CreateTicketRequest{Title: "by a member"}))
	require.NoError(t, err)
	id := created.Msg.GetTicket().GetId()
	_, err = viewer.GetTicket(t.Context(), connect.NewRequest(&silov1.GetTicketRequest{Id: id}))
	require.NoError(t, err)
	_, err = member.DeleteTicket(t.Context(), connect.NewRequest(&silov1.DeleteTicketRequest{Id: id}))
	require.Equal(t, connect.CodePermissionDenied, connect.CodeOf(err), "members do not delete")
	_, err = admin.DeleteTicket(t.Context(), connect.NewRequest(&silov1.DeleteTicketRequest{Id: id}))
	require.NoError(t, err)
}

func TestWatchThroughInterceptor(t *testing.T) {
	t.Parallel()
	w := newWorld(t, map[string]map[string]silov1.TenantRole{
		"wes": {"tenant-a": silov1.TenantRole_TENANT_ROLE_MEMBER, "tenant-b": silov1.TenantRole_TENANT_ROLE_MEMBER},
	})
	token := w.env.Token(t, "wes", false)
	watcher := w.env.TicketClient(token, connect.WithInterceptors(silotest.Header("X-Tenant-ID", "tenant-a")))
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	stream, err := watcher.WatchTickets(ctx, connect.NewRequest(&silov1.WatchTicketsRequest{}))
	require.NoError(t, err)
	defer stream.Close()
	_, err = stream.ResponseHeader(), stream.Err()
	require.NoError(t, err)

	_, err = w.tickets(t, "wes", "tenant-b").CreateTicket("in B, not watched")
	require.NoError(t, err)
	_, err = w.tickets(t, "wes", "tenant-a").CreateTicket("in A, watched")
	require.NoError(t, err)

	require.True(t, stream.Receive(), "%v", stream.Err())
	require.Equal(t, silov1.TicketChange_TICKET_CHANGE_CREATED, stream.Msg().GetChange())
	require.Equal(t, "in A, watched", stream.Msg().GetTicket().GetTitle())
}

func TestChangesEndOpenStreams(t *testing.T) {
	t.Parallel()
	w := newWorld(t, map[string]map[string]silov1.TenantRole{
		"yara": {"tenant-a": silov1.TenantRole_TENANT_ROLE_MEMBER, "tenant-b": silov1.TenantRole_TENANT_ROLE_MEMBER},
	})
	watch := func(tenant string) *connect.ServerStreamForClient[silov1.WatchTicketsResponse] {
		client := w.env.TicketClient(w.env.Token(t, "yara", false), connect.WithInterceptors(silotest.Header("X-Tenant-ID", tenant)))
		stream, err := client.WatchTickets(t.Context(), connect.NewRequest(&silov1.WatchTicketsRequest{}))
		require.NoError(t, err)
		t.Cleanup(func() { _ = stream.Close() })
		stream.ResponseHeader()
		return stream
	}

	suspended := watch("tenant-a")
	_, err := w.env.Tenants.SuspendTenant(t.Context(), connect.NewRequest(&silov1.SuspendTenantRequest{Id: w.a.GetId()}))
	require.NoError(t, err)
	requireStreamEnds(t, suspended, connect.CodeFailedPrecondition)

	removed := watch("tenant-b")
	_, err = w.env.Tenants.RemoveTenantUser(t.Context(), connect.NewRequest(&silov1.RemoveTenantUserRequest{TenantId: w.b.GetId(), UserId: "yara"}))
	require.NoError(t, err)
	requireStreamEnds(t, removed, connect.CodePermissionDenied)
}

// requireStreamEnds waits, within changeTimeout, for a stream to end with
// code.
func requireStreamEnds(t *testing.T, stream *connect.ServerStreamForClient[silov1.WatchTicketsResponse], code connect.Code) {
	t.Helper()

	ended := make(chan error, 1)
	go func() {
		for stream.Receive() {
		}
		ended <- stream.Err()
	}()
	select {
	case err := <-ended:
		require.Equal(t, code, connect.CodeOf(err), "%v", err)
	case <-time.After(changeTimeout):
		t.Fatalf("stream still open %s after the change", changeTimeout)
	}
}
