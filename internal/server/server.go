// Package server wires silo's parts into one process: the catalog pool,
// the job queue, the Connect services behind one HTTP server, health and
// metrics, and the shutdown order.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"
	"connectrpc.com/grpcreflect"
	"connectrpc.com/vanguard"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"silo.dev/silo/controlplane/catalog"
	"silo.dev/silo/controlplane/catalogapi"
	"silo.dev/silo/controlplane/provision"
	"silo.dev/silo/controlplane/tenantapi"
	"silo.dev/silo/dataplane/tenancy"
	"silo.dev/silo/gen/openapi"
	"silo.dev/silo/gen/silo/controlplane/v1/controlplanev1connect"
	"silo.dev/silo/gen/silo/v1/silov1connect"
	"silo.dev/silo/internal/authn"
	"silo.dev/silo/internal/config"
	"silo.dev/silo/internal/secret"
)

// Role selects which planes a process serves.
type Role string

// Roles a process can take.
const (
	RoleAll          Role = "all"
	RoleControlPlane Role = "controlplane"
	RoleDataPlane    Role = "dataplane"
)

// ParseRole returns the role named s.
func ParseRole(s string) (Role, error) {
	switch r := Role(s); r {
	case RoleAll, RoleControlPlane, RoleDataPlane:
		return r, nil
	}

	return "", fmt.Errorf("unknown role %q; use all, controlplane or dataplane", s)
}

func (r Role) controlPlane() bool { return r == RoleAll || r == RoleControlPlane }

func (r Role) dataPlane() bool { return r == RoleAll || r == RoleDataPlane }

// authLeeway is the clock skew allowed between silo and token issuers
// when checking exp, nbf and iat.
const authLeeway = 30 * time.Second

// catalogPoolSize is the catalog pool's connection cap: API requests, the
// job queue's fetchers, and one connection per running job for its tenant
// lock.
const catalogPoolSize = 25

// defaultServerName is the catalog name of the server given by
// SILO_DATABASE_SERVER_URL (or the catalog's server).
const defaultServerName = "default"

// changeStreamBuffer is how many catalog changes the control plane queues
// for one data plane's change stream before it ends the stream and the
// data plane resynchronizes.
const changeStreamBuffer = 1024

// Server is a running silo process.
type Server struct {
	cfg    *config.Config
	role   Role
	logger *slog.Logger

	pool    *pgxpool.Pool
	servers *provision.ServerPools
	jobs    *provision.Jobs
	data    *dataPlane
	// feeds follow catalog changes while the server serves: the data
	// plane's, and in --role controlplane the one behind CatalogService.
	feeds []feed
	// catalogHub fans catalog changes out to data planes in --role
	// controlplane; nil otherwise.
	catalogHub *catalogapi.Hub
	http       *http.Server
	ready      *readiness

	// Provisioner is set in control plane roles. Tests use it to inject
	// failures.
	Provisioner *provision.Provisioner
}

// Options adjusts a server for tests; production code passes nil.
type Options struct {
	// Jobs replaces the job queue settings derived from the configuration.
	Jobs *provision.Options
	// PollInterval replaces CreateTenant's polling interval.
	PollInterval time.Duration
}

// New connects to the catalog, migrates it when so configured, and builds
// the parts of the given role. Run starts serving.
func New(ctx context.Context, cfg *config.Config, role Role, logger *slog.Logger, opts *Options) (*Server, error) {
	if opts == nil {
		opts = &Options{}
	}
	if err := checkRoleConfig(cfg, role); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, role: role, logger: logger}

	// A split data plane learns everything from the control plane and
	// holds no catalog credentials.
	if role != RoleDataPlane {
		poolConfig, err := pgxpool.ParseConfig(cfg.CatalogURL)
		if err != nil {
			return nil, fmt.Errorf("parse SILO_CATALOG_URL: %w", err)
		}
		poolConfig.MaxConns = catalogPoolSize
		poolConfig.ConnConfig.RuntimeParams["application_name"] = "silo"
		s.pool, err = pgxpool.NewWithConfig(ctx, poolConfig)
		if err != nil {
			return nil, fmt.Errorf("open catalog pool: %w", err)
		}
	}

	if err := s.build(ctx, opts); err != nil {
		s.close()
		return nil, err
	}

	return s, nil
}

