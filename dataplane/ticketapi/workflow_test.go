package ticketapi_test

import (
	"fmt"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	silov1 "silo.dev/silo/gen/silo/v1"
)

func TestWorkflowRoundTrip(t *testing.T) {
	t.Parallel()
	env := newEnv(t)

	standard := createWorkflow(t, env.workflows, &silov1.CreateWorkflowRequest{Name: " Standard ", Description: "The default flow."})
	require.NotEmpty(t, standard.GetId())
	require.Equal(t, "Standard", standard.GetName())
	require.Equal(t, "The default flow.", standard.GetDescription())
	require.Equal(t, []string{"open", "in_progress", "done"}, standard.GetStatuses())
	require.NotNil(t, standard.GetCreatedAt())
	require.NotNil(t, standard.GetUpdatedAt())

	review := createWorkflow(t, env.workflows, &silov1.CreateWorkflowRequest{Name: "Review", Statuses: []string{" todo ", "review", "merged"}})
	require.Equal(t, []string{"todo", "review", "merged"}, review.GetStatuses())

	got, err := env.workflows.GetWorkflow(t.Context(), connect.NewRequest(&silov1.GetWorkflowRequest{Id: review.GetId()}))
	require.NoError(t, err)
	require.Equal(t, "Review", got.Msg.GetWorkflow().GetName())
	require.Equal(t, []string{"todo", "review", "merged"}, got.Msg.GetWorkflow().GetStatuses())
	require.Equal(t, review.GetCreatedAt().AsTime(), got.Msg.GetWorkflow().GetCreatedAt().AsTime())
}

func TestCreateWorkflowValidation(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	tooMany := make([]string, 51)
	for i := range tooMany {
		tooMany[i] = fmt.Sprintf("status-%d", i)
	}

	for _, tc := range []struct {
		name    string
		request *silov1.CreateWorkflowRequest
		message string
	}{
		{name: "missing name", request: &silov1.CreateWorkflowRequest{}, message: "name: required"},
		{name: "name too long", request: &silov1.CreateWorkflowRequest{Name: strings.Repeat("n", 256)}, message: "name: must be at most 255 characters, got 256"},
		{name: "name with control character", request: &silov1.CreateWorkflowRequest{Name: "a\tb"}, message: "name: must not contain control characters"},
		{name: "too many statuses", request: &silov1.CreateWorkflowRequest{Name: "w", Statuses: tooMany}, message: "statuses: must be at most 50, got 51"},
		{name: "empty status", request: &silov1.CreateWorkflowRequest{Name: "w", Statuses: []string{"open", " "}}, message: "statuses[1]: required"},
		{name: "status too long", request: &silov1.CreateWorkflowRequest{Name: "w", Statuses: []string{strings.Repeat("s", 64)}}, message: "statuses[0]: must be at most 63 characters, got 64"},
		{name: "duplicate status", request: &silov1.CreateWorkflowRequest{Name: "w", Statuses: []string{"open", "done", "open "}}, message: `statuses[2]: "open" is listed twice`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := env.workflows.CreateWorkflow(t.Context(), connect.NewRequest(tc.request))

			requireCode(t, err, connect.CodeInvalidArgument, tc.message)
		})
	}

	resp, err := env.workflows.ListWorkflows(t.Context(), connect.NewRequest(&silov1.ListWorkflowsRequest{}))
	require.NoError(t, err)
	require.Empty(t, resp.Msg.GetWorkflows())
}

func TestCreateWorkflowLimits(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	statuses := make([]string, 50)
	for i := range statuses {
		statuses[i] = fmt.Sprintf("%02d-%s", i, strings.Repeat("s", 60))
	}

	created := createWorkflow(t, env.workflows, &silov1.CreateWorkflowRequest{Name: strings.Repeat("n", 255), Statuses: statuses})

	require.Equal(t, strings.Repeat("n", 255), created.GetName())
	require.Equal(t, statuses, created.GetStatuses())
}

func TestGetWorkflowErrors(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	unknownID := uuid.NewString()

	for _, tc := range []struct {
		name    string
		id      string
		code    connect.Code
		message string
	}{
		{name: "missing id", id: "", code: connect.CodeInvalidArgument, message: "id: required"},
		{name: "malformed id", id: "wf", code: connect.CodeInvalidArgument, message: `id: "wf" is not a UUID`},
		{name: "unknown id", id: unknownID, code: connect.CodeNotFound, message: fmt.Sprintf("workflow %q not found", unknownID)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := env.workflows.GetWorkflow(t.Context(), connect.NewRequest(&silov1.GetWorkflowRequest{Id: tc.id}))

			requireCode(t, err, tc.code, tc.message)
		})
	}
}

func TestListWorkflowsPages(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	var want []string
	for i := range 5 {
		want = append(want, createWorkflow(t, env.workflows, &silov1.CreateWorkflowRequest{Name: fmt.Sprintf("Workflow %d", i)}).GetId())
	}

	var got []string
	token := ""
	pages := 0
	for {
		resp, err := env.workflows.ListWorkflows(t.Context(), connect.NewRequest(&silov1.ListWorkflowsRequest{PageSize: 2, PageToken: token}))
		require.NoError(t, err)
		require.LessOrEqual(t, len(resp.Msg.GetWorkflows()), 2)
		for _, workflow := range resp.Msg.GetWorkflows() {
			got = append(got, workflow.GetId())
		}
		pages++
		token = resp.Msg.GetNextPageToken()
		if token == "" {
			break
		}
	}

	require.Equal(t, want, got)
	require.Equal(t, 3, pages)
}

func TestListWorkflowsRequestErrors(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	createTicket(t, env.tickets, &silov1.CreateTicketRequest{Title: "a"})
	createTicket(t, env.tickets, &silov1.CreateTicketRequest{Title: "b"})
	tickets, err := env.tickets.ListTickets(t.Context(), connect.NewRequest(&silov1.ListTicketsRequest{PageSize: 1}))
	require.NoError(t, err)
	require.NotEmpty(t, tickets.Msg.GetNextPageToken())

	for _, tc := range []struct {
		name    string
		request *silov1.ListWorkflowsRequest
		message string
	}{
		{name: "negative page size", request: &silov1.ListWorkflowsRequest{PageSize: -5}, message: "page_size: must not be negative, got -5"},
		{name: "malformed token", request: &silov1.ListWorkflowsRequest{PageToken: "%%%"}, message: "page_token: malformed"},
		{name: "token of ticket list", request: &silov1.ListWorkflowsRequest{PageToken: tickets.Msg.GetNextPageToken()}, message: "page_token: malformed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := env.workflows.ListWorkflows(t.Context(), connect.NewRequest(tc.request))

			requireCode(t, err, connect.CodeInvalidArgument, tc.message)
		})
	}
}
