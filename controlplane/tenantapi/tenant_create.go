package tenantapi

import (
	"context"
	"fmt"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"silo.dev/silo/controlplane/catalog"
	silov1 "silo.dev/silo/gen/silo/v1"
	"silo.dev/silo/internal/secret"
)

// deadlineMargin is kept free before the caller's deadline when
// CreateTenant waits, so that the response still reaches the caller.
const deadlineMargin = 100 * time.Millisecond

// CreateTenant validates the request, stores the tenant with its placement
// and encrypted role password, enqueues provisioning in the same
// transaction, and waits for provisioning to end.
func (s *Service) CreateTenant(ctx context.Context, req *connect.Request[silov1.CreateTenantRequest]) (*connect.Response[silov1.CreateTenantResponse], error) {
	name, err := normalizeName(req.Msg.GetName())
	if err != nil {
		return nil, err
	}
	slug, err := normalizeSlug(req.Msg.GetSlug())
	if err != nil {
		return nil, err
	}
	config, err := encodeConfig(req.Msg.GetConfig())
	if err != nil {
		return nil, err
	}
	owner := actor(ctx)
	if req.Msg.GetOwnerUserId() != "" {
		if owner, err = validateUserID("owner_user_id", req.Msg.GetOwnerUserId()); err != nil {
			return nil, err
		}
	}

	t, err := s.createTenant(ctx, name, slug, config, owner)
	if err != nil {
		return nil, s.toConnectError(ctx, req.Spec().Procedure, err)
	}
	s.logger.InfoContext(ctx, "tenant created", "tenant_id", t.ID, "slug", t.Slug)

	t, err = s.waitProvisioned(ctx, t)
	if err != nil {
		return nil, s.toConnectError(ctx, req.Spec().Procedure, err)
	}
	out, err := tenantToProto(t)
	if err != nil {
		return nil, s.toConnectError(ctx, req.Spec().Procedure, err)
	}

	return connect.NewResponse(&silov1.CreateTenantResponse{Tenant: out}), nil
}

func (s *Service) createTenant(ctx context.Context, name, slug string, config []byte, owner string) (catalog.Tenant, error) {
	id := uuid.New()
	password, err := secret.NewPassword()
	if err != nil {
		return catalog.Tenant{}, err
	}
	sealed, err := s.box.Seal([]byte(password), id[:])
	if err != nil {
		return catalog.Tenant{}, fmt.Errorf("encrypt role password: %w", err)
	}
	server, err := s.store.PlaceTenant(ctx)
	if err != nil {
		return catalog.Tenant{}, err
	}

	return s.store.CreateTenant(ctx, catalog.Tenant{
		ID:                    id,
		Name:                  name,
		Slug:                  slug,
		Config:                config,
		ServerID:              server.ID,
		DatabaseName:          catalog.ObjectName(id),
		RoleName:              catalog.ObjectName(id),
		RolePasswordEncrypted: sealed,
	}, owner, actor(ctx), func(ctx context.Context, tx pgx.Tx) error {
		return s.jobs.EnqueueProvision(ctx, tx, id)
	})
}

// waitProvisioned polls the tenant until it leaves provisioning, or until
// the provisioning timeout or the caller's deadline (less a margin) comes,
// and returns the tenant as last read.
func (s *Service) waitProvisioned(ctx context.Context, t catalog.Tenant) (catalog.Tenant, error) {
	until := time.Now().Add(s.opts.ProvisionTimeout)
	if deadline, ok := ctx.Deadline(); ok && deadline.Add(-deadlineMargin).Before(until) {
		until = deadline.Add(-deadlineMargin)
	}

	ticker := time.NewTicker(s.opts.PollInterval)
	defer ticker.Stop()
	for t.Status == catalog.StatusProvisioning && time.Now().Before(until) {
		select {
		case <-ctx.Done():
			return catalog.Tenant{}, ctx.Err()
		case <-ticker.C:
		}

		var err error
		t, err = s.store.GetTenant(ctx, t.ID)
		if err != nil {
			return catalog.Tenant{}, err
		}
	}

	return t, nil
}
