package tenantapi

import (
	"context"
	"errors"
	"time"

	"connectrpc.com/connect"
	"github.com/jackc/pgx/v5"

	"silo.dev/silo/controlplane/catalog"
	silov1 "silo.dev/silo/gen/silo/v1"
)

// SuspendTenant stops serving an active tenant. Suspending a suspended
// tenant returns it unchanged.
func (s *Service) SuspendTenant(ctx context.Context, req *connect.Request[silov1.SuspendTenantRequest]) (*connect.Response[silov1.SuspendTenantResponse], error) {
	out, err := s.setStatus(ctx, req.Spec().Procedure, req.Msg.GetId(),
		[]catalog.Status{catalog.StatusActive}, catalog.StatusSuspended, "suspend")
	if err != nil {
		return nil, err
	}

	return connect.NewResponse(&silov1.SuspendTenantResponse{Tenant: out}), nil
}

// ResumeTenant serves a suspended tenant again. Resuming an active tenant
// returns it unchanged.
func (s *Service) ResumeTenant(ctx context.Context, req *connect.Request[silov1.ResumeTenantRequest]) (*connect.Response[silov1.ResumeTenantResponse], error) {
	out, err := s.setStatus(ctx, req.Spec().Procedure, req.Msg.GetId(),
		[]catalog.Status{catalog.StatusSuspended}, catalog.StatusActive, "resume")
	if err != nil {
		return nil, err
	}

	return connect.NewResponse(&silov1.ResumeTenantResponse{Tenant: out}), nil
}

// DeleteTenant marks the tenant deleting and schedules the purge of its
// database after the grace period. Deleting a tenant that is already
// deleting returns it unchanged.
func (s *Service) DeleteTenant(ctx context.Context, req *connect.Request[silov1.DeleteTenantRequest]) (*connect.Response[silov1.DeleteTenantResponse], error) {
	id, err := s.tenantIDParam(ctx, "id", req.Msg.GetId())
	if err != nil {
		return nil, err
	}

	t, err := s.store.MarkDeleting(ctx, id, s.opts.DeleteGracePeriod, actor(ctx),
		func(ctx context.Context, tx pgx.Tx, purgeAfter time.Time) error {
			return s.jobs.EnqueuePurge(ctx, tx, id, purgeAfter)
		})
	if errors.Is(err, catalog.ErrNotFound) {
		err = notFound(req.Msg.GetId())
	}
	if err != nil {
		return nil, s.toConnectError(ctx, req.Spec().Procedure, err)
	}
	s.logger.InfoContext(ctx, "tenant deleted", "tenant_id", id, "purge_after", t.PurgeAfter)

	out, err := tenantToProto(t)
	if err != nil {
		return nil, s.toConnectError(ctx, req.Spec().Procedure, err)
	}

	return connect.NewResponse(&silov1.DeleteTenantResponse{Tenant: out}), nil
}

func (s *Service) setStatus(ctx context.Context, procedure, rawID string, from []catalog.Status, to catalog.Status, change string) (*silov1.Tenant, error) {
	id, err := s.tenantIDParam(ctx, "id", rawID)
	if err != nil {
		return nil, err
	}

	t, err := s.store.SetStatus(ctx, id, from, to, change, actor(ctx))
	if errors.Is(err, catalog.ErrNotFound) {
		err = notFound(rawID)
	}
	if err != nil {
		return nil, s.toConnectError(ctx, procedure, err)
	}
	s.logger.InfoContext(ctx, "tenant status changed", "tenant_id", id, "status", t.Status)

	out, err := tenantToProto(t)
	if err != nil {
		return nil, s.toConnectError(ctx, procedure, err)
	}

	return out, nil
}
