// Package silotest starts a complete silo server in process for tests: a
// catalog database of its own on the test cluster, the job queue, and the
// HTTP server on a free loopback port, with Connect clients for it.
package silotest

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"silo.dev/silo/controlplane/provision"
	"silo.dev/silo/gen/silo/v1/silov1connect"
	"silo.dev/silo/internal/authn"
	"silo.dev/silo/internal/config"
	"silo.dev/silo/internal/pgtest"
	"silo.dev/silo/internal/secret"
	"silo.dev/silo/internal/server"
)

// catalogTemplate is the migrated catalog database that each test's
// catalog is cloned from.
const catalogTemplate = "silo_catalog_template"

// Env is one running silo server and what a test needs to talk to it.
type Env struct {
	// URL is the server's base URL, http://127.0.0.1:<port>.
	URL string
	// CatalogURL connects to the test's catalog database as superuser.
	CatalogURL string
	// Catalog is a superuser pool on the test's catalog database.
	Catalog *pgxpool.Pool
	Config  *config.Config
	Server  *server.Server
	// Tenants is a client for the platform administrator AdminSubject.
	Tenants silov1connect.TenantServiceClient
	// Logs holds every record the server logged, as JSON lines.
	Logs *Buffer
}

// Options adjusts Start.
type Options struct {
	// Configure changes the configuration before the server starts.
	Configure func(*config.Config)
	// Prepare runs after the server is built and before it serves, for
	// instance to install a provisioning hook.
	Prepare func(*server.Server)
}

// JobOptions are job queue settings that retry fast, so tests of retries
// finish in seconds.
func JobOptions(logger *slog.Logger) provision.Options {
	opts := provision.DefaultOptions(logger)
	opts.Timeout = 10 * time.Second
	opts.RescueAfter = 11 * time.Second
	opts.MaxAttempts = 5
	opts.RetryBase = 20 * time.Millisecond
	opts.RetryMax = 100 * time.Millisecond
	opts.Workers = 4

	return opts
}

// Config returns a valid configuration for a catalog at catalogURL, with a
// fresh encryption key and a loopback address.
func Config(t testing.TB, catalogURL string) *config.Config {
	t.Helper()

	key, err := secret.NewKey()
	require.NoError(t, err)
	cfg := &config.Config{
		CatalogURL:    catalogURL,
		HTTPAddr:      "127.0.0.1:0",
		EncryptionKey: key.String(),
		Auth: config.Auth{
			AuthIssuer:     "silo-test-users",
			AuthAudience:   "silo-test",
			AuthHMACKey:    randomKey(t),
			AuthAdminClaim: "silo_admin",
		},
		TokenSigningKey:       randomKey(t),
		TokenIssuer:           "silo-test",
		TenantTokenTTL:        15 * time.Minute,
		MaxRequestBytes:       1 << 20,
		PoolCacheSize:         10,
		PoolMaxConns:          4,
		PoolConnectionBudget:  40,
		PoolIdleTTL:           time.Minute,
		ResolveStaleTTL:       time.Minute,
		DeleteGracePeriod:     0,
		ProvisionTimeout:      20 * time.Second,
		TenantConnectionLimit: 20,
		MigrateOnStart:        false,
		JobTimeout:            10 * time.Second,
		JobRescueAfter:        11 * time.Second,
		ProvisionMaxAttempts:  5,
		ShutdownTimeout:       10 * time.Second,
		LogLevel:              slog.LevelDebug,
		LogFormat:             "json",
	}
	require.NoError(t, cfg.Validate())

	return cfg
}

func randomKey(t testing.TB) string {
	t.Helper()

	key, err := secret.NewKey()
	require.NoError(t, err)

	return key.String()
}

// NewCatalog returns the superuser URL of a new, migrated catalog database
// that is dropped when the test ends.
func NewCatalog(t testing.TB) string {
	t.Helper()

	template := pgtest.Template(t, catalogTemplate, func(ctx context.Context, url string) error {
		return server.MigrateURL(ctx, url, slog.New(slog.DiscardHandler))
	})

	return pgtest.NewDatabase(t, template)
}

// Start runs a silo server with role all on a new catalog and stops it when
// the test ends.
func Start(t testing.TB, opts *Options) *Env {
	t.Helper()
	if opts == nil {
		opts = &Options{}
	}

	catalogURL := NewCatalog(t)
	cfg := Config(t, catalogURL)
	if opts.Configure != nil {
		opts.Configure(cfg)
		require.NoError(t, cfg.Validate())
	}

	env := serve(t, cfg, server.RoleAll, opts.Prepare)
	pool, err := pgxpool.New(t.Context(), catalogURL)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	env.Catalog = pool
	env.Tenants = env.Client(env.Token(t, AdminSubject, true))

	return env
}

// serve builds a server with role on cfg, serves it on a free loopback
// port until the test ends, and returns its Env without Catalog and
// Tenants.
func serve(t testing.TB, cfg *config.Config, role server.Role, prepare func(*server.Server)) *Env {
	t.Helper()

	logs := &Buffer{}
	logger := server.NewLogger(logs, cfg)
	jobOpts := JobOptions(logger)
	srv, err := server.New(t.Context(), cfg, role, logger, &server.Options{Jobs: &jobOpts, PollInterval: 10 * time.Millisecond})
	require.NoError(t, err)
	if prepare != nil {
		prepare(srv)
	}

	var lc net.ListenConfig
	listener, err := lc.Listen(t.Context(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.WithoutCancel(t.Context()))
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, listener) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})

	return &Env{
		URL:        "http://" + listener.Addr().String(),
		CatalogURL: cfg.CatalogURL,
		Config:     cfg,
		Server:     srv,
		Logs:       logs,
	}
}

