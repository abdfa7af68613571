package ticketapi

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	silov1 "silo.dev/silo/gen/silo/v1"
)

// ticketUpdate contains the validated fields an UpdateTicket request changes.
// A nil pointer or a false set flag keeps the stored value.
type ticketUpdate struct {
	title       *string
	description *string
	status      *string

	setWorkflow bool
	workflowID  *uuid.UUID

	setAssignee bool
	assignee    *string
}

// UpdateTicket changes the fields named in update_mask, sets updated_at to
// the transaction's time and returns the ticket as saved. When the status
// or the workflow changes, the resulting status must be one of the
// resulting workflow's statuses.
func (s *Service) UpdateTicket(ctx context.Context, req *connect.Request[silov1.UpdateTicketRequest]) (*connect.Response[silov1.UpdateTicketResponse], error) {
	procedure := req.Spec().Procedure
	pool, err := s.pool(ctx, procedure)
	if err != nil {
		return nil, err
	}

	in := req.Msg.GetTicket()
	if in == nil {
		return nil, invalid("ticket: required")
	}
	id, err := parseID("ticket.id", in.GetId())
	if err != nil {
		return nil, err
	}
	update, err := parseTicketUpdate(in, req.Msg.GetUpdateMask().GetPaths())
	if err != nil {
		return nil, err
	}

	var saved ticket
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		current, err := selectTicket(ctx, tx, id, "FOR UPDATE")
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound("ticket", in.GetId())
		}
		if err != nil {
			return err
		}

		next := update.applyTo(current)
		if update.status != nil || update.setWorkflow {
			if err := checkWorkflowStatus(ctx, tx, next.WorkflowID, next.Status); err != nil {
				return err
			}
		}

		saved, err = saveTicket(ctx, tx, next)
		return err
	})
	if err != nil {
		return nil, s.toConnectError(ctx, procedure, err)
	}

	return connect.NewResponse(&silov1.UpdateTicketResponse{Ticket: saved.toProto()}), nil
}

// parseTicketUpdate validates the fields of in that paths name, with the
// same rules as CreateTicket except that status has no default.
func parseTicketUpdate(in *silov1.Ticket, paths []string) (ticketUpdate, error) {
	if len(paths) == 0 {
		return ticketUpdate{}, invalid("update_mask: required; name the fields to change: title, description, status, workflow_id or assignee")
	}

	var update ticketUpdate
	for _, path := range paths {
		switch path {
		case "title":
			title, err := normalizeTitle(in.GetTitle())
			if err != nil {
				return ticketUpdate{}, err
			}
			update.title = &title
		case "description":
			description, err := validateDescription(in.GetDescription())
			if err != nil {
				return ticketUpdate{}, err
			}
			update.description = &description
		case "status":
			if strings.TrimSpace(in.GetStatus()) == "" {
				return ticketUpdate{}, invalid("status: required when update_mask names it")
			}
			status, err := normalizeStatus("status", in.GetStatus())
			if err != nil {
				return ticketUpdate{}, err
			}
			update.status = &status
		case "workflow_id":
			workflowID, err := parseOptionalID("workflow_id", in.GetWorkflowId())
			if err != nil {
				return ticketUpdate{}, err
			}
			update.setWorkflow, update.workflowID = true, workflowID
		case "assignee":
			assignee, err := validateAssignee(in.GetAssignee())
			if err != nil {
				return ticketUpdate{}, err
			}
			update.setAssignee, update.assignee = true, assignee
		default:
			return ticketUpdate{}, invalid("update_mask: %q cannot be updated; use title, description, status, workflow_id or assignee", path)
		}
	}

	return update, nil
}

// applyTo returns current with the update's fields replaced.
func (u ticketUpdate) applyTo(current ticket) ticket {
	next := current
	if u.title != nil {
		next.Title = *u.title
	}
	if u.description != nil {
		next.Description = *u.description
	}
	if u.status != nil {
		next.Status = *u.status
	}
	if u.setWorkflow {
		next.WorkflowID = u.workflowID
	}
	if u.setAssignee {
		next.Assignee = u.assignee
	}

	return next
}

// saveTicket writes every field of t to its row, sets updated_at to now()
// and returns the saved row.
func saveTicket(ctx context.Context, q querier, t ticket) (ticket, error) {
	row := q.QueryRow(ctx, `
		UPDATE tickets
		SET workflow_id = $2, title = $3, description = $4, status = $5, assignee = $6, updated_at = now()
		WHERE id = $1
		RETURNING `+ticketColumns,
		t.ID, t.WorkflowID, t.Title, t.Description, t.Status, t.Assignee)
	saved, err := scanTicket(row)
	if err != nil {
		return ticket{}, fmt.Errorf("update ticket %s: %w", t.ID, err)
	}

	return saved, nil
}
