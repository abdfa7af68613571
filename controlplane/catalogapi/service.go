package catalogapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"

	"silo.dev/silo/controlplane/catalog"
	controlplanev1 "silo.dev/silo/gen/silo/controlplane/v1"
	"silo.dev/silo/gen/silo/controlplane/v1/controlplanev1connect"
	"silo.dev/silo/internal/secret"
)

// Service implements controlplanev1connect.CatalogServiceHandler on the
// catalog store.
type Service struct {
	store  *catalog.Store
	box    *secret.Box
	hub    *Hub
	logger *slog.Logger
}

var _ controlplanev1connect.CatalogServiceHandler = (*Service)(nil)

// New returns the service. box opens the database servers' administrator
// URLs; hub supplies the change streams and must receive the catalog feed.
func New(store *catalog.Store, box *secret.Box, hub *Hub, logger *slog.Logger) *Service {
	return &Service{store: store, box: box, hub: hub, logger: logger}
}

// ResolveTenant implements controlplanev1connect.CatalogServiceHandler.
func (s *Service) ResolveTenant(ctx context.Context, req *connect.Request[controlplanev1.ResolveTenantRequest]) (*connect.Response[controlplanev1.ResolveTenantResponse], error) {
	var t catalog.Tenant
	var err error
	switch ref := req.Msg.GetTenant().(type) {
	case *controlplanev1.ResolveTenantRequest_Id:
		id, parseErr := parseID("id", ref.Id)
		if parseErr != nil {
			return nil, parseErr
		}
		t, err = s.store.GetTenant(ctx, id)
	case *controlplanev1.ResolveTenantRequest_Slug:
		t, err = s.store.GetTenantBySlug(ctx, ref.Slug)
	default:
		return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("tenant: set id or slug"))
	}
	if err == nil && t.Status == catalog.StatusDeleted {
		err = catalog.ErrNotFound
	}
	if err != nil {
		return nil, s.storeError(ctx, "resolve tenant", err)
	}

	return connect.NewResponse(&controlplanev1.ResolveTenantResponse{
		TenantId: t.ID.String(),
		Slug:     t.Slug,
		Status:   string(t.Status),
	}), nil
}

// GetMembership implements controlplanev1connect.CatalogServiceHandler.
func (s *Service) GetMembership(ctx context.Context, req *connect.Request[controlplanev1.GetMembershipRequest]) (*connect.Response[controlplanev1.GetMembershipResponse], error) {
	id, err := parseID("tenant_id", req.Msg.GetTenantId())
	if err != nil {
		return nil, err
	}
	role, err := s.store.GetMembership(ctx, id, req.Msg.GetUserId())
	if err != nil {
		return nil, s.storeError(ctx, "get membership", err)
	}

	return connect.NewResponse(&controlplanev1.GetMembershipResponse{Role: string(role)}), nil
}

// GetActiveTenant implements controlplanev1connect.CatalogServiceHandler.
func (s *Service) GetActiveTenant(ctx context.Context, req *connect.Request[controlplanev1.GetActiveTenantRequest]) (*connect.Response[controlplanev1.GetActiveTenantResponse], error) {
	id, err := s.store.GetActiveTenant(ctx, req.Msg.GetUserId())
	if err != nil {
		return nil, s.storeError(ctx, "get active tenant", err)
	}

	return connect.NewResponse(&controlplanev1.GetActiveTenantResponse{TenantId: id.String()}), nil
}

// GetConnection implements controlplanev1connect.CatalogServiceHandler. It
// opens the server's administrator URL only to read the address and TLS
// mode, and sends the role password still sealed.
func (s *Service) GetConnection(ctx context.Context, req *connect.Request[controlplanev1.GetConnectionRequest]) (*connect.Response[controlplanev1.GetConnectionResponse], error) {
	id, err := parseID("tenant_id", req.Msg.GetTenantId())
	if err != nil {
		return nil, err
	}
	t, err := s.store.GetTenant(ctx, id)
	if err == nil && t.Status == catalog.StatusDeleted {
		err = catalog.ErrNotFound
	}
	if err != nil {
		return nil, s.storeError(ctx, "get connection", err)
	}
	server, err := s.store.GetServer(ctx, t.ServerID)
	if err != nil {
		return nil, s.storeError(ctx, "get connection", fmt.Errorf("load database server of tenant %s: %w", id, err))
	}

	adminURL, err := s.box.Open(server.AdminURLEncrypted, server.ID[:])
	if err != nil {
		return nil, s.internal(ctx, fmt.Errorf("decrypt URL of database server %q: %w", server.Name, err))
	}
	admin, err := pgconn.ParseConfig(string(adminURL))
	if err != nil {
		// pgconn masks the password in parse errors.
		return nil, s.internal(ctx, fmt.Errorf("parse URL of database server %q: %w", server.Name, err))
	}

	return connect.NewResponse(&controlplanev1.GetConnectionResponse{
		Host:                  admin.Host,
		Port:                  uint32(admin.Port),
		Database:              t.DatabaseName,
		Role:                  t.RoleName,
		SslMode:               SSLMode(admin),
		RolePasswordEncrypted: t.RolePasswordEncrypted,
	}), nil
}

// WatchChanges implements controlplanev1connect.CatalogServiceHandler.
func (s *Service) WatchChanges(ctx context.Context, _ *connect.Request[controlplanev1.WatchChangesRequest], stream *connect.ServerStream[controlplanev1.WatchChangesResponse]) error {
	sub, unsubscribe := s.hub.subscribe()
	defer unsubscribe()
	heartbeat := time.NewTicker(HeartbeatInterval)
	defer heartbeat.Stop()

	for {
		var m *controlplanev1.WatchChangesResponse
		select {
		case <-ctx.Done():
			return nil
		case <-sub.ended:
			s.logger.WarnContext(ctx, "catalog change stream ended by the control plane", "error", sub.err)
			return sub.err
		case m = <-sub.messages:
		case <-heartbeat.C:
			m = &controlplanev1.WatchChangesResponse{Kind: KindHeartbeat}
		}
		if err := stream.Send(m); err != nil {
			return fmt.Errorf("send catalog change: %w", err)
		}
		heartbeat.Reset(HeartbeatInterval)
	}
}

func parseID(field, value string) (uuid.UUID, error) {
	id, err := uuid.Parse(value)
	if err != nil {
		return uuid.Nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("%s: %q is not a UUID", field, value))
	}

	return id, nil
}

// storeError maps catalog.ErrNotFound to NotFound and every other error to
// Unavailable, which a data plane treats as a catalog it cannot reach.
func (s *Service) storeError(ctx context.Context, operation string, err error) error {
	if errors.Is(err, catalog.ErrNotFound) {
		return connect.NewError(connect.CodeNotFound, errors.New("not found"))
	}
	if ctx.Err() != nil {
		return connect.NewError(connect.CodeCanceled, ctx.Err())
	}
	s.logger.ErrorContext(ctx, "catalog read failed", "operation", operation, "error", err)

	return connect.NewError(connect.CodeUnavailable, fmt.Errorf("%s: catalog unavailable", operation))
}

func (s *Service) internal(ctx context.Context, err error) error {
	s.logger.ErrorContext(ctx, "catalog service failed", "error", err)

	return connect.NewError(connect.CodeInternal, errors.New("cannot read the database server's settings; see the control plane's log"))
}