func (s *Server) build(ctx context.Context, opts *Options) error {
	var store *catalog.Store
	if s.pool != nil {
		if s.cfg.MigrateOnStart {
			if err := Migrate(ctx, s.pool, s.logger); err != nil {
				return err
			}
		}
		if err := restrictCatalog(ctx, s.pool, s.logger); err != nil {
			return err
		}
		store = catalog.New(s.pool)
		s.ready = &readiness{check: s.catalogReady}
	}

	box, err := secret.NewBox(s.cfg.Key())
	if err != nil {
		return err
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) { s.ready.ServeHTTP(w, r) })
	mux.Handle("GET /metrics", promhttp.Handler())
	mux.HandleFunc("GET /openapi.yaml", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/yaml")
		_, _ = w.Write(openapi.Document)
	})

	authConfig := s.authnConfig()
	verifier, err := authn.NewVerifier(ctx, authConfig)
	if err != nil {
		return err
	}

	var serviceNames []string
	var services []*vanguard.Service
	mount := func(path string, handler http.Handler) {
		mux.Handle(path, handler)
		services = append(services, vanguard.NewService(path, handler))
		serviceNames = append(serviceNames, strings.Trim(path, "/"))
	}
	handlerOpts := []connect.HandlerOption{connect.WithReadMaxBytes(int(s.cfg.MaxRequestBytes))}

	if s.role.controlPlane() {
		if err := s.registerServer(ctx, store, box); err != nil {
			return err
		}

		s.servers = provision.NewServerPools(store, box)
		s.Provisioner = provision.NewProvisioner(store, box, s.servers, s.cfg.TenantConnectionLimit, s.logger)
		jobOpts := provision.DefaultOptions(s.logger)
		jobOpts.Timeout = s.cfg.JobTimeout
		jobOpts.RescueAfter = s.cfg.JobRescueAfter
		jobOpts.MaxAttempts = s.cfg.ProvisionMaxAttempts
		if opts.Jobs != nil {
			jobOpts = *opts.Jobs
		}
		s.jobs, err = provision.NewJobs(s.pool, s.Provisioner, jobOpts)
		if err != nil {
			return err
		}

		tenants := tenantapi.New(store, s.jobs, box, authn.NewIssuer(authConfig), tenantapi.Options{
			DeleteGracePeriod: s.cfg.DeleteGracePeriod,
			ProvisionTimeout:  s.cfg.ProvisionTimeout,
			TenantTokenTTL:    s.cfg.TenantTokenTTL,
			PollInterval:      opts.PollInterval,
		}, s.logger)
		mount(silov1connect.NewTenantServiceHandler(tenants,
			append(handlerOpts, connect.WithInterceptors(tenants.Interceptor()))...))
	}
	if s.role == RoleControlPlane {
		if err := s.mountCatalogService(mux, store, box, handlerOpts); err != nil {
			return err
		}
	}
	if s.role.dataPlane() {
		if s.data, err = s.buildDataPlane(store, box, handlerOpts, mount); err != nil {
			return err
		}
	}

	checker := grpchealth.NewStaticChecker(serviceNames...)
	mux.Handle(grpchealth.NewHandler(checker))
	reflector := grpcreflect.NewStaticReflector(serviceNames...)
	mux.Handle(grpcreflect.NewHandlerV1(reflector))
	mux.Handle(grpcreflect.NewHandlerV1Alpha(reflector))

	// Connect, gRPC and gRPC-Web requests reach the handlers directly on
	// their service paths; REST requests under /api/ go through vanguard,
	// which maps the google.api.http routes onto the same handlers.
	if len(services) > 0 {
		transcoder, err := vanguard.NewTranscoder(services)
		if err != nil {
			return fmt.Errorf("build REST routes: %w", err)
		}
		mux.Handle("/api/", transcoder)
	}

	protocols := new(http.Protocols)
	protocols.SetHTTP1(true)
	// gRPC clients speak HTTP/2 without TLS to a local or in-cluster server.
	protocols.SetUnencryptedHTTP2(true)
	s.http = &http.Server{
		Addr:              s.cfg.HTTPAddr,
		Handler:           verifier.Middleware(mux, isPublic, s.cfg.MaxRequestBytes),
		Protocols:         protocols,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	if s.catalogHub != nil {
		// Change streams last until the client hangs up, so Shutdown would
		// otherwise wait for every data plane until SILO_SHUTDOWN_TIMEOUT.
		s.http.RegisterOnShutdown(s.catalogHub.Close)
	}

	return nil
}

