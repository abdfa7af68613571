package tenantapi

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"connectrpc.com/connect"
	"github.com/google/uuid"

	"silo.dev/silo/controlplane/catalog"
	silov1 "silo.dev/silo/gen/silo/v1"
	"silo.dev/silo/gen/silo/v1/silov1connect"
	"silo.dev/silo/internal/authn"
)

// rule is the set of callers allowed to call one procedure.
type rule struct {
	// tenant returns the tenant (UUID or slug) a request is about; nil for
	// procedures that are not about one tenant.
	tenant func(any) string
	// platformAdmin lets platform administrators call the procedure.
	platformAdmin bool
	// roles lets members of the request's tenant with one of these roles
	// call the procedure.
	roles []catalog.Role
	// anyone lets every authenticated caller call the procedure; the
	// handler limits what it returns to the caller's own tenants.
	anyone bool
}

var (
	everyRole  = []catalog.Role{catalog.RoleOwner, catalog.RoleAdmin, catalog.RoleMember, catalog.RoleViewer}
	manageRole = []catalog.Role{catalog.RoleOwner, catalog.RoleAdmin}
)

// rules is the authorization table of the whole TenantService. A procedure
// without a rule is refused.
var rules = map[string]rule{
	silov1connect.TenantServiceCreateTenantProcedure:  {platformAdmin: true},
	silov1connect.TenantServiceListTenantsProcedure:   {platformAdmin: true},
	silov1connect.TenantServiceGetTenantProcedure:     {tenant: getTenantRef, platformAdmin: true, roles: everyRole},
	silov1connect.TenantServiceUpdateTenantProcedure:  {tenant: updateTenantRef, platformAdmin: true, roles: manageRole},
	silov1connect.TenantServiceSuspendTenantProcedure: {tenant: idRef, platformAdmin: true},
	silov1connect.TenantServiceResumeTenantProcedure:  {tenant: idRef, platformAdmin: true},
	silov1connect.TenantServiceDeleteTenantProcedure:  {tenant: idRef, platformAdmin: true},

	silov1connect.TenantServiceAddTenantUserProcedure:    {tenant: tenantIDRef, roles: manageRole},
	silov1connect.TenantServiceUpdateTenantUserProcedure: {tenant: tenantIDRef, roles: manageRole},
	silov1connect.TenantServiceRemoveTenantUserProcedure: {tenant: tenantIDRef, roles: manageRole},
	silov1connect.TenantServiceListTenantUsersProcedure:  {tenant: tenantIDRef, roles: everyRole},

	silov1connect.TenantServiceListMyTenantsProcedure:    {anyone: true},
	silov1connect.TenantServiceSwitchTenantProcedure:     {anyone: true},
	silov1connect.TenantServiceGetCurrentTenantProcedure: {anyone: true},

	silov1connect.TenantServiceListAuditEventsProcedure: {platformAdmin: true},
}

// Procedures returns the procedures the authorization table covers, so
// tests can check it against the service descriptors.
func Procedures() []string {
	procedures := make([]string, 0, len(rules))
	for procedure := range rules {
		procedures = append(procedures, procedure)
	}
	slices.Sort(procedures)

	return procedures
}

func getTenantRef(msg any) string {
	req := msg.(*silov1.GetTenantRequest)
	if req.GetId() != "" {
		return req.GetId()
	}

	return req.GetSlug()
}

func updateTenantRef(msg any) string { return msg.(*silov1.UpdateTenantRequest).GetTenant().GetId() }

func idRef(msg any) string {
	return msg.(interface{ GetId() string }).GetId()
}

func tenantIDRef(msg any) string {
	return msg.(interface{ GetTenantId() string }).GetTenantId()
}

// callerKey is the context key of the caller's access, set by the
// authorization interceptor for handlers.
type callerKey struct{}

// caller is who called and what they may do in the request's tenant.
type caller struct {
	authn.Principal
	// Role is the caller's role in the request's tenant; empty when the
	// procedure is not about one tenant or the caller is not a member.
	Role catalog.Role
	// tenantRef is the request's tenant as the request names it, and
	// tenantID its id as authorization resolved it; uuid.Nil when the
	// tenant was not found. Handlers reuse the id instead of resolving the
	// slug again.
	tenantRef string
	tenantID  uuid.UUID
}

func callerFrom(ctx context.Context) caller {
	c, _ := ctx.Value(callerKey{}).(caller)

	return c
}

// actor names the caller in audit events.
func actor(ctx context.Context) string {
	return callerFrom(ctx).Subject
}

