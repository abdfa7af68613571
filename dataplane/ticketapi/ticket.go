package ticketapi

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	silov1 "silo.dev/silo/gen/silo/v1"
)

// querier is the part of a pool or a transaction that the single-row
// queries use.
type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// CreateTicket validates the new ticket and stores it. A ticket with a
// workflow must have one of the workflow's statuses.
func (s *Service) CreateTicket(ctx context.Context, req *connect.Request[silov1.CreateTicketRequest]) (*connect.Response[silov1.CreateTicketResponse], error) {
	procedure := req.Spec().Procedure
	pool, err := s.pool(ctx, procedure)
	if err != nil {
		return nil, err
	}

	fields, err := newTicketFields(req.Msg)
	if err != nil {
		return nil, err
	}

	var created ticket
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if err := checkWorkflowStatus(ctx, tx, fields.WorkflowID, fields.Status); err != nil {
			return err
		}

		var err error
		created, err = insertTicket(ctx, tx, fields)
		return err
	})
	if err != nil {
		return nil, s.toConnectError(ctx, procedure, err)
	}

	return connect.NewResponse(&silov1.CreateTicketResponse{Ticket: created.toProto()}), nil
}

// GetTicket returns one ticket by id.
func (s *Service) GetTicket(ctx context.Context, req *connect.Request[silov1.GetTicketRequest]) (*connect.Response[silov1.GetTicketResponse], error) {
	procedure := req.Spec().Procedure
	pool, err := s.pool(ctx, procedure)
	if err != nil {
		return nil, err
	}

	id, err := parseID("id", req.Msg.GetId())
	if err != nil {
		return nil, err
	}

	found, err := selectTicket(ctx, pool, id, "")
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound("ticket", req.Msg.GetId())
	}
	if err != nil {
		return nil, s.toConnectError(ctx, procedure, err)
	}

	return connect.NewResponse(&silov1.GetTicketResponse{Ticket: found.toProto()}), nil
}

// ListTickets returns one page of tickets ordered by creation time, then
// id, optionally only those in one status.
func (s *Service) ListTickets(ctx context.Context, req *connect.Request[silov1.ListTicketsRequest]) (*connect.Response[silov1.ListTicketsResponse], error) {
	procedure := req.Spec().Procedure
	pool, err := s.pool(ctx, procedure)
	if err != nil {
		return nil, err
	}

	size, err := pageSize(req.Msg.GetPageSize())
	if err != nil {
		return nil, err
	}
	status := strings.TrimSpace(req.Msg.GetStatus())
	if status != "" {
		if status, err = normalizeStatus("status", status); err != nil {
			return nil, err
		}
	}
	after, err := decodePageToken(req.Msg.GetPageToken(), ticketList, status)
	if err != nil {
		return nil, err
	}

	// Reading one row more than the page size shows whether another page
	// follows.
	tickets, err := listTickets(ctx, pool, status, after, size+1)
	if err != nil {
		return nil, s.toConnectError(ctx, procedure, err)
	}

	resp := &silov1.ListTicketsResponse{}
	if len(tickets) > size {
		tickets = tickets[:size]
		if resp.NextPageToken, err = encodePageToken(ticketList, tickets[size-1].cursor(), status); err != nil {
			return nil, s.toConnectError(ctx, procedure, err)
		}
	}
	for _, t := range tickets {
		resp.Tickets = append(resp.Tickets, t.toProto())
	}

	return connect.NewResponse(resp), nil
}

// DeleteTicket deletes one ticket by id.
func (s *Service) DeleteTicket(ctx context.Context, req *connect.Request[silov1.DeleteTicketRequest]) (*connect.Response[silov1.DeleteTicketResponse], error) {
	procedure := req.Spec().Procedure
	pool, err := s.pool(ctx, procedure)
	if err != nil {
		return nil, err
	}

	id, err := parseID("id", req.Msg.GetId())
	if err != nil {
		return nil, err
	}

	tag, err := pool.Exec(ctx, "DELETE FROM tickets WHERE id = $1", id)
	if err != nil {
		return nil, s.toConnectError(ctx, procedure, fmt.Errorf("delete ticket %s: %w", id, err))
	}
	if tag.RowsAffected() == 0 {
		return nil, notFound("ticket", req.Msg.GetId())
	}

	return connect.NewResponse(&silov1.DeleteTicketResponse{}), nil
}

