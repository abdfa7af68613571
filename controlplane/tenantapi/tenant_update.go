package tenantapi

import (
	"context"
	"errors"

	"connectrpc.com/connect"

	"silo.dev/silo/controlplane/catalog"
	silov1 "silo.dev/silo/gen/silo/v1"
)

// UpdateTenant changes the fields named in update_mask and returns the
// tenant as saved.
func (s *Service) UpdateTenant(ctx context.Context, req *connect.Request[silov1.UpdateTenantRequest]) (*connect.Response[silov1.UpdateTenantResponse], error) {
	tenant := req.Msg.GetTenant()
	if tenant == nil {
		return nil, invalid("tenant: required")
	}
	id, err := s.tenantIDParam(ctx, "tenant.id", tenant.GetId())
	if err != nil {
		return nil, err
	}
	paths := req.Msg.GetUpdateMask().GetPaths()
	if len(paths) == 0 {
		return nil, invalid("update_mask: required; name the fields to change: name, slug or config")
	}

	var update catalog.TenantUpdate
	for _, path := range paths {
		switch path {
		case "name":
			name, err := normalizeName(tenant.GetName())
			if err != nil {
				return nil, err
			}
			update.Name = &name
		case "slug":
			if !callerFrom(ctx).Admin {
				return nil, connect.NewError(connect.CodePermissionDenied,
					errors.New("only platform administrators may change a tenant's slug"))
			}
			slug, err := normalizeSlug(tenant.GetSlug())
			if err != nil {
				return nil, err
			}
			update.Slug = &slug
		case "config":
			update.Config, err = encodeConfig(tenant.GetConfig())
			if err != nil {
				return nil, err
			}
		default:
			return nil, invalid("update_mask: %q cannot be updated; use name, slug or config", path)
		}
	}

	t, err := s.store.UpdateTenant(ctx, id, update, actor(ctx))
	if errors.Is(err, catalog.ErrNotFound) {
		err = notFound(tenant.GetId())
	}
	if err != nil {
		return nil, s.toConnectError(ctx, req.Spec().Procedure, err)
	}
	out, err := tenantToProto(t)
	if err != nil {
		return nil, s.toConnectError(ctx, req.Spec().Procedure, err)
	}

	return connect.NewResponse(&silov1.UpdateTenantResponse{Tenant: out}), nil
}
