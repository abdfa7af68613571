package tenantapi

import (
	"context"
	"errors"
	"strings"

	"connectrpc.com/connect"

	"silo.dev/silo/controlplane/catalog"
	silov1 "silo.dev/silo/gen/silo/v1"
)

// GetTenant returns one tenant by id or by slug.
func (s *Service) GetTenant(ctx context.Context, req *connect.Request[silov1.GetTenantRequest]) (*connect.Response[silov1.GetTenantResponse], error) {
	id, slug := req.Msg.GetId(), strings.ToLower(strings.TrimSpace(req.Msg.GetSlug()))

	var t catalog.Tenant
	var err error
	switch {
	case id != "" && slug != "":
		return nil, invalid("id and slug: set only one of them")
	case id != "":
		t, err = s.loadTenant(ctx, id)
	case slug != "":
		t, err = s.store.GetTenantBySlug(ctx, slug)
		if errors.Is(err, catalog.ErrNotFound) {
			err = notFound(slug)
		}
	default:
		return nil, invalid("id or slug: required")
	}
	if err != nil {
		return nil, s.toConnectError(ctx, req.Spec().Procedure, err)
	}

	out, err := tenantToProto(t)
	if err != nil {
		return nil, s.toConnectError(ctx, req.Spec().Procedure, err)
	}

	return connect.NewResponse(&silov1.GetTenantResponse{Tenant: out}), nil
}

// ListTenants returns one page of tenants ordered by creation time, then
// id.
func (s *Service) ListTenants(ctx context.Context, req *connect.Request[silov1.ListTenantsRequest]) (*connect.Response[silov1.ListTenantsResponse], error) {
	size, err := pageSize(req.Msg.GetPageSize())
	if err != nil {
		return nil, err
	}
	status, err := statusFromProto(req.Msg.GetStatus())
	if err != nil {
		return nil, err
	}
	after, err := decodePageToken(req.Msg.GetPageToken(), status)
	if err != nil {
		return nil, err
	}

	// One extra row shows whether another page follows.
	tenants, err := s.store.ListTenants(ctx, catalog.ListParams{Status: status, After: after, Limit: size + 1})
	if err != nil {
		return nil, s.toConnectError(ctx, req.Spec().Procedure, err)
	}

	resp := &silov1.ListTenantsResponse{}
	if len(tenants) > size {
		tenants = tenants[:size]
		resp.NextPageToken = encodePageToken(tenants[size-1], status)
	}
	for _, t := range tenants {
		out, err := tenantToProto(t)
		if err != nil {
			return nil, s.toConnectError(ctx, req.Spec().Procedure, err)
		}
		resp.Tenants = append(resp.Tenants, out)
	}

	return connect.NewResponse(resp), nil
}

// loadTenant returns the tenant named by id, a UUID or a slug, or a
// Connect error for a malformed or unknown one.
func (s *Service) loadTenant(ctx context.Context, id string) (catalog.Tenant, error) {
	parsed, err := s.tenantIDParam(ctx, "id", id)
	if err != nil {
		return catalog.Tenant{}, err
	}
	t, err := s.store.GetTenant(ctx, parsed)
	if errors.Is(err, catalog.ErrNotFound) {
		return catalog.Tenant{}, notFound(id)
	}

	return t, err
}
