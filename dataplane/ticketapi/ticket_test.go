package ticketapi_test

import (
	"fmt"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	silov1 "silo.dev/silo/gen/silo/v1"
)

func TestTicketRoundTrip(t *testing.T) {
	t.Parallel()
	env := newEnv(t)

	created := createTicket(t, env.tickets, &silov1.CreateTicketRequest{Title: "  Fix the login page  ", Description: "Users see a blank page.\nSteps follow."})
	require.NotEmpty(t, created.GetId())
	require.Equal(t, "Fix the login page", created.GetTitle())
	require.Equal(t, "Users see a blank page.\nSteps follow.", created.GetDescription())
	require.Equal(t, "open", created.GetStatus())
	require.Empty(t, created.GetWorkflowId())
	require.Empty(t, created.GetAssignee())
	require.NotNil(t, created.GetCreatedAt())
	require.Equal(t, created.GetCreatedAt().AsTime(), created.GetUpdatedAt().AsTime())

	got, err := env.tickets.GetTicket(t.Context(), connect.NewRequest(&silov1.GetTicketRequest{Id: created.GetId()}))
	require.NoError(t, err)
	require.Equal(t, created.GetTitle(), got.Msg.GetTicket().GetTitle())
	require.Equal(t, created.GetCreatedAt().AsTime(), got.Msg.GetTicket().GetCreatedAt().AsTime())

	updated, err := env.tickets.UpdateTicket(t.Context(), connect.NewRequest(&silov1.UpdateTicketRequest{
		Ticket: &silov1.Ticket{
			Id:          created.GetId(),
			Title:       "Fix the login form",
			Description: "ignored: not in the mask",
			Status:      "in_progress",
			Assignee:    "user-42",
		},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"title", "status", "assignee"}},
	}))
	require.NoError(t, err)
	require.Equal(t, "Fix the login form", updated.Msg.GetTicket().GetTitle())
	require.Equal(t, created.GetDescription(), updated.Msg.GetTicket().GetDescription())
	require.Equal(t, "in_progress", updated.Msg.GetTicket().GetStatus())
	require.Equal(t, "user-42", updated.Msg.GetTicket().GetAssignee())
	require.Equal(t, created.GetCreatedAt().AsTime(), updated.Msg.GetTicket().GetCreatedAt().AsTime())
	require.True(t, updated.Msg.GetTicket().GetUpdatedAt().AsTime().After(created.GetUpdatedAt().AsTime()))

	got, err = env.tickets.GetTicket(t.Context(), connect.NewRequest(&silov1.GetTicketRequest{Id: created.GetId()}))
	require.NoError(t, err)
	require.Equal(t, "Fix the login form", got.Msg.GetTicket().GetTitle())
	require.Equal(t, "user-42", got.Msg.GetTicket().GetAssignee())

	cleared, err := env.tickets.UpdateTicket(t.Context(), connect.NewRequest(&silov1.UpdateTicketRequest{
		Ticket:     &silov1.Ticket{Id: created.GetId()},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"assignee", "description"}},
	}))
	require.NoError(t, err)
	require.Empty(t, cleared.Msg.GetTicket().GetAssignee())
	require.Empty(t, cleared.Msg.GetTicket().GetDescription())
	require.Equal(t, "in_progress", cleared.Msg.GetTicket().GetStatus())

	_, err = env.tickets.DeleteTicket(t.Context(), connect.NewRequest(&silov1.DeleteTicketRequest{Id: created.GetId()}))
	require.NoError(t, err)

	_, err = env.tickets.GetTicket(t.Context(), connect.NewRequest(&silov1.GetTicketRequest{Id: created.GetId()}))
	requireCode(t, err, connect.CodeNotFound, created.GetId())
}