// newTicketFields validates a CreateTicketRequest and returns the row to
// insert, without id and timestamps.
func newTicketFields(req *silov1.CreateTicketRequest) (ticket, error) {
	var fields ticket
	var err error

	if fields.Title, err = normalizeTitle(req.GetTitle()); err != nil {
		return ticket{}, err
	}
	if fields.Description, err = validateDescription(req.GetDescription()); err != nil {
		return ticket{}, err
	}
	fields.Status = defaultStatus
	if strings.TrimSpace(req.GetStatus()) != "" {
		if fields.Status, err = normalizeStatus("status", req.GetStatus()); err != nil {
			return ticket{}, err
		}
	}
	if fields.WorkflowID, err = parseOptionalID("workflow_id", req.GetWorkflowId()); err != nil {
		return ticket{}, err
	}
	if fields.Assignee, err = validateAssignee(req.GetAssignee()); err != nil {
		return ticket{}, err
	}

	return fields, nil
}

// checkWorkflowStatus returns InvalidArgument unless the workflow exists
// and lists status; it accepts every status for a nil workflow. It locks
// the workflow row against deletion until tx ends, so the ticket written
// in tx cannot point to a workflow that was deleted meanwhile.
func checkWorkflowStatus(ctx context.Context, tx pgx.Tx, workflowID *uuid.UUID, status string) error {
	if workflowID == nil {
		return nil
	}

	var statuses []string
	err := tx.QueryRow(ctx, "SELECT statuses FROM workflows WHERE id = $1 FOR KEY SHARE", *workflowID).Scan(&statuses)
	if errors.Is(err, pgx.ErrNoRows) {
		return invalid("workflow_id: workflow %q not found; create it first or leave workflow_id empty", workflowID.String())
	}
	if err != nil {
		return fmt.Errorf("read statuses of workflow %s: %w", workflowID, err)
	}

	if !slices.Contains(statuses, status) {
		return invalid("status: %q is not a status of workflow %s; use one of: %s", status, workflowID, strings.Join(statuses, ", "))
	}

	return nil
}

func insertTicket(ctx context.Context, q querier, fields ticket) (ticket, error) {
	row := q.QueryRow(ctx, `
		INSERT INTO tickets (workflow_id, title, description, status, assignee)
		VALUES ($1, $2, $3, $4, $5)
		RETURNING `+ticketColumns,
		fields.WorkflowID, fields.Title, fields.Description, fields.Status, fields.Assignee)
	created, err := scanTicket(row)
	if err != nil {
		return ticket{}, fmt.Errorf("insert ticket: %w", err)
	}

	return created, nil
}

// selectTicket reads one ticket; lock is empty or a locking clause such as
// "FOR UPDATE". It returns an error wrapping pgx.ErrNoRows for an unknown
// id.
func selectTicket(ctx context.Context, q querier, id uuid.UUID, lock string) (ticket, error) {
	row := q.QueryRow(ctx, "SELECT "+ticketColumns+" FROM tickets WHERE id = $1 "+lock, id)
	found, err := scanTicket(row)
	if err != nil {
		return ticket{}, fmt.Errorf("read ticket %s: %w", id, err)
	}

	return found, nil
}

// listTickets returns up to limit tickets after the cursor in the order
// created_at, id, only those in status unless it is empty.
func listTickets(ctx context.Context, pool *pgxpool.Pool, status string, after *cursor, limit int) ([]ticket, error) {
	var filters []filter
	if status != "" {
		filters = append(filters, filter{column: "status", value: status})
	}
	sql, args := keysetQuery("tickets", ticketColumns, filters, after, limit)

	rows, err := pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("list tickets: %w", err)
	}
	tickets, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (ticket, error) {
		return scanTicket(row)
	})
	if err != nil {
		return nil, fmt.Errorf("list tickets: %w", err)
	}

	return tickets, nil
}
