package tenantapi

import (
	"context"
	"errors"
	"fmt"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"google.golang.org/protobuf/types/known/timestamppb"

	"silo.dev/silo/controlplane/catalog"
	silov1 "silo.dev/silo/gen/silo/v1"
)

// ListMyTenants returns the caller's tenants with the caller's role in each.
func (s *Service) ListMyTenants(ctx context.Context, req *connect.Request[silov1.ListMyTenantsRequest]) (*connect.Response[silov1.ListMyTenantsResponse], error) {
	memberships, err := s.store.ListMemberships(ctx, actor(ctx))
	if err != nil {
		return nil, s.toConnectError(ctx, req.Spec().Procedure, err)
	}

	resp := &silov1.ListMyTenantsResponse{}
	for _, m := range memberships {
		out, err := tenantToProto(m.Tenant)
		if err != nil {
			return nil, s.toConnectError(ctx, req.Spec().Procedure, err)
		}
		resp.Memberships = append(resp.Memberships, &silov1.Membership{Tenant: out, Role: roleToProto[m.Role]})
	}

	return connect.NewResponse(resp), nil
}

// SwitchTenant makes a tenant the caller's active tenant and returns a
// token scoped to it.
func (s *Service) SwitchTenant(ctx context.Context, req *connect.Request[silov1.SwitchTenantRequest]) (*connect.Response[silov1.SwitchTenantResponse], error) {
	ref := req.Msg.GetTenantId()
	if ref == "" {
		return nil, invalid("tenant_id: required; give the tenant's UUID or slug")
	}
	t, role, err := s.memberTenant(ctx, ref)
	if err != nil {
		return nil, s.toConnectError(ctx, req.Spec().Procedure, err)
	}
	if t.Status != catalog.StatusActive {
		return nil, connect.NewError(connect.CodeFailedPrecondition,
			fmt.Errorf("tenant %q is %s; only active tenants can be switched to", ref, t.Status))
	}

	subject := actor(ctx)
	if err := s.store.SetActiveTenant(ctx, subject, t.ID); err != nil {
		return nil, s.toConnectError(ctx, req.Spec().Procedure, err)
	}
	token, expires, err := s.tokens.TenantToken(subject, t.ID.String(), s.opts.TenantTokenTTL)
	if err != nil {
		return nil, s.toConnectError(ctx, req.Spec().Procedure, err)
	}
	s.logger.InfoContext(ctx, "tenant switched", "tenant_id", t.ID, "user_id", subject)

	out, err := tenantToProto(t)
	if err != nil {
		return nil, s.toConnectError(ctx, req.Spec().Procedure, err)
	}

	return connect.NewResponse(&silov1.SwitchTenantResponse{
		Tenant:         out,
		Role:           roleToProto[role],
		Token:          token,
		TokenExpiresAt: timestamppb.New(expires),
	}), nil
}

// GetCurrentTenant returns the caller's active tenant.
func (s *Service) GetCurrentTenant(ctx context.Context, req *connect.Request[silov1.GetCurrentTenantRequest]) (*connect.Response[silov1.GetCurrentTenantResponse], error) {
	noneSelected := connect.NewError(connect.CodeNotFound,
		errors.New("no active tenant; call SwitchTenant (POST /api/v1/tenants/switch) with a tenant from ListMyTenants"))

	id, err := s.store.GetActiveTenant(ctx, actor(ctx))
	if errors.Is(err, catalog.ErrNotFound) {
		return nil, noneSelected
	}
	if err != nil {
		return nil, s.toConnectError(ctx, req.Spec().Procedure, err)
	}
	t, role, err := s.memberTenant(ctx, id.String())
	if connect.CodeOf(err) == connect.CodeNotFound {
		return nil, noneSelected
	}
	if err != nil {
		return nil, s.toConnectError(ctx, req.Spec().Procedure, err)
	}

	out, err := tenantToProto(t)
	if err != nil {
		return nil, s.toConnectError(ctx, req.Spec().Procedure, err)
	}

	return connect.NewResponse(&silov1.GetCurrentTenantResponse{Tenant: out, Role: roleToProto[role]}), nil
}

// memberTenant returns the tenant named by ref (UUID or slug) and the
// caller's role in it. A tenant that does not exist, is purged, or that the
// caller does not belong to is NotFound.
func (s *Service) memberTenant(ctx context.Context, ref string) (catalog.Tenant, catalog.Role, error) {
	id, err := s.resolveTenantID(ctx, ref)
	if errors.Is(err, catalog.ErrNotFound) {
		return catalog.Tenant{}, "", notFound(ref)
	}
	if err != nil {
		return catalog.Tenant{}, "", err
	}

	role, err := s.store.GetMembership(ctx, id, actor(ctx))
	if errors.Is(err, catalog.ErrNotFound) {
		return catalog.Tenant{}, "", notFound(ref)
	}
	if err != nil {
		return catalog.Tenant{}, "", err
	}
	t, err := s.store.GetTenant(ctx, id)
	if errors.Is(err, catalog.ErrNotFound) || t.Status == catalog.StatusDeleted {
		return catalog.Tenant{}, "", notFound(ref)
	}
	if err != nil {
		return catalog.Tenant{}, "", err
	}

	return t, role, nil
}

// tenantIDParam returns the id of the tenant named in field, by UUID or
// slug.
func (s *Service) tenantIDParam(ctx context.Context, field, ref string) (uuid.UUID, error) {
	if ref == "" {
		return uuid.Nil, invalid("%s: required", field)
	}
	if c := callerFrom(ctx); c.tenantRef == ref && c.tenantID != uuid.Nil {
		return c.tenantID, nil
	}
	id, err := s.resolveTenantID(ctx, ref)
	if errors.Is(err, catalog.ErrNotFound) {
		return uuid.Nil, notFound(ref)
	}

	return id, err
}