// isPublic reports whether a request may go without a user token: the
// health and readiness probes, the OpenAPI document, gRPC health, and
// CatalogService, whose interceptor checks the service token instead.
func isPublic(r *http.Request) bool {
	switch r.URL.Path {
	case "/healthz", "/readyz", "/openapi.yaml":
		return true
	}

	return strings.HasPrefix(r.URL.Path, "/"+grpchealth.HealthV1ServiceName+"/") ||
		strings.HasPrefix(r.URL.Path, "/"+controlplanev1connect.CatalogServiceName+"/")
}

// checkRoleConfig checks the settings that only some roles need, which
// config.Validate cannot check because it does not know the role.
func checkRoleConfig(cfg *config.Config, role Role) error {
	var errs []error
	if role != RoleAll && cfg.ServiceToken == "" {
		errs = append(errs, fmt.Errorf("SILO_SERVICE_TOKEN: required for --role %s; set the same value on the control plane and every data plane", role))
	}
	if role != RoleDataPlane && cfg.CatalogURL == "" {
		errs = append(errs, fmt.Errorf("SILO_CATALOG_URL: required for --role %s, for example postgres://silo:PASSWORD@127.0.0.1:5432/silo", role))
	}
	if role == RoleDataPlane && cfg.ControlPlaneURL == "" {
		errs = append(errs, errors.New("SILO_CONTROL_PLANE_URL: required for --role dataplane; set the control plane's base URL, such as http://silo-control:8080"))
	}

	return errors.Join(errs...)
}

// mountCatalogService serves CatalogService to data plane processes, with
// a catalog change feed of its own that fans out to their change streams.
// It is mounted outside the REST transcoder and gRPC reflection, because it
// is no public API.
func (s *Server) mountCatalogService(mux *http.ServeMux, store *catalog.Store, box *secret.Box, handlerOpts []connect.HandlerOption) error {
	tokenCheck, err := catalogapi.NewTokenInterceptor(s.cfg.ServiceToken)
	if err != nil {
		return err
	}
	hub := catalogapi.NewHub(changeStreamBuffer)
	s.catalogHub = hub
	s.feeds = append(s.feeds, tenancy.NewFeed(s.pool.Config().ConnConfig.Copy(), hub, s.logger))

	service := catalogapi.New(store, box, hub, s.logger)
	mux.Handle(controlplanev1connect.NewCatalogServiceHandler(service,
		append(handlerOpts, connect.WithInterceptors(tokenCheck))...))

	return nil
}

// feed follows catalog changes until ctx ends.
type feed interface {
	Run(ctx context.Context)
}

// authnConfig returns the token settings from the configuration.
func (s *Server) authnConfig() authn.Config {
	return authn.Config{
		Issuer:      s.cfg.AuthIssuer,
		Audience:    s.cfg.AuthAudience,
		HMACKey:     s.cfg.AuthHMACKeyBytes(),
		JWKSURL:     s.cfg.AuthJWKSURL,
		AdminClaim:  s.cfg.AuthAdminClaim,
		SigningKey:  s.cfg.TokenSigningKeyBytes(),
		TokenIssuer: s.cfg.TokenIssuer,
		Leeway:      authLeeway,
	}
}