func TestCreateTicketValidation(t *testing.T) {
	t.Parallel()
	env := newEnv(t)

	for _, tc := range []struct {
		name    string
		request *silov1.CreateTicketRequest
		message string
	}{
		{name: "missing title", request: &silov1.CreateTicketRequest{}, message: "title: required"},
		{name: "blank title", request: &silov1.CreateTicketRequest{Title: " \t "}, message: "title: required"},
		{name: "title too long", request: &silov1.CreateTicketRequest{Title: strings.Repeat("é", 501)}, message: "title: must be at most 500 characters, got 501"},
		{name: "title with line break", request: &silov1.CreateTicketRequest{Title: "two\nlines"}, message: "title: must not contain control characters"},
		{name: "status too long", request: &silov1.CreateTicketRequest{Title: "t", Status: strings.Repeat("s", 64)}, message: "status: must be at most 63 characters, got 64"},
		{name: "status with control character", request: &silov1.CreateTicketRequest{Title: "t", Status: "a\x00b"}, message: "status: must not contain control characters"},
		{name: "malformed workflow id", request: &silov1.CreateTicketRequest{Title: "t", WorkflowId: "wf-1"}, message: `workflow_id: "wf-1" is not a UUID`},
		{name: "unknown workflow", request: &silov1.CreateTicketRequest{Title: "t", WorkflowId: "00000000-0000-4000-8000-000000000001"}, message: `workflow_id: workflow "00000000-0000-4000-8000-000000000001" not found`},
		{name: "assignee too long", request: &silov1.CreateTicketRequest{Title: "t", Assignee: strings.Repeat("u", 256)}, message: "assignee: must be at most 255 characters, got 256"},
		{name: "assignee with control character", request: &silov1.CreateTicketRequest{Title: "t", Assignee: "user\r"}, message: "assignee: must not contain control characters"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := env.tickets.CreateTicket(t.Context(), connect.NewRequest(tc.request))

			requireCode(t, err, connect.CodeInvalidArgument, tc.message)
		})
	}

	ids, _ := listTicketIDs(t, env.tickets, 10, "")
	require.Empty(t, ids)
}

func TestCreateTicketLimits(t *testing.T) {
	t.Parallel()
	env := newEnv(t)

	created := createTicket(t, env.tickets, &silov1.CreateTicketRequest{
		Title:    strings.Repeat("é", 500),
		Status:   " " + strings.Repeat("s", 63) + " ",
		Assignee: strings.Repeat("u", 255),
	})

	require.Equal(t, strings.Repeat("é", 500), created.GetTitle())
	require.Equal(t, strings.Repeat("s", 63), created.GetStatus())
	require.Equal(t, strings.Repeat("u", 255), created.GetAssignee())
}

func TestUpdateTicketValidation(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	existing := createTicket(t, env.tickets, &silov1.CreateTicketRequest{Title: "Existing"})
	unknownID := uuid.NewString()

	for _, tc := range []struct {
		name    string
		request *silov1.UpdateTicketRequest
		code    connect.Code
		message string
	}{
		{
			name:    "missing ticket",
			request: &silov1.UpdateTicketRequest{UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"title"}}},
			code:    connect.CodeInvalidArgument, message: "ticket: required",
		},
		{
			name:    "malformed id",
			request: &silov1.UpdateTicketRequest{Ticket: &silov1.Ticket{Id: "42", Title: "x"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"title"}}},
			code:    connect.CodeInvalidArgument, message: `ticket.id: "42" is not a UUID`,
		},
		{
			name:    "missing mask",
			request: &silov1.UpdateTicketRequest{Ticket: &silov1.Ticket{Id: existing.GetId(), Title: "x"}},
			code:    connect.CodeInvalidArgument, message: "update_mask: required",
		},
		{
			name:    "unknown path",
			request: &silov1.UpdateTicketRequest{Ticket: &silov1.Ticket{Id: existing.GetId()}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"created_at"}}},
			code:    connect.CodeInvalidArgument, message: `update_mask: "created_at" cannot be updated`,
		},
		{
			name:    "empty title",
			request: &silov1.UpdateTicketRequest{Ticket: &silov1.Ticket{Id: existing.GetId()}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"title"}}},
			code:    connect.CodeInvalidArgument, message: "title: required",
		},
		{
			name:    "empty status",
			request: &silov1.UpdateTicketRequest{Ticket: &silov1.Ticket{Id: existing.GetId()}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"status"}}},
			code:    connect.CodeInvalidArgument, message: "status: required",
		},
		{
			name:    "malformed workflow id",
			request: &silov1.UpdateTicketRequest{Ticket: &silov1.Ticket{Id: existing.GetId(), WorkflowId: "x"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"workflow_id"}}},
			code:    connect.CodeInvalidArgument, message: `workflow_id: "x" is not a UUID`,
		},
		{
			name:    "assignee too long",
			request: &silov1.UpdateTicketRequest{Ticket: &silov1.Ticket{Id: existing.GetId(), Assignee: strings.Repeat("u", 256)}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"assignee"}}},
			code:    connect.CodeInvalidArgument, message: "assignee: must be at most 255 characters",
		},
		{
			name:    "unknown ticket",
			request: &silov1.UpdateTicketRequest{Ticket: &silov1.Ticket{Id: unknownID, Title: "x"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"title"}}},
			code:    connect.CodeNotFound, message: unknownID,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := env.tickets.UpdateTicket(t.Context(), connect.NewRequest(tc.request))

			requireCode(t, err, tc.code, tc.message)
		})
	}

	got, err := env.tickets.GetTicket(t.Context(), connect.NewRequest(&silov1.GetTicketRequest{Id: existing.GetId()}))
	require.NoError(t, err)
	require.Equal(t, "Existing", got.Msg.GetTicket().GetTitle())
	require.Equal(t, existing.GetUpdatedAt().AsTime(), got.Msg.GetTicket().GetUpdatedAt().AsTime())
}