// Interceptor returns the Connect interceptor that applies the
// authorization table to every TenantService call.
func (s *Service) Interceptor() connect.Interceptor {
	return connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			c, err := s.authorize(ctx, req.Spec().Procedure, req.Any())
			if err != nil {
				return nil, err
			}

			return next(context.WithValue(ctx, callerKey{}, c), req)
		}
	})
}

func (s *Service) authorize(ctx context.Context, procedure string, msg any) (caller, error) {
	principal, ok := authn.FromContext(ctx)
	if !ok {
		return caller{}, connect.NewError(connect.CodeUnauthenticated, errors.New("missing bearer token"))
	}
	c := caller{Principal: principal}
	r, ok := rules[procedure]
	if !ok {
		s.logger.ErrorContext(ctx, "procedure has no authorization rule", "procedure", procedure)
		return caller{}, connect.NewError(connect.CodePermissionDenied, fmt.Errorf("%s is not open to any caller", procedure))
	}

	if principal.TenantID != "" {
		if err := s.checkTenantToken(ctx, principal); err != nil {
			return caller{}, err
		}
	}
	if r.anyone {
		return c, nil
	}

	var tenantRef string
	if r.tenant != nil {
		tenantRef = r.tenant(msg)
	}
	if tenantRef == "" {
		if r.platformAdmin && principal.Admin {
			return c, nil
		}
		if r.tenant != nil {
			// The handler reports the missing field.
			return c, nil
		}
		return caller{}, connect.NewError(connect.CodePermissionDenied, errors.New("only platform administrators may call this procedure"))
	}

	id, role, err := s.membershipRole(ctx, tenantRef, principal.Subject)
	if err != nil {
		return caller{}, err
	}
	c.Role, c.tenantRef, c.tenantID = role, tenantRef, id
	switch {
	case principal.Admin && r.platformAdmin:
		return c, nil
	case role == "":
		// Not a member: the same error as for a tenant that does not
		// exist, so tenant ids and slugs cannot be probed.
		return caller{}, notFound(tenantRef)
	case slices.Contains(r.roles, role):
		return c, nil
	case len(r.roles) == 0:
		return caller{}, connect.NewError(connect.CodePermissionDenied, errors.New("only platform administrators may call this procedure"))
	}

	return caller{}, connect.NewError(connect.CodePermissionDenied,
		fmt.Errorf("your role in tenant %q is %s, which may not call this procedure", tenantRef, role))
}

// membershipRole returns the id of the tenant named by ref (a UUID or a
// slug) and the user's role in it. The id is uuid.Nil when no tenant has
// that slug, and the role is "" when the tenant does not exist or the user
// is not a member. A malformed ref is InvalidArgument.
func (s *Service) membershipRole(ctx context.Context, ref, userID string) (uuid.UUID, catalog.Role, error) {
	id, err := s.resolveTenantID(ctx, ref)
	if errors.Is(err, catalog.ErrNotFound) {
		return uuid.Nil, "", nil
	}
	if err != nil {
		return uuid.Nil, "", err
	}

	role, err := s.store.GetMembership(ctx, id, userID)
	if errors.Is(err, catalog.ErrNotFound) {
		return id, "", nil
	}
	if err != nil {
		return uuid.Nil, "", s.toConnectError(ctx, "authorize", err)
	}

	return id, role, nil
}

// resolveTenantID returns the id of the tenant named by ref, a UUID or a
// slug in any case. An unknown tenant gives catalog.ErrNotFound.
func (s *Service) resolveTenantID(ctx context.Context, ref string) (uuid.UUID, error) {
	if id, err := uuid.Parse(ref); err == nil {
		return id, nil
	}
	slug, err := catalog.NormalizeSlug(ref)
	if err != nil {
		return uuid.Nil, invalid("tenant %q is neither a UUID nor a valid slug: the slug %v", ref, err)
	}

	t, err := s.store.GetTenantBySlug(ctx, slug)
	if err != nil {
		return uuid.Nil, err
	}

	return t.ID, nil
}

// checkTenantToken refuses a tenant-scoped token whose user is no longer a
// member of the token's tenant.
func (s *Service) checkTenantToken(ctx context.Context, p authn.Principal) error {
	id, err := uuid.Parse(p.TenantID)
	if err != nil {
		return connect.NewError(connect.CodeUnauthenticated, errors.New("tenant-scoped token names an invalid tenant"))
	}

	_, err = s.store.GetMembership(ctx, id, p.Subject)
	if errors.Is(err, catalog.ErrNotFound) {
		return connect.NewError(connect.CodeUnauthenticated,
			errors.New("tenant-scoped token is no longer valid: you are not a member of its tenant; switch tenant again"))
	}
	if err != nil {
		return s.toConnectError(ctx, "authorize", err)
	}

	return nil
}
