package ticketapi_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	silov1 "silo.dev/silo/gen/silo/v1"
	"silo.dev/silo/gen/silo/v1/silov1connect"
)

// watchTimeout bounds each watch in the tests, so a change that never
// arrives fails the test instead of hanging it.
const watchTimeout = 30 * time.Second

// startWatch opens WatchTickets and returns once the server has sent the
// response headers, which it does after it started listening.
func startWatch(t *testing.T, ctx context.Context, env *env) *connect.ServerStreamForClient[silov1.WatchTicketsResponse] {
	t.Helper()

	stream, err := env.tickets.WatchTickets(ctx, connect.NewRequest(&silov1.WatchTicketsRequest{}))
	require.NoError(t, err)
	stream.ResponseHeader()

	return stream
}

// receiveChange waits for the next message of stream and checks its change
// and ticket id.
func receiveChange(t *testing.T, stream *connect.ServerStreamForClient[silov1.WatchTicketsResponse], change silov1.TicketChange, id string) *silov1.Ticket {
	t.Helper()

	require.True(t, stream.Receive(), "stream ended before a %v change of ticket %s: %v", change, id, stream.Err())
	require.Equal(t, change, stream.Msg().GetChange())
	require.Equal(t, id, stream.Msg().GetTicket().GetId())

	return stream.Msg().GetTicket()
}

// otherClient returns a ticket client with its own HTTP connections, as
// another user of the tenant would have.
func otherClient(t *testing.T, env *env) silov1connect.TicketServiceClient {
	t.Helper()

	transport := &http.Transport{}
	t.Cleanup(transport.CloseIdleConnections)

	return silov1connect.NewTicketServiceClient(&http.Client{Transport: transport}, env.server.URL)
}

func TestWatchTickets(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	other := otherClient(t, env)
	ctx, cancel := context.WithTimeout(t.Context(), watchTimeout)
	defer cancel()
	stream := startWatch(t, ctx, env)

	created := createTicket(t, other, &silov1.CreateTicketRequest{Title: "Watch me", Assignee: "user-1"})
	got := receiveChange(t, stream, silov1.TicketChange_TICKET_CHANGE_CREATED, created.GetId())
	require.Equal(t, "Watch me", got.GetTitle())
	require.Equal(t, "user-1", got.GetAssignee())
	require.Equal(t, "open", got.GetStatus())

	_, err := other.UpdateTicket(t.Context(), connect.NewRequest(&silov1.UpdateTicketRequest{
		Ticket:     &silov1.Ticket{Id: created.GetId(), Status: "done"},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"status"}},
	}))
	require.NoError(t, err)
	got = receiveChange(t, stream, silov1.TicketChange_TICKET_CHANGE_UPDATED, created.GetId())
	require.Equal(t, "done", got.GetStatus())
	require.Equal(t, "Watch me", got.GetTitle())

	_, err = other.DeleteTicket(t.Context(), connect.NewRequest(&silov1.DeleteTicketRequest{Id: created.GetId()}))
	require.NoError(t, err)
	got = receiveChange(t, stream, silov1.TicketChange_TICKET_CHANGE_DELETED, created.GetId())
	require.Empty(t, got.GetTitle())
	require.Nil(t, got.GetCreatedAt())
}

func TestWatchTicketsDeletedBeforeRead(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	ctx, cancel := context.WithTimeout(t.Context(), watchTimeout)
	defer cancel()
	stream := startWatch(t, ctx, env)

	// Both notifications arrive at commit, when the ticket is gone, so the
	// insert can only be reported as a deletion.
	tx, err := env.pool.Begin(t.Context())
	require.NoError(t, err)
	var id string
	require.NoError(t, tx.QueryRow(t.Context(), "INSERT INTO tickets (title) VALUES ('Short-lived') RETURNING id::text").Scan(&id))
	_, err = tx.Exec(t.Context(), "DELETE FROM tickets WHERE id = $1", id)
	require.NoError(t, err)
	require.NoError(t, tx.Commit(t.Context()))

	receiveChange(t, stream, silov1.TicketChange_TICKET_CHANGE_DELETED, id)
	receiveChange(t, stream, silov1.TicketChange_TICKET_CHANGE_DELETED, id)

	next := createTicket(t, env.tickets, &silov1.CreateTicketRequest{Title: "Next"})
	receiveChange(t, stream, silov1.TicketChange_TICKET_CHANGE_CREATED, next.GetId())
}

func TestWatchTicketsSeveralWatchers(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	ctx, cancel := context.WithTimeout(t.Context(), watchTimeout)
	defer cancel()
	first := startWatch(t, ctx, env)
	second := startWatch(t, ctx, env)

	created := createTicket(t, env.tickets, &silov1.CreateTicketRequest{Title: "Seen twice"})

	receiveChange(t, first, silov1.TicketChange_TICKET_CHANGE_CREATED, created.GetId())
	receiveChange(t, second, silov1.TicketChange_TICKET_CHANGE_CREATED, created.GetId())
}

func TestWatchTicketsClientCancel(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	stream := startWatch(t, ctx, env)
	require.EqualValues(t, 1, env.pool.Stat().AcquiredConns())

	cancel()

	require.False(t, stream.Receive())
	require.Equal(t, connect.CodeCanceled, connect.CodeOf(stream.Err()))
	require.Eventually(t, func() bool { return env.pool.Stat().AcquiredConns() == 0 }, 10*time.Second, 10*time.Millisecond,
		"the listening connection was not released")
	require.NotContains(t, env.logs.String(), "level=ERROR")
	require.NotContains(t, env.logs.String(), "level=WARN")

	// The released connection went back to the pool without listening.
	idle := env.pool.AcquireAllIdle(t.Context())
	require.NotEmpty(t, idle)
	for _, conn := range idle {
		var channels int
		err := conn.QueryRow(t.Context(), "SELECT count(*) FROM pg_listening_channels()").Scan(&channels)
		conn.Release()
		require.NoError(t, err)
		require.Zero(t, channels)
	}
}

func TestWatchTicketsBrokenConnection(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	ctx, cancel := context.WithTimeout(t.Context(), watchTimeout)
	defer cancel()
	stream := startWatch(t, ctx, env)

	var terminated bool
	err := env.pool.QueryRow(t.Context(), `
		SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE datname = current_database() AND query = 'LISTEN ticket_changes'`).Scan(&terminated)
	require.NoError(t, err)
	require.True(t, terminated)

	require.False(t, stream.Receive())
	require.Equal(t, connect.CodeInternal, connect.CodeOf(stream.Err()))
	require.NotContains(t, stream.Err().Error(), "ticket_changes")
	require.Eventually(t, func() bool { return env.pool.Stat().AcquiredConns() == 0 }, 10*time.Second, 10*time.Millisecond,
		"the broken listening connection was not given up")
	logs := env.logs.String()
	require.Contains(t, logs, "procedure=/silo.v1.TicketService/WatchTickets")
	require.Contains(t, logs, "tenant_id="+env.tenant.ID.String())
	require.Contains(t, logs, "wait for ticket change")

	// The pool still serves the tenant's other calls.
	createTicket(t, env.tickets, &silov1.CreateTicketRequest{Title: "After the break"})
}