func TestTicketNotFound(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	id := uuid.NewString()

	for _, tc := range []struct {
		name string
		call func() error
	}{
		{name: "get", call: func() error {
			_, err := env.tickets.GetTicket(t.Context(), connect.NewRequest(&silov1.GetTicketRequest{Id: id}))
			return err
		}},
		{name: "delete", call: func() error {
			_, err := env.tickets.DeleteTicket(t.Context(), connect.NewRequest(&silov1.DeleteTicketRequest{Id: id}))
			return err
		}},
		{name: "update", call: func() error {
			_, err := env.tickets.UpdateTicket(t.Context(), connect.NewRequest(&silov1.UpdateTicketRequest{
				Ticket:     &silov1.Ticket{Id: id, Title: "x"},
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"title"}},
			}))
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			requireCode(t, tc.call(), connect.CodeNotFound, fmt.Sprintf("ticket %q not found", id))
		})
	}
}

func TestTicketMalformedID(t *testing.T) {
	t.Parallel()
	env := newEnv(t)

	for _, tc := range []struct {
		name    string
		id      string
		message string
	}{
		{name: "empty", id: "", message: "id: required"},
		{name: "not a UUID", id: "ticket-1", message: `id: "ticket-1" is not a UUID`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := env.tickets.GetTicket(t.Context(), connect.NewRequest(&silov1.GetTicketRequest{Id: tc.id}))
			requireCode(t, err, connect.CodeInvalidArgument, tc.message)

			_, err = env.tickets.DeleteTicket(t.Context(), connect.NewRequest(&silov1.DeleteTicketRequest{Id: tc.id}))
			requireCode(t, err, connect.CodeInvalidArgument, tc.message)
		})
	}
}