// registerServer records the database server for new tenants in the
// catalog, with its administrator URL encrypted.
func (s *Server) registerServer(ctx context.Context, store *catalog.Store, box *secret.Box) error {
	_, err := store.EnsureServer(ctx, defaultServerName, func(id uuid.UUID) ([]byte, error) {
		return box.Seal([]byte(s.cfg.ServerURL()), id[:])
	})

	return err
}

// Run listens on SILO_HTTP_ADDR, calls onListen (when not nil) with the
// address once connections are accepted, and serves until ctx ends. Then it
// shuts down in order: stop accepting connections and drain requests, stop
// the job queue and the change feed, close pools. It returns nil after a
// clean shutdown.
func (s *Server) Run(ctx context.Context, onListen func(addr string)) error {
	var lc net.ListenConfig
	listener, err := lc.Listen(ctx, "tcp", s.cfg.HTTPAddr)
	if err != nil {
		s.close()
		return fmt.Errorf("listen on %s (SILO_HTTP_ADDR): %w", s.cfg.HTTPAddr, err)
	}
	if onListen != nil {
		onListen(listener.Addr().String())
	}

	return s.Serve(ctx, listener)
}

// Serve is Run on an existing listener, which it closes.
func (s *Server) Serve(ctx context.Context, listener net.Listener) error {
	defer s.close()

	if s.jobs != nil {
		if err := s.jobs.Start(ctx); err != nil {
			return err
		}
	}
	feedCtx, stopFeeds := context.WithCancel(context.WithoutCancel(ctx))
	defer stopFeeds()
	var feeds sync.WaitGroup
	for _, f := range s.feeds {
		feeds.Go(func() { f.Run(feedCtx) })
	}

	serveErr := make(chan error, 1)
	go func() { serveErr <- s.http.Serve(listener) }()
	s.logger.InfoContext(ctx, "silo serving", "addr", listener.Addr().String(), "role", s.role)

	select {
	case err := <-serveErr:
		s.stopJobs(ctx)
		return fmt.Errorf("serve HTTP: %w", err)
	case <-ctx.Done():
	}

	s.logger.Info("silo stopping")
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.ShutdownTimeout)
	defer cancel()
	var errs []error
	if err := s.http.Shutdown(shutdownCtx); err != nil {
		errs = append(errs, fmt.Errorf("drain HTTP requests: %w", err))
	}
	if err := <-serveErr; err != nil && !errors.Is(err, http.ErrServerClosed) {
		errs = append(errs, fmt.Errorf("serve HTTP: %w", err))
	}
	if err := s.stopJobsWithin(shutdownCtx); err != nil {
		errs = append(errs, err)
	}
	stopFeeds()
	feeds.Wait()
	s.logger.Info("silo stopped")

	return errors.Join(errs...)
}

func (s *Server) stopJobs(ctx context.Context) {
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.ShutdownTimeout)
	defer cancel()
	if err := s.stopJobsWithin(stopCtx); err != nil {
		s.logger.Error("stop job queue", "error", err)
	}
}

func (s *Server) stopJobsWithin(ctx context.Context) error {
	if s.jobs == nil {
		return nil
	}

	return s.jobs.Stop(ctx)
}

// close releases the pools: tenant pools and administrator pools first,
// the catalog last, because the job queue uses the catalog until it has
// stopped.
func (s *Server) close() {
	if s.data != nil {
		s.data.pools.Close()
	}
	if s.servers != nil {
		s.servers.Close()
	}
	if s.pool != nil {
		s.pool.Close()
	}
}

// readiness serves /readyz: 200 when check passes, 503 with check's
// message otherwise.
type readiness struct {
	check func(ctx context.Context) error
}

func (r *readiness) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	ctx, cancel := context.WithTimeout(req.Context(), 2*time.Second)
	defer cancel()

	if err := r.check(ctx); err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	_, _ = w.Write([]byte("ok\n"))
}

// catalogReady passes once the catalog is reachable and migrated.
func (s *Server) catalogReady(ctx context.Context) error {
	ok, err := migrated(ctx, s.pool)
	switch {
	case err != nil:
		return errors.New("catalog unreachable")
	case !ok:
		return errors.New("catalog not migrated; run silo migrate")
	}

	return nil
}
