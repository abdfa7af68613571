// Package tenantapi serves silo.v1.TenantService over Connect, gRPC and
// REST: it validates requests, calls the catalog and the job queue, and
// chooses the Connect error code for every failure.
package tenantapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"silo.dev/silo/controlplane/catalog"
	"silo.dev/silo/gen/silo/v1/silov1connect"
	"silo.dev/silo/internal/secret"
)

// Jobs enqueues provisioning and purge jobs inside catalog transactions.
type Jobs interface {
	EnqueueProvision(ctx context.Context, tx pgx.Tx, id uuid.UUID) error
	EnqueuePurge(ctx context.Context, tx pgx.Tx, id uuid.UUID, at time.Time) error
}

// TokenIssuer signs the tenant-scoped tokens SwitchTenant returns.
type TokenIssuer interface {
	TenantToken(subject, tenantID string, ttl time.Duration) (token string, expires time.Time, err error)
}

// Options are the service's settings.
type Options struct {
	// TenantTokenTTL is the lifetime of tokens SwitchTenant returns.
	TenantTokenTTL time.Duration
	// DeleteGracePeriod is the time between DeleteTenant and the purge.
	DeleteGracePeriod time.Duration
	// ProvisionTimeout is the longest CreateTenant waits for provisioning.
	ProvisionTimeout time.Duration
	// PollInterval is how often CreateTenant reads the tenant's status
	// while it waits; 0 means 20ms.
	PollInterval time.Duration
}

// Service implements silov1connect.TenantServiceHandler.
type Service struct {
	store  *catalog.Store
	jobs   Jobs
	box    *secret.Box
	tokens TokenIssuer
	opts   Options
	logger *slog.Logger
}

var _ silov1connect.TenantServiceHandler = (*Service)(nil)

// New returns the tenant service. Its handlers expect the interceptor from
// Interceptor in front of them.
func New(store *catalog.Store, jobs Jobs, box *secret.Box, tokens TokenIssuer, opts Options, logger *slog.Logger) *Service {
	if opts.PollInterval <= 0 {
		opts.PollInterval = 20 * time.Millisecond
	}

	return &Service{store: store, jobs: jobs, box: box, tokens: tokens, opts: opts, logger: logger}
}

// toConnectError maps an error from the catalog or the job queue to the
// Connect error returned to the client. Errors without a mapping become Internal
// with a generic message, and their details go to the log only.
func (s *Service) toConnectError(ctx context.Context, procedure string, err error) error {
	var connectErr *connect.Error
	var statusErr *catalog.StatusError
	switch {
	case errors.As(err, &connectErr):
		return connectErr
	case errors.Is(err, catalog.ErrUserExists):
		return connect.NewError(connect.CodeAlreadyExists, errors.New("user is already a member of the tenant; use UpdateTenantUser to change the role"))
	case errors.Is(err, catalog.ErrLastOwner):
		return connect.NewError(connect.CodeFailedPrecondition, errors.New("a tenant must keep at least one owner; make another user owner first"))
	case errors.Is(err, catalog.ErrSlugTaken):
		return connect.NewError(connect.CodeAlreadyExists, errors.New("slug is taken by another tenant; choose another slug"))
	case errors.As(err, &statusErr):
		return connect.NewError(connect.CodeFailedPrecondition, statusErr)
	case errors.Is(err, catalog.ErrNoServer):
		return connect.NewError(connect.CodeResourceExhausted, errors.New("no database server has room for another tenant; register a server or raise a capacity"))
	case errors.Is(err, context.DeadlineExceeded):
		return connect.NewError(connect.CodeDeadlineExceeded, errors.New("request timed out"))
	case errors.Is(err, context.Canceled):
		return connect.NewError(connect.CodeCanceled, errors.New("request canceled"))
	}

	s.logger.ErrorContext(ctx, "request failed", "procedure", procedure, "error", err)

	return connect.NewError(connect.CodeInternal, errors.New("internal error"))
}

func notFound(key string) error {
	return connect.NewError(connect.CodeNotFound, fmt.Errorf("tenant %q not found", key))
}

func invalid(format string, args ...any) error {
	return connect.NewError(connect.CodeInvalidArgument, fmt.Errorf(format, args...))
}
