// Package ticketapi serves silo.v1.TicketService and silo.v1.WorkflowService
// over Connect, gRPC and REST from each tenant's own database. It validates
// requests, runs the SQL against the pool that tenancy.Pool returns for the
// request, and chooses the Connect error code for every failure. The
// tenancy interceptor resolves the tenant and enforces role rules before
// any handler here runs.
package ticketapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"connectrpc.com/connect"
	"github.com/jackc/pgx/v5/pgxpool"

	"silo.dev/silo/dataplane/tenancy"
	"silo.dev/silo/gen/silo/v1/silov1connect"
)

// Service implements silov1connect.TicketServiceHandler and
// silov1connect.WorkflowServiceHandler.
type Service struct {
	logger *slog.Logger
}

var (
	_ silov1connect.TicketServiceHandler   = (*Service)(nil)
	_ silov1connect.WorkflowServiceHandler = (*Service)(nil)
)

// New returns the ticket and workflow service. Its handlers expect the
// tenancy interceptor in front of them and fail with CodeInternal without
// it.
func New(logger *slog.Logger) *Service {
	return &Service{logger: logger}
}

// pool returns the pool of the request's tenant. A missing tenant means the
// handler runs without the tenancy interceptor, a wiring bug, so the client
// gets CodeInternal and the log gets the details.
func (s *Service) pool(ctx context.Context, procedure string) (*pgxpool.Pool, error) {
	pool, err := tenancy.Pool(ctx)
	if err != nil {
		return nil, s.toConnectError(ctx, procedure, fmt.Errorf("get tenant pool: %w", err))
	}

	return pool, nil
}

// toConnectError maps an error to the Connect error the client receives.
// Errors without a mapping become CodeInternal with a generic message, and
// their details, which may contain SQL or connection details, go to the log
// only.
func (s *Service) toConnectError(ctx context.Context, procedure string, err error) error {
	var connectErr *connect.Error
	switch {
	case errors.As(err, &connectErr):
		return connectErr
	case errors.Is(err, context.DeadlineExceeded):
		return connect.NewError(connect.CodeDeadlineExceeded, errors.New("request timed out"))
	case errors.Is(err, context.Canceled):
		return connect.NewError(connect.CodeCanceled, errors.New("request canceled"))
	}

	s.logError(ctx, procedure, err)

	return connect.NewError(connect.CodeInternal, errors.New("internal error"))
}

// logError writes one log line for an error the client does not see in
// full.
func (s *Service) logError(ctx context.Context, procedure string, err error) {
	attrs := append(s.requestAttrs(ctx, procedure), "error", err)
	s.logger.ErrorContext(ctx, "request failed", attrs...)
}

// requestAttrs returns the log attributes that identify a request: the
// procedure and, when the context has one, the tenant.
func (s *Service) requestAttrs(ctx context.Context, procedure string) []any {
	attrs := []any{"procedure", procedure}
	if tenant, ok := tenancy.FromContext(ctx); ok {
		attrs = append(attrs, "tenant_id", tenant.ID.String())
	}

	return attrs
}

func invalid(format string, args ...any) error {
	return connect.NewError(connect.CodeInvalidArgument, fmt.Errorf(format, args...))
}

func notFound(kind, id string) error {
	return connect.NewError(connect.CodeNotFound, fmt.Errorf("%s %q not found", kind, id))
}