// Split is a control plane and a data plane running as separate servers
// on one catalog, the data plane resolving tenants through the control
// plane's CatalogService.
type Split struct {
	// Control is the --role controlplane server.
	Control *Env
	// Data is the --role dataplane server. Its Tenants client calls the
	// control plane, because the data plane serves no TenantService.
	Data *Env
	// ServiceToken is the SILO_SERVICE_TOKEN both servers share.
	ServiceToken string
}

// SplitOptions adjusts StartSplit.
type SplitOptions struct {
	// ControlPlaneURL returns the URL the data plane uses to reach the
	// control plane at controlURL, for instance through a proxy; nil uses
	// controlURL itself.
	ControlPlaneURL func(controlURL string) string
	// ConfigureData changes the data plane's configuration before it
	// starts.
	ConfigureData func(*config.Config)
}

// StartSplit runs a control plane and a data plane on a new catalog and
// stops them when the test ends.
func StartSplit(t testing.TB, opts *SplitOptions) *Split {
	t.Helper()
	if opts == nil {
		opts = &SplitOptions{}
	}

	catalogURL := NewCatalog(t)
	pool, err := pgxpool.New(t.Context(), catalogURL)
	require.NoError(t, err)
	t.Cleanup(pool.Close)

	controlConfig := Config(t, catalogURL)
	controlConfig.ServiceToken = randomKey(t)
	require.NoError(t, controlConfig.Validate())
	control := serve(t, controlConfig, server.RoleControlPlane, nil)
	control.Catalog = pool
	control.Tenants = control.Client(control.Token(t, AdminSubject, true))

	dataConfig := *controlConfig
	// The data plane reaches the catalog only through the control plane.
	dataConfig.CatalogURL = ""
	dataConfig.ControlPlaneURL = control.URL
	if opts.ControlPlaneURL != nil {
		dataConfig.ControlPlaneURL = opts.ControlPlaneURL(control.URL)
	}
	if opts.ConfigureData != nil {
		opts.ConfigureData(&dataConfig)
	}
	require.NoError(t, dataConfig.Validate())
	data := serve(t, &dataConfig, server.RoleDataPlane, nil)
	data.Catalog = pool
	data.Tenants = control.Tenants

	return &Split{Control: control, Data: data, ServiceToken: controlConfig.ServiceToken}
}

// AdminSubject is the user id of the platform administrator behind
// Env.Tenants.
const AdminSubject = "platform-admin"

// Token returns a user token for subject signed with the server's
// development key, marking a platform administrator when admin is set.
func (e *Env) Token(t testing.TB, subject string, admin bool) string {
	t.Helper()

	auth := e.Config.Auth
	token, err := authn.SignUserToken(auth.AuthHMACKeyBytes(), auth.AuthIssuer, auth.AuthAudience, subject, auth.AuthAdminClaim, admin, time.Hour)
	require.NoError(t, err)

	return token
}

// Client returns a TenantService client that sends token as its bearer
// token.
func (e *Env) Client(token string, opts ...connect.ClientOption) silov1connect.TenantServiceClient {
	opts = append(opts, connect.WithInterceptors(Bearer(token)))

	return silov1connect.NewTenantServiceClient(http.DefaultClient, e.URL, opts...)
}

// TicketClient returns a TicketService client that sends token as its
// bearer token.
func (e *Env) TicketClient(token string, opts ...connect.ClientOption) silov1connect.TicketServiceClient {
	opts = append(opts, connect.WithInterceptors(Bearer(token)))

	return silov1connect.NewTicketServiceClient(http.DefaultClient, e.URL, opts...)
}

// WorkflowClient returns a WorkflowService client that sends token as its
// bearer token.
func (e *Env) WorkflowClient(token string, opts ...connect.ClientOption) silov1connect.WorkflowServiceClient {
	opts = append(opts, connect.WithInterceptors(Bearer(token)))

	return silov1connect.NewWorkflowServiceClient(http.DefaultClient, e.URL, opts...)
}

// UserClient returns a TenantService client for subject, who is not a
// platform administrator.
func (e *Env) UserClient(t testing.TB, subject string) silov1connect.TenantServiceClient {
	t.Helper()

	return e.Client(e.Token(t, subject, false))
}

// Bearer returns a client interceptor that sends token in the
// Authorization header of every call.
func Bearer(token string) connect.Interceptor {
	return Header("Authorization", "Bearer "+token)
}

// Header returns a client interceptor that sets one request header on
// every call, unary and streaming.
func Header(name, value string) connect.Interceptor {
	return header{name: name, value: value}
}

type header struct {
	name, value string
}

func (h header) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		req.Header().Set(h.name, h.value)
		return next(ctx, req)
	}
}

func (h header) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return func(ctx context.Context, spec connect.Spec) connect.StreamingClientConn {
		conn := next(ctx, spec)
		conn.RequestHeader().Set(h.name, h.value)
		return conn
	}
}

func (h header) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}

// Buffer is a bytes.Buffer that is safe for concurrent writers.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()

	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()

	return b.buf.String()
}

// Lines returns everything written so far, one entry per line.
func (b *Buffer) Lines() []string {
	return strings.Split(strings.TrimRight(b.String(), "\n"), "\n")
}
