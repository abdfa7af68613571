package tenancy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"

	"connectrpc.com/connect"
	"github.com/google/uuid"

	"silo.dev/silo/controlplane/catalog"
	"silo.dev/silo/internal/authn"
)

// HeaderTenantID names the request's tenant by UUID or slug.
const HeaderTenantID = "X-Tenant-ID"

// Pools leases tenant pools.
type Pools interface {
	Acquire(ctx context.Context, tenantID uuid.UUID) (Lease, error)
}

// errDenied is the one error for an unknown or purged tenant, a tenant the
// caller does not belong to, and a header that contradicts the caller's
// tenant-scoped token, so that tenants cannot be probed.
var errDenied = connect.NewError(connect.CodePermissionDenied,
	errors.New("tenant not found, or you are not a member of it"))

// errNoTenant is returned to a caller who named no tenant, with the ways
// to name one.
var errNoTenant = connect.NewError(connect.CodeFailedPrecondition,
	errors.New("no tenant selected: send the X-Tenant-ID header with a tenant UUID or slug, "+
		"use the token that SwitchTenant returns, or call SwitchTenant to set your active tenant"))

// Interceptor resolves the tenant of every data plane call, unary and
// streaming, checks that the caller may call the procedure there, and
// passes the tenant and a lease on its pool to the handler.
type Interceptor struct {
	directory Directory
	pools     Pools
	rules     map[string][]catalog.Role
	logger    *slog.Logger
}

var _ connect.Interceptor = (*Interceptor)(nil)

// NewInterceptor returns the interceptor. rules maps each procedure to the
// tenant roles that may call it; a procedure without a rule is refused.
func NewInterceptor(directory Directory, pools Pools, rules map[string][]catalog.Role, logger *slog.Logger) *Interceptor {
	return &Interceptor{directory: directory, pools: pools, rules: rules, logger: logger}
}

// WrapUnary implements connect.Interceptor.
func (i *Interceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		s, err := i.enter(ctx, req.Spec().Procedure, req.Header())
		if err != nil {
			return nil, err
		}
		defer s.lease.Release()

		return next(withScope(ctx, s), req)
	}
}

// WrapStreamingHandler implements connect.Interceptor. A stream outlives
// the checks made when it opened, so when the directory can watch a
// tenant, the stream ends as soon as a change may have withdrawn the
// caller's access. The caller then gets the error a new call would get.
func (i *Interceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		procedure, header := conn.Spec().Procedure, conn.RequestHeader()
		s, err := i.enter(ctx, procedure, header)
		if err != nil {
			return err
		}
		defer s.lease.Release()

		watcher, ok := i.directory.(interface {
			Watch(tenantID uuid.UUID, userID string, changed func()) (stop func())
		})
		if !ok {
			return next(withScope(ctx, s), conn)
		}
		principal, _ := authn.FromContext(ctx)
		streamCtx, cancel := context.WithCancelCause(ctx)
		defer cancel(nil)
		stop := watcher.Watch(s.tenant.ID, principal.Subject, func() { cancel(errAccessChanged) })
		defer stop()

		err = next(withScope(streamCtx, s), conn)
		if !errors.Is(context.Cause(streamCtx), errAccessChanged) || ctx.Err() != nil {
			return err
		}

		return i.recheck(ctx, procedure, header)
	}
}

// errAccessChanged ends a stream whose tenant or membership changed.
var errAccessChanged = errors.New("tenant or membership changed")

// recheck runs the checks of a new call for a stream that a change ended,
// and returns their error, or Unavailable when the caller may still call,
// as after a role change or new database credentials.
func (i *Interceptor) recheck(ctx context.Context, procedure string, header http.Header) error {
	s, err := i.enter(ctx, procedure, header)
	if err != nil {
		return err
	}
	s.lease.Release()

	return connect.NewError(connect.CodeUnavailable, errors.New("your access to the tenant changed while the stream was open; call again"))
}

