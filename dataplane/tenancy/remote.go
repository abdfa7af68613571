package tenancy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"silo.dev/silo/controlplane/catalog"
	controlplanev1 "silo.dev/silo/gen/silo/controlplane/v1"
	"silo.dev/silo/gen/silo/controlplane/v1/controlplanev1connect"
	"silo.dev/silo/internal/secret"
)

// remoteCallTimeout bounds each unary call to the control plane. A control
// plane that accepts connections but does not respond then counts as
// unreachable, so CachedDirectory serves stale entries instead of waiting
// for the request's own deadline.
const remoteCallTimeout = 5 * time.Second

// sslModes are the sslmode values GetConnection may return.
var sslModes = map[string]bool{
	"disable": true, "allow": true, "prefer": true,
	"require": true, "verify-ca": true, "verify-full": true,
}

// NewCatalogClient returns a CatalogService client for the control plane
// at baseURL that sends token as its bearer token on every call.
func NewCatalogClient(httpClient connect.HTTPClient, baseURL, token string) controlplanev1connect.CatalogServiceClient {
	return controlplanev1connect.NewCatalogServiceClient(httpClient, baseURL,
		connect.WithInterceptors(serviceToken{header: "Bearer " + token}))
}

// serviceToken is a client interceptor that sends the service token.
type serviceToken struct {
	header string
}

func (s serviceToken) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		req.Header().Set("Authorization", s.header)
		return next(ctx, req)
	}
}

func (s serviceToken) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return func(ctx context.Context, spec connect.Spec) connect.StreamingClientConn {
		conn := next(ctx, spec)
		conn.RequestHeader().Set("Authorization", s.header)
		return conn
	}
}

func (s serviceToken) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}

// RemoteDirectory reads the catalog through the control plane's
// CatalogService, as a data plane started with --role dataplane does.
// NotFound responses become ErrNotFound. Every other failure is an error that
// is neither ErrNotFound nor a context error (unless ctx itself ended), so
// CachedDirectory treats it as an unreachable catalog.
type RemoteDirectory struct {
	client controlplanev1connect.CatalogServiceClient
	box    *secret.Box
}

// NewRemoteDirectory returns a directory that calls client. box opens the
// sealed role passwords, so it must use the control plane's
// SILO_ENCRYPTION_KEY.
func NewRemoteDirectory(client controlplanev1connect.CatalogServiceClient, box *secret.Box) *RemoteDirectory {
	return &RemoteDirectory{client: client, box: box}
}

// call runs one unary call with remoteCallTimeout and maps its error.
func call[Req, Res any](ctx context.Context, operation string, fn func(context.Context, *connect.Request[Req]) (*connect.Response[Res], error), msg *Req) (*Res, error) {
	callCtx, cancel := context.WithTimeout(ctx, remoteCallTimeout)
	defer cancel()

	resp, err := fn(callCtx, connect.NewRequest(msg))
	switch {
	case err == nil:
		return resp.Msg, nil
	case connect.CodeOf(err) == connect.CodeNotFound:
		return nil, ErrNotFound
	case ctx.Err() != nil:
		return nil, fmt.Errorf("%s: %w", operation, ctx.Err())
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		// The caller's context is alive, so the control plane timed out.
		// The error must not match context errors, which CachedDirectory
		// returns as they are instead of serving a stale entry.
		return nil, fmt.Errorf("%s: control plane timed out after %s; check that it is running and reachable", operation, remoteCallTimeout)
	}

	return nil, fmt.Errorf("%s through the control plane: %w", operation, err)
}

func recordFrom(resp *controlplanev1.ResolveTenantResponse) (Record, error) {
	id, err := uuid.Parse(resp.GetTenantId())
	if err != nil {
		return Record{}, fmt.Errorf("resolve tenant: control plane sent invalid tenant id %q", resp.GetTenantId())
	}

	return Record{ID: id, Slug: resp.GetSlug(), Status: catalog.Status(resp.GetStatus())}, nil
}

