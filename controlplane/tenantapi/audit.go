package tenantapi

import (
	"context"
	"strconv"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	silov1 "silo.dev/silo/gen/silo/v1"
)

// ListAuditEvents returns one page of audit events, newest first.
func (s *Service) ListAuditEvents(ctx context.Context, req *connect.Request[silov1.ListAuditEventsRequest]) (*connect.Response[silov1.ListAuditEventsResponse], error) {
	var tenantID *uuid.UUID
	if req.Msg.GetTenantId() != "" {
		id, err := s.tenantIDParam(ctx, "tenant_id", req.Msg.GetTenantId())
		if err != nil {
			return nil, err
		}
		tenantID = &id
	}
	size, err := pageSize(req.Msg.GetPageSize())
	if err != nil {
		return nil, err
	}
	var before int64
	if token := req.Msg.GetPageToken(); token != "" {
		decoded, err := decodeStringToken(token)
		if err == nil {
			before, err = strconv.ParseInt(decoded, 10, 64)
		}
		if err != nil || before <= 0 {
			return nil, invalid("page_token: malformed; pass next_page_token from the previous response unchanged")
		}
	}

	events, err := s.store.ListAuditEvents(ctx, tenantID, before, size+1)
	if err != nil {
		return nil, s.toConnectError(ctx, req.Spec().Procedure, err)
	}

	resp := &silov1.ListAuditEventsResponse{}
	if len(events) > size {
		events = events[:size]
		resp.NextPageToken = encodeStringToken(strconv.FormatInt(events[size-1].ID, 10))
	}
	for _, e := range events {
		details := &structpb.Struct{}
		if err := protojson.Unmarshal(e.Details, details); err != nil {
			return nil, s.toConnectError(ctx, req.Spec().Procedure, err)
		}
		out := &silov1.AuditEvent{
			Id:         e.ID,
			OccurredAt: timestamppb.New(e.OccurredAt),
			Actor:      e.Actor,
			Action:     e.Action,
			Details:    details,
		}
		if e.TenantID != nil {
			out.TenantId = e.TenantID.String()
		}
		resp.AuditEvents = append(resp.AuditEvents, out)
	}

	return connect.NewResponse(resp), nil
}