// WrapStreamingClient implements connect.Interceptor; clients pass through.
func (i *Interceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

// enter decides the request's tenant and leases its pool. No pool is
// opened or leased before the caller is known to be an active member.
func (i *Interceptor) enter(ctx context.Context, procedure string, header http.Header) (*scope, error) {
	principal, ok := authn.FromContext(ctx)
	if !ok {
		return nil, connect.NewError(connect.CodeUnauthenticated, errors.New("missing bearer token"))
	}
	allowed, ok := i.rules[procedure]
	if !ok {
		i.logger.ErrorContext(ctx, "procedure has no tenant role rule", "procedure", procedure)
		return nil, connect.NewError(connect.CodePermissionDenied, fmt.Errorf("%s is not open to any caller", procedure))
	}

	record, err := i.resolve(ctx, principal, header)
	if err != nil {
		return nil, err
	}
	role, err := i.directory.Role(ctx, record.ID, principal.Subject)
	if errors.Is(err, ErrNotFound) {
		return nil, errDenied
	}
	if err != nil {
		return nil, i.unavailable(ctx, record.ID, err)
	}
	if record.Status != catalog.StatusActive {
		return nil, connect.NewError(connect.CodeFailedPrecondition,
			fmt.Errorf("tenant %q is %s; only active tenants are served", record.Slug, record.Status))
	}
	if !slices.Contains(allowed, role) {
		return nil, connect.NewError(connect.CodePermissionDenied,
			fmt.Errorf("your role in tenant %q is %s, which may not call this procedure", record.Slug, role))
	}

	lease, err := i.pools.Acquire(ctx, record.ID)
	if err != nil {
		return nil, i.unavailable(ctx, record.ID, err)
	}
	pools := i.pools
	id := record.ID

	return &scope{
		tenant:  Tenant{ID: record.ID, Slug: record.Slug, Role: role},
		lease:   lease,
		acquire: func(ctx context.Context) (Lease, error) { return pools.Acquire(ctx, id) },
	}, nil
}

// resolve finds the tenant the request names: the X-Tenant-ID header, else
// the tenant of a tenant-scoped token, else the caller's active tenant.
func (i *Interceptor) resolve(ctx context.Context, principal authn.Principal, header http.Header) (Record, error) {
	values := header.Values(HeaderTenantID)
	var record Record
	var err error
	switch {
	case len(values) > 1:
		return Record{}, connect.NewError(connect.CodeInvalidArgument, errors.New("X-Tenant-ID: send the header once"))
	case len(values) == 1:
		record, err = i.lookupRef(ctx, values[0])
	case principal.TenantID != "":
		var id uuid.UUID
		if id, err = uuid.Parse(principal.TenantID); err != nil {
			return Record{}, connect.NewError(connect.CodeUnauthenticated, errors.New("tenant-scoped token names an invalid tenant"))
		}
		record, err = i.directory.Lookup(ctx, id)
	default:
		var id uuid.UUID
		id, err = i.directory.ActiveTenant(ctx, principal.Subject)
		if errors.Is(err, ErrNotFound) {
			return Record{}, errNoTenant
		}
		if err == nil {
			record, err = i.directory.Lookup(ctx, id)
		}
	}

	var connectErr *connect.Error
	switch {
	case errors.As(err, &connectErr):
		return Record{}, err
	case errors.Is(err, ErrNotFound):
		return Record{}, errDenied
	case err != nil:
		return Record{}, i.unavailable(ctx, uuid.Nil, err)
	case len(values) == 1 && principal.TenantID != "" && principal.TenantID != record.ID.String():
		return Record{}, errDenied
	}

	return record, nil
}

// lookupRef resolves the X-Tenant-ID header: a UUID or a slug, in any case.
func (i *Interceptor) lookupRef(ctx context.Context, ref string) (Record, error) {
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return Record{}, connect.NewError(connect.CodeInvalidArgument, errors.New("X-Tenant-ID: empty; send a tenant UUID or slug"))
	}
	if id, err := uuid.Parse(ref); err == nil {
		return i.directory.Lookup(ctx, id)
	}
	slug, err := catalog.NormalizeSlug(ref)
	if err != nil {
		return Record{}, connect.NewError(connect.CodeInvalidArgument,
			fmt.Errorf("X-Tenant-ID: %q is neither a UUID nor a valid slug", ref))
	}

	return i.directory.LookupSlug(ctx, slug)
}

// unavailable logs why a tenant could not be served and returns the
// caller's error. Cancellation is the caller's own doing and is returned
// as such.
func (i *Interceptor) unavailable(ctx context.Context, tenantID uuid.UUID, err error) error {
	switch {
	case errors.Is(err, context.Canceled):
		return connect.NewError(connect.CodeCanceled, err)
	case errors.Is(err, context.DeadlineExceeded):
		return connect.NewError(connect.CodeDeadlineExceeded, err)
	}
	i.logger.ErrorContext(ctx, "tenant unavailable", "tenant_id", tenantID, "error", err)

	return connect.NewError(connect.CodeUnavailable, errors.New("tenant is unavailable; try again shortly"))
}
