package ticketapi

import (
	"context"
	"errors"
	"fmt"

	"connectrpc.com/connect"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	silov1 "silo.dev/silo/gen/silo/v1"
)

// CreateWorkflow validates the new workflow and stores it. A workflow
// created without statuses gets open, in_progress and done.
func (s *Service) CreateWorkflow(ctx context.Context, req *connect.Request[silov1.CreateWorkflowRequest]) (*connect.Response[silov1.CreateWorkflowResponse], error) {
	procedure := req.Spec().Procedure
	pool, err := s.pool(ctx, procedure)
	if err != nil {
		return nil, err
	}

	name, err := normalizeLine("name", req.Msg.GetName(), maxWorkflowNameLength)
	if err != nil {
		return nil, err
	}
	description, err := validateDescription(req.Msg.GetDescription())
	if err != nil {
		return nil, err
	}
	statuses, err := normalizeStatuses(req.Msg.GetStatuses())
	if err != nil {
		return nil, err
	}

	row := pool.QueryRow(ctx, `
		INSERT INTO workflows (name, description, statuses)
		VALUES ($1, $2, $3)
		RETURNING `+workflowColumns,
		name, description, statuses)
	created, err := scanWorkflow(row)
	if err != nil {
		return nil, s.toConnectError(ctx, procedure, fmt.Errorf("insert workflow: %w", err))
	}

	return connect.NewResponse(&silov1.CreateWorkflowResponse{Workflow: created.toProto()}), nil
}

// GetWorkflow returns one workflow by id.
func (s *Service) GetWorkflow(ctx context.Context, req *connect.Request[silov1.GetWorkflowRequest]) (*connect.Response[silov1.GetWorkflowResponse], error) {
	procedure := req.Spec().Procedure
	pool, err := s.pool(ctx, procedure)
	if err != nil {
		return nil, err
	}

	id, err := parseID("id", req.Msg.GetId())
	if err != nil {
		return nil, err
	}

	row := pool.QueryRow(ctx, "SELECT "+workflowColumns+" FROM workflows WHERE id = $1", id)
	found, err := scanWorkflow(row)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound("workflow", req.Msg.GetId())
	}
	if err != nil {
		return nil, s.toConnectError(ctx, procedure, fmt.Errorf("read workflow %s: %w", id, err))
	}

	return connect.NewResponse(&silov1.GetWorkflowResponse{Workflow: found.toProto()}), nil
}

// ListWorkflows returns one page of workflows ordered by creation time,
// then id.
func (s *Service) ListWorkflows(ctx context.Context, req *connect.Request[silov1.ListWorkflowsRequest]) (*connect.Response[silov1.ListWorkflowsResponse], error) {
	procedure := req.Spec().Procedure
	pool, err := s.pool(ctx, procedure)
	if err != nil {
		return nil, err
	}

	size, err := pageSize(req.Msg.GetPageSize())
	if err != nil {
		return nil, err
	}
	after, err := decodePageToken(req.Msg.GetPageToken(), workflowList, "")
	if err != nil {
		return nil, err
	}

	// Reading one row more than the page size shows whether another page
	// follows.
	workflows, err := listWorkflows(ctx, pool, after, size+1)
	if err != nil {
		return nil, s.toConnectError(ctx, procedure, err)
	}

	resp := &silov1.ListWorkflowsResponse{}
	if len(workflows) > size {
		workflows = workflows[:size]
		if resp.NextPageToken, err = encodePageToken(workflowList, workflows[size-1].cursor(), ""); err != nil {
			return nil, s.toConnectError(ctx, procedure, err)
		}
	}
	for _, w := range workflows {
		resp.Workflows = append(resp.Workflows, w.toProto())
	}

	return connect.NewResponse(resp), nil
}

// listWorkflows returns up to limit workflows after the cursor in the
// order created_at, id.
func listWorkflows(ctx context.Context, pool *pgxpool.Pool, after *cursor, limit int) ([]workflow, error) {
	sql, args := keysetQuery("workflows", workflowColumns, nil, after, limit)

	rows, err := pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("list workflows: %w", err)
	}
	workflows, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (workflow, error) {
		return scanWorkflow(row)
	})
	if err != nil {
		return nil, fmt.Errorf("list workflows: %w", err)
	}

	return workflows, nil
}