func TestTicketWorkflowStatus(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	review := createWorkflow(t, env.workflows, &silov1.CreateWorkflowRequest{Name: "Review", Statuses: []string{"todo", "review", "merged"}})
	standard := createWorkflow(t, env.workflows, &silov1.CreateWorkflowRequest{Name: "Standard"})

	_, err := env.tickets.CreateTicket(t.Context(), connect.NewRequest(&silov1.CreateTicketRequest{Title: "t", WorkflowId: review.GetId()}))
	requireCode(t, err, connect.CodeInvalidArgument, `status: "open" is not a status of workflow `+review.GetId(), "todo, review, merged")

	_, err = env.tickets.CreateTicket(t.Context(), connect.NewRequest(&silov1.CreateTicketRequest{Title: "t", WorkflowId: review.GetId(), Status: "done"}))
	requireCode(t, err, connect.CodeInvalidArgument, `status: "done" is not a status`)

	ticket := createTicket(t, env.tickets, &silov1.CreateTicketRequest{Title: "t", WorkflowId: review.GetId(), Status: "todo"})
	require.Equal(t, review.GetId(), ticket.GetWorkflowId())
	require.Equal(t, "todo", ticket.GetStatus())

	inStandard := createTicket(t, env.tickets, &silov1.CreateTicketRequest{Title: "t", WorkflowId: standard.GetId()})
	require.Equal(t, "open", inStandard.GetStatus())

	update := func(in *silov1.Ticket, paths ...string) (*silov1.Ticket, error) {
		in.Id = ticket.GetId()
		resp, err := env.tickets.UpdateTicket(t.Context(), connect.NewRequest(&silov1.UpdateTicketRequest{
			Ticket:     in,
			UpdateMask: &fieldmaskpb.FieldMask{Paths: paths},
		}))
		if err != nil {
			return nil, err
		}
		return resp.Msg.GetTicket(), nil
	}

	_, err = update(&silov1.Ticket{Status: "open"}, "status")
	requireCode(t, err, connect.CodeInvalidArgument, `status: "open" is not a status of workflow `+review.GetId(), "todo, review, merged")

	_, err = update(&silov1.Ticket{WorkflowId: standard.GetId()}, "workflow_id")
	requireCode(t, err, connect.CodeInvalidArgument, `status: "todo" is not a status of workflow `+standard.GetId(), "open, in_progress, done")

	_, err = update(&silov1.Ticket{WorkflowId: uuid.NewString()}, "workflow_id")
	requireCode(t, err, connect.CodeInvalidArgument, "workflow_id: workflow", "not found")

	moved, err := update(&silov1.Ticket{WorkflowId: standard.GetId(), Status: "in_progress"}, "workflow_id", "status")
	require.NoError(t, err)
	require.Equal(t, standard.GetId(), moved.GetWorkflowId())
	require.Equal(t, "in_progress", moved.GetStatus())

	detached, err := update(&silov1.Ticket{}, "workflow_id")
	require.NoError(t, err)
	require.Empty(t, detached.GetWorkflowId())

	free, err := update(&silov1.Ticket{Status: "anything"}, "status")
	require.NoError(t, err)
	require.Equal(t, "anything", free.GetStatus())
}

func TestListTicketsPages(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	var want []string
	for i := range 5 {
		want = append(want, createTicket(t, env.tickets, &silov1.CreateTicketRequest{Title: fmt.Sprintf("Ticket %d", i)}).GetId())
	}

	got, pages := listTicketIDs(t, env.tickets, 2, "")

	require.Equal(t, want, got)
	require.Equal(t, 3, pages)
}

func TestListTicketsSameCreationTime(t *testing.T) {
	t.Parallel()
	env := newEnv(t)

	// One transaction gives every ticket the same created_at, so only the
	// id orders them.
	_, err := env.pool.Exec(t.Context(), "INSERT INTO tickets (title) SELECT 'Ticket ' || n FROM generate_series(1, 5) AS n")
	require.NoError(t, err)
	var want []string
	rows, err := env.pool.Query(t.Context(), "SELECT id::text FROM tickets ORDER BY id")
	require.NoError(t, err)
	for rows.Next() {
		var id string
		require.NoError(t, rows.Scan(&id))
		want = append(want, id)
	}
	require.NoError(t, rows.Err())

	got, pages := listTicketIDs(t, env.tickets, 2, "")

	require.Equal(t, want, got)
	require.Equal(t, 3, pages)
}

func TestListTicketsStatusFilter(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	var open, done []string
	for i := range 5 {
		status := "open"
		if i%2 == 1 {
			status = "done"
		}
		created := createTicket(t, env.tickets, &silov1.CreateTicketRequest{Title: fmt.Sprintf("Ticket %d", i), Status: status})
		if status == "open" {
			open = append(open, created.GetId())
		} else {
			done = append(done, created.GetId())
		}
	}

	for _, tc := range []struct {
		name   string
		status string
		want   []string
		pages  int
	}{
		{name: "open", status: "open", want: open, pages: 2},
		{name: "done", status: "done", want: done, pages: 1},
		{name: "trimmed", status: " done ", want: done, pages: 1},
		{name: "no match", status: "archived", want: nil, pages: 1},
		{name: "every status", status: "", want: []string{open[0], done[0], open[1], done[1], open[2]}, pages: 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, pages := listTicketIDs(t, env.tickets, 2, tc.status)

			require.Equal(t, tc.want, got)
			require.Equal(t, tc.pages, pages)
		})
	}
}

