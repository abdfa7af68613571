package ticketapi_test

import (
	"testing"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"silo.dev/silo/dataplane/tenancy"
	silov1 "silo.dev/silo/gen/silo/v1"
)

func TestHandlersWithoutTenant(t *testing.T) {
	t.Parallel()
	// No interceptor puts a tenant in the context.
	env := serve(t, tenancy.Tenant{}, nil)

	for _, tc := range []struct {
		name      string
		procedure string
		call      func() error
	}{
		{name: "get ticket", procedure: "/silo.v1.TicketService/GetTicket", call: func() error {
			_, err := env.tickets.GetTicket(t.Context(), connect.NewRequest(&silov1.GetTicketRequest{Id: uuid.NewString()}))
			return err
		}},
		{name: "create ticket", procedure: "/silo.v1.TicketService/CreateTicket", call: func() error {
			_, err := env.tickets.CreateTicket(t.Context(), connect.NewRequest(&silov1.CreateTicketRequest{Title: "t"}))
			return err
		}},
		{name: "list workflows", procedure: "/silo.v1.WorkflowService/ListWorkflows", call: func() error {
			_, err := env.workflows.ListWorkflows(t.Context(), connect.NewRequest(&silov1.ListWorkflowsRequest{}))
			return err
		}},
		{name: "watch tickets", procedure: "/silo.v1.TicketService/WatchTickets", call: func() error {
			stream, err := env.tickets.WatchTickets(t.Context(), connect.NewRequest(&silov1.WatchTicketsRequest{}))
			require.NoError(t, err)
			defer stream.Close()
			require.False(t, stream.Receive())
			return stream.Err()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()

			requireCode(t, err, connect.CodeInternal, "internal error")
			require.Contains(t, env.logs.String(), "procedure="+tc.procedure)
			require.Contains(t, env.logs.String(), "no tenant in context")
		})
	}
}
