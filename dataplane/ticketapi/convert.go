package ticketapi

import (
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/types/known/timestamppb"

	silov1 "silo.dev/silo/gen/silo/v1"
)

// ticketColumns lists the columns scanTicket reads, in its order.
const ticketColumns = "id, workflow_id, title, description, status, assignee, created_at, updated_at"

// workflowColumns lists the columns scanWorkflow reads, in its order.
const workflowColumns = "id, name, description, statuses, created_at, updated_at"

// ticket is a row of the tickets table.
type ticket struct {
	ID          uuid.UUID
	WorkflowID  *uuid.UUID
	Title       string
	Description string
	Status      string
	Assignee    *string
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// workflow is a row of the workflows table.
type workflow struct {
	ID          uuid.UUID
	Name        string
	Description string
	Statuses    []string
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

func scanTicket(row pgx.Row) (ticket, error) {
	var t ticket
	err := row.Scan(&t.ID, &t.WorkflowID, &t.Title, &t.Description, &t.Status, &t.Assignee, &t.CreatedAt, &t.UpdatedAt)

	return t, err
}

func scanWorkflow(row pgx.Row) (workflow, error) {
	var w workflow
	err := row.Scan(&w.ID, &w.Name, &w.Description, &w.Statuses, &w.CreatedAt, &w.UpdatedAt)

	return w, err
}

func (t ticket) cursor() cursor {
	return cursor{CreatedAt: t.CreatedAt, ID: t.ID}
}

func (w workflow) cursor() cursor {
	return cursor{CreatedAt: w.CreatedAt, ID: w.ID}
}

// toProto converts the row to the API's Ticket, with empty strings for a
// missing workflow or assignee.
func (t ticket) toProto() *silov1.Ticket {
	out := &silov1.Ticket{
		Id:          t.ID.String(),
		Title:       t.Title,
		Description: t.Description,
		Status:      t.Status,
		CreatedAt:   timestamppb.New(t.CreatedAt),
		UpdatedAt:   timestamppb.New(t.UpdatedAt),
	}
	if t.WorkflowID != nil {
		out.WorkflowId = t.WorkflowID.String()
	}
	if t.Assignee != nil {
		out.Assignee = *t.Assignee
	}

	return out
}

func (w workflow) toProto() *silov1.Workflow {
	return &silov1.Workflow{
		Id:          w.ID.String(),
		Name:        w.Name,
		Description: w.Description,
		Statuses:    w.Statuses,
		CreatedAt:   timestamppb.New(w.CreatedAt),
		UpdatedAt:   timestamppb.New(w.UpdatedAt),
	}
}