func TestListTicketsRequestErrors(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	for i := range 3 {
		createTicket(t, env.tickets, &silov1.CreateTicketRequest{Title: fmt.Sprintf("Ticket %d", i)})
	}
	first, err := env.tickets.ListTickets(t.Context(), connect.NewRequest(&silov1.ListTicketsRequest{PageSize: 1, Status: "open"}))
	require.NoError(t, err)
	openToken := first.Msg.GetNextPageToken()
	require.NotEmpty(t, openToken)
	workflowToken := workflowPageToken(t, env)

	for _, tc := range []struct {
		name    string
		request *silov1.ListTicketsRequest
		message string
	}{
		{name: "negative page size", request: &silov1.ListTicketsRequest{PageSize: -1}, message: "page_size: must not be negative, got -1"},
		{name: "token not base64", request: &silov1.ListTicketsRequest{PageToken: "!!!"}, message: "page_token: malformed"},
		{name: "token not JSON", request: &silov1.ListTicketsRequest{PageToken: "bm90IGpzb24"}, message: "page_token: malformed"},
		{name: "token of other status", request: &silov1.ListTicketsRequest{PageToken: openToken, Status: "done"}, message: "page_token: issued for another status filter"},
		{name: "token of status without filter", request: &silov1.ListTicketsRequest{PageToken: openToken}, message: "page_token: issued for another status filter"},
		{name: "token of workflow list", request: &silov1.ListTicketsRequest{PageToken: workflowToken}, message: "page_token: malformed"},
		{name: "status too long", request: &silov1.ListTicketsRequest{Status: strings.Repeat("s", 64)}, message: "status: must be at most 63 characters"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := env.tickets.ListTickets(t.Context(), connect.NewRequest(tc.request))

			requireCode(t, err, connect.CodeInvalidArgument, tc.message)
		})
	}

	next, err := env.tickets.ListTickets(t.Context(), connect.NewRequest(&silov1.ListTicketsRequest{PageSize: 1, Status: "open", PageToken: openToken}))
	require.NoError(t, err)
	require.Len(t, next.Msg.GetTickets(), 1)
}

func TestListTicketsPageSizes(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	_, err := env.pool.Exec(t.Context(), "INSERT INTO tickets (title) SELECT 'Ticket ' || n FROM generate_series(1, 1001) AS n")
	require.NoError(t, err)

	for _, tc := range []struct {
		name     string
		size     int32
		want     int
		morePage bool
	}{
		{name: "default", size: 0, want: 50, morePage: true},
		{name: "maximum", size: 1000, want: 1000, morePage: true},
		{name: "above maximum", size: 5000, want: 1000, morePage: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := env.tickets.ListTickets(t.Context(), connect.NewRequest(&silov1.ListTicketsRequest{PageSize: tc.size}))

			require.NoError(t, err)
			require.Len(t, resp.Msg.GetTickets(), tc.want)
			require.Equal(t, tc.morePage, resp.Msg.GetNextPageToken() != "")
		})
	}
}

// workflowPageToken returns a next_page_token of ListWorkflows.
func workflowPageToken(t *testing.T, env *env) string {
	t.Helper()

	for i := range 2 {
		createWorkflow(t, env.workflows, &silov1.CreateWorkflowRequest{Name: fmt.Sprintf("Workflow %d", i)})
	}
	resp, err := env.workflows.ListWorkflows(t.Context(), connect.NewRequest(&silov1.ListWorkflowsRequest{PageSize: 1}))
	require.NoError(t, err)
	require.NotEmpty(t, resp.Msg.GetNextPageToken())

	return resp.Msg.GetNextPageToken()
}

func TestListTicketsUnencodableCursor(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	// JSON cannot encode times after the year 9999, which PostgreSQL stores.
	_, err := env.pool.Exec(t.Context(), "INSERT INTO tickets (title, created_at) VALUES ('a', '10000-01-01'), ('b', '10000-01-02')")
	require.NoError(t, err)

	_, err = env.tickets.ListTickets(t.Context(), connect.NewRequest(&silov1.ListTicketsRequest{PageSize: 1}))

	requireCode(t, err, connect.CodeInternal, "internal error")
	require.Contains(t, env.logs.String(), "encode page token after")
}
