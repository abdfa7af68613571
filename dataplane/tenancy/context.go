package tenancy

import (
	"context"
	"errors"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"silo.dev/silo/controlplane/catalog"
)

// ErrNoTenant is returned by Pool for a context that carries no tenant:
// the handler runs outside the tenancy interceptor, which is a bug, never a
// reason to fall back to another database.
var ErrNoTenant = errors.New("no tenant in context")

// Tenant is the tenant a request acts on, as resolved by the interceptor.
type Tenant struct {
	ID   uuid.UUID
	Slug string
	// Role is the caller's role in the tenant.
	Role catalog.Role
}

// Lease holds a tenant's pool open until Release.
type Lease interface {
	Pool() *pgxpool.Pool
	Release()
}

// scope is the request's tenant and pool lease, stored in the context by
// the interceptor.
type scope struct {
	tenant  Tenant
	lease   Lease
	acquire func(context.Context) (Lease, error)
}

type scopeKey struct{}

// withScope returns ctx carrying the tenant and its leased pool.
func withScope(ctx context.Context, s *scope) context.Context {
	return context.WithValue(ctx, scopeKey{}, s)
}

func scopeFrom(ctx context.Context) (*scope, bool) {
	s, ok := ctx.Value(scopeKey{}).(*scope)
	return s, ok && s != nil
}

// FromContext returns the request's tenant.
func FromContext(ctx context.Context) (Tenant, bool) {
	s, ok := scopeFrom(ctx)
	if !ok {
		return Tenant{}, false
	}

	return s.tenant, true
}

// Pool returns the request's tenant's pool, or ErrNoTenant.
func Pool(ctx context.Context) (*pgxpool.Pool, error) {
	s, ok := scopeFrom(ctx)
	if !ok {
		return nil, ErrNoTenant
	}

	return s.lease.Pool(), nil
}

// Detach returns a context for work that outlives the request, such as a
// goroutine a handler starts. The context carries the same tenant and is
// not canceled with the request. It holds a lease of its own on the
// tenant's pool until release is called, exactly once, when the work ends.
func Detach(ctx context.Context) (detached context.Context, release func(), err error) {
	s, ok := scopeFrom(ctx)
	if !ok {
		return nil, nil, ErrNoTenant
	}

	lease, err := s.acquire(ctx)
	if err != nil {
		return nil, nil, err
	}
	child := &scope{tenant: s.tenant, lease: lease, acquire: s.acquire}

	return withScope(context.WithoutCancel(ctx), child), lease.Release, nil
}
