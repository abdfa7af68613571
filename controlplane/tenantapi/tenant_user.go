package tenantapi

import (
	"context"
	"errors"
	"fmt"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"silo.dev/silo/controlplane/catalog"
	silov1 "silo.dev/silo/gen/silo/v1"
)

var roleToProto = map[catalog.Role]silov1.TenantRole{
	catalog.RoleOwner:  silov1.TenantRole_TENANT_ROLE_OWNER,
	catalog.RoleAdmin:  silov1.TenantRole_TENANT_ROLE_ADMIN,
	catalog.RoleMember: silov1.TenantRole_TENANT_ROLE_MEMBER,
	catalog.RoleViewer: silov1.TenantRole_TENANT_ROLE_VIEWER,
}

func roleFromProto(r silov1.TenantRole) (catalog.Role, error) {
	for role, value := range roleToProto {
		if value == r {
			return role, nil
		}
	}

	return "", invalid("role: missing or unknown; use TENANT_ROLE_OWNER, TENANT_ROLE_ADMIN, TENANT_ROLE_MEMBER or TENANT_ROLE_VIEWER")
}

func tenantUserToProto(u catalog.TenantUser) *silov1.TenantUser {
	return &silov1.TenantUser{
		TenantId:  u.TenantID.String(),
		UserId:    u.UserID,
		Role:      roleToProto[u.Role],
		CreatedAt: timestamppb.New(u.CreatedAt),
	}
}

// requireOwnerFor refuses a change that grants or revokes the owner role
// unless the caller is an owner.
func requireOwnerFor(ctx context.Context, roles ...catalog.Role) error {
	for _, role := range roles {
		if role == catalog.RoleOwner && callerFrom(ctx).Role != catalog.RoleOwner {
			return connect.NewError(connect.CodePermissionDenied, errors.New("only owners may grant or revoke the owner role"))
		}
	}

	return nil
}

// AddTenantUser makes a user a member of the tenant.
func (s *Service) AddTenantUser(ctx context.Context, req *connect.Request[silov1.AddTenantUserRequest]) (*connect.Response[silov1.AddTenantUserResponse], error) {
	tenantID, err := s.tenantIDParam(ctx, "tenant_id", req.Msg.GetTenantId())
	if err != nil {
		return nil, err
	}
	userID, err := validateUserID("user_id", req.Msg.GetUserId())
	if err != nil {
		return nil, err
	}
	role, err := roleFromProto(req.Msg.GetRole())
	if err != nil {
		return nil, err
	}
	if err := requireOwnerFor(ctx, role); err != nil {
		return nil, err
	}

	added, err := s.store.AddTenantUser(ctx, tenantID, userID, role, actor(ctx))
	if errors.Is(err, catalog.ErrNotFound) {
		err = notFound(req.Msg.GetTenantId())
	}
	if err != nil {
		return nil, s.toConnectError(ctx, req.Spec().Procedure, err)
	}
	s.logger.InfoContext(ctx, "tenant user added", "tenant_id", tenantID, "user_id", userID, "role", role)

	return connect.NewResponse(&silov1.AddTenantUserResponse{TenantUser: tenantUserToProto(added)}), nil
}

// UpdateTenantUser changes a member's role.
func (s *Service) UpdateTenantUser(ctx context.Context, req *connect.Request[silov1.UpdateTenantUserRequest]) (*connect.Response[silov1.UpdateTenantUserResponse], error) {
	tenantID, err := s.tenantIDParam(ctx, "tenant_id", req.Msg.GetTenantId())
	if err != nil {
		return nil, err
	}
	userID, err := validateUserID("user_id", req.Msg.GetUserId())
	if err != nil {
		return nil, err
	}
	role, err := roleFromProto(req.Msg.GetRole())
	if err != nil {
		return nil, err
	}

	updated, err := s.store.UpdateTenantUser(ctx, tenantID, userID, role, actor(ctx), func(current catalog.Role) error {
		return requireOwnerFor(ctx, current, role)
	})
	if errors.Is(err, catalog.ErrNotFound) {
		err = userNotFound(userID, req.Msg.GetTenantId())
	}
	if err != nil {
		return nil, s.toConnectError(ctx, req.Spec().Procedure, err)
	}
	s.logger.InfoContext(ctx, "tenant user updated", "tenant_id", tenantID, "user_id", userID, "role", role)

	return connect.NewResponse(&silov1.UpdateTenantUserResponse{TenantUser: tenantUserToProto(updated)}), nil
}

// RemoveTenantUser ends a membership.
func (s *Service) RemoveTenantUser(ctx context.Context, req *connect.Request[silov1.RemoveTenantUserRequest]) (*connect.Response[silov1.RemoveTenantUserResponse], error) {
	tenantID, err := s.tenantIDParam(ctx, "tenant_id", req.Msg.GetTenantId())
	if err != nil {
		return nil, err
	}
	userID, err := validateUserID("user_id", req.Msg.GetUserId())
	if err != nil {
		return nil, err
	}

	err = s.store.RemoveTenantUser(ctx, tenantID, userID, actor(ctx), func(current catalog.Role) error {
		return requireOwnerFor(ctx, current)
	})
	if errors.Is(err, catalog.ErrNotFound) {
		err = userNotFound(userID, req.Msg.GetTenantId())
	}
	if err != nil {
		return nil, s.toConnectError(ctx, req.Spec().Procedure, err)
	}
	s.logger.InfoContext(ctx, "tenant user removed", "tenant_id", tenantID, "user_id", userID)

	return connect.NewResponse(&silov1.RemoveTenantUserResponse{}), nil
}

// ListTenantUsers returns one page of the tenant's members ordered by user
// id.
func (s *Service) ListTenantUsers(ctx context.Context, req *connect.Request[silov1.ListTenantUsersRequest]) (*connect.Response[silov1.ListTenantUsersResponse], error) {
	tenantID, err := s.tenantIDParam(ctx, "tenant_id", req.Msg.GetTenantId())
	if err != nil {
		return nil, err
	}
	size, err := pageSize(req.Msg.GetPageSize())
	if err != nil {
		return nil, err
	}
	after, err := decodeStringToken(req.Msg.GetPageToken())
	if err != nil {
		return nil, err
	}

	users, err := s.store.ListTenantUsers(ctx, tenantID, after, size+1)
	if err != nil {
		return nil, s.toConnectError(ctx, req.Spec().Procedure, err)
	}

	resp := &silov1.ListTenantUsersResponse{}
	if len(users) > size {
		users = users[:size]
		resp.NextPageToken = encodeStringToken(users[size-1].UserID)
	}
	for _, u := range users {
		resp.TenantUsers = append(resp.TenantUsers, tenantUserToProto(u))
	}

	return connect.NewResponse(resp), nil
}

func userNotFound(userID, tenantRef string) error {
	return connect.NewError(connect.CodeNotFound, fmt.Errorf("user %q is not a member of tenant %q", userID, tenantRef))
}