// Lookup implements Directory.
func (d *RemoteDirectory) Lookup(ctx context.Context, id uuid.UUID) (Record, error) {
	resp, err := call(ctx, "resolve tenant "+id.String(), d.client.ResolveTenant,
		&controlplanev1.ResolveTenantRequest{Tenant: &controlplanev1.ResolveTenantRequest_Id{Id: id.String()}})
	if err != nil {
		return Record{}, err
	}

	return recordFrom(resp)
}

// LookupSlug implements Directory.
func (d *RemoteDirectory) LookupSlug(ctx context.Context, slug string) (Record, error) {
	resp, err := call(ctx, fmt.Sprintf("resolve tenant %q", slug), d.client.ResolveTenant,
		&controlplanev1.ResolveTenantRequest{Tenant: &controlplanev1.ResolveTenantRequest_Slug{Slug: slug}})
	if err != nil {
		return Record{}, err
	}

	return recordFrom(resp)
}

// Role implements Directory.
func (d *RemoteDirectory) Role(ctx context.Context, tenantID uuid.UUID, userID string) (catalog.Role, error) {
	resp, err := call(ctx, "get membership in tenant "+tenantID.String(), d.client.GetMembership,
		&controlplanev1.GetMembershipRequest{TenantId: tenantID.String(), UserId: userID})
	if err != nil {
		return "", err
	}

	return catalog.Role(resp.GetRole()), nil
}

// ActiveTenant implements Directory.
func (d *RemoteDirectory) ActiveTenant(ctx context.Context, userID string) (uuid.UUID, error) {
	resp, err := call(ctx, "get active tenant", d.client.GetActiveTenant,
		&controlplanev1.GetActiveTenantRequest{UserId: userID})
	if err != nil {
		return uuid.Nil, err
	}

	id, err := uuid.Parse(resp.GetTenantId())
	if err != nil {
		return uuid.Nil, fmt.Errorf("get active tenant: control plane sent invalid tenant id %q", resp.GetTenantId())
	}

	return id, nil
}

// ConnConfig implements Directory. It opens the sealed role password with
// the tenant id as associated data, and builds the TLS settings from the
// sslmode the control plane uses. Certificate files come from this
// process's PGSSLROOTCERT, PGSSLCERT and PGSSLKEY, as pgx.ParseConfig
// reads them.
func (d *RemoteDirectory) ConnConfig(ctx context.Context, tenantID uuid.UUID) (*pgx.ConnConfig, error) {
	resp, err := call(ctx, "get connection of tenant "+tenantID.String(), d.client.GetConnection,
		&controlplanev1.GetConnectionRequest{TenantId: tenantID.String()})
	if err != nil {
		return nil, err
	}

	if !sslModes[resp.GetSslMode()] {
		return nil, fmt.Errorf("connect to tenant %s: control plane sent unknown sslmode %q", tenantID, resp.GetSslMode())
	}
	if resp.GetHost() == "" || resp.GetPort() == 0 || resp.GetPort() > 65535 {
		return nil, fmt.Errorf("connect to tenant %s: control plane sent invalid address %q port %d", tenantID, resp.GetHost(), resp.GetPort())
	}
	password, err := d.box.Open(resp.GetRolePasswordEncrypted(), tenantID[:])
	if err != nil {
		return nil, fmt.Errorf("decrypt role password of tenant %s (is SILO_ENCRYPTION_KEY the control plane's?): %w", tenantID, err)
	}

	address := url.URL{
		Scheme:   "postgres",
		User:     url.User(resp.GetRole()),
		Host:     net.JoinHostPort(resp.GetHost(), strconv.FormatUint(uint64(resp.GetPort()), 10)),
		Path:     "/" + resp.GetDatabase(),
		RawQuery: url.Values{"sslmode": {resp.GetSslMode()}}.Encode(),
	}
	config, err := pgx.ParseConfig(address.String())
	if err != nil {
		return nil, fmt.Errorf("connect to tenant %s: build connection settings: %w", tenantID, err)
	}
	config.Password = string(password)

	return config, nil
}

// NewCatalogHTTPClient returns an HTTP client for the control plane: the
// default transport with more idle connections per host, because every
// request resolved without the cache makes a call.
func NewCatalogHTTPClient() *http.Client {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = 64

	return &http.Client{Transport: transport}
}
