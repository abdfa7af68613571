package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"

	"silo.dev/silo/controlplane/catalog"
	"silo.dev/silo/dataplane/poolcache"
	"silo.dev/silo/dataplane/tenancy"
	"silo.dev/silo/dataplane/ticketapi"
	"silo.dev/silo/gen/silo/controlplane/v1/controlplanev1connect"
	"silo.dev/silo/gen/silo/v1/silov1connect"
	"silo.dev/silo/internal/secret"
)

// dataPlane is the data plane's share of a server: the tenant pools and
// the tenant services. Its catalog change feed is in Server.feeds.
type dataPlane struct {
	pools *poolcache.Cache
}

// buildDataPlane builds the pool cache, the tenant directory and its change
// feed, and the tenant services, and mounts the services. With role all
// the directory reads the catalog database; with --role dataplane it calls
// the control plane's CatalogService at SILO_CONTROL_PLANE_URL.
// A split data plane is ready while its change stream from the control
// plane is connected.
func (s *Server) buildDataPlane(store *catalog.Store, box *secret.Box, handlerOpts []connect.HandlerOption, mount func(string, http.Handler)) (*dataPlane, error) {
	var source tenancy.Directory
	var client controlplanev1connect.CatalogServiceClient
	if s.role == RoleDataPlane {
		client = tenancy.NewCatalogClient(tenancy.NewCatalogHTTPClient(), s.cfg.ControlPlaneURL, s.cfg.ServiceToken)
		source = tenancy.NewRemoteDirectory(client, box)
	} else {
		source = tenancy.NewCatalogDirectory(store, box)
	}

	var pools *poolcache.Cache
	directory := tenancy.NewCachedDirectory(source, s.cfg.ResolveStaleTTL,
		func(id uuid.UUID) { pools.Evict(id) })
	if s.ready == nil {
		s.ready = &readiness{check: func(context.Context) error {
			if !directory.Live() {
				return errors.New("change stream from the control plane not connected")
			}
			return nil
		}}
	}
	if client != nil {
		s.feeds = append(s.feeds, tenancy.NewRemoteFeed(client, directory, s.logger))
	} else {
		s.feeds = append(s.feeds, tenancy.NewFeed(s.pool.Config().ConnConfig.Copy(), directory, s.logger))
	}

	pools, err := poolcache.New(poolcache.Config{
		Capacity:          s.cfg.PoolCacheSize,
		MaxConns:          s.cfg.PoolMaxConns,
		Budget:            s.cfg.PoolConnectionBudget,
		IdleTTL:           s.cfg.PoolIdleTTL,
		ConnectTimeout:    tenantConnectTimeout,
		MaxConnIdleTime:   tenantConnIdleTime,
		HealthCheckPeriod: tenantHealthCheckPeriod,
	}, func(ctx context.Context, id uuid.UUID) (poolcache.Target, error) {
		config, err := directory.ConnConfig(ctx, id)
		if err != nil {
			return poolcache.Target{}, err
		}
		return poolcache.Target{TenantID: id, ConnConfig: config}, nil
	}, s.logger)
	if err != nil {
		return nil, fmt.Errorf("create tenant pool cache: %w", err)
	}

	interceptor := tenancy.NewInterceptor(directory, leases{pools}, tenancy.Rules, s.logger)
	opts := append(slices.Clone(handlerOpts), connect.WithInterceptors(interceptor))
	handlers := ticketapi.New(s.logger)

	mount(silov1connect.NewTicketServiceHandler(handlers, opts...))
	mount(silov1connect.NewWorkflowServiceHandler(handlers, opts...))

	return &dataPlane{pools: pools}, nil
}

// leases adapts the pool cache to tenancy.Pools.
type leases struct {
	cache *poolcache.Cache
}

func (l leases) Acquire(ctx context.Context, id uuid.UUID) (tenancy.Lease, error) {
	lease, err := l.cache.Acquire(ctx, id)
	if err != nil {
		return nil, err
	}

	return lease, nil
}

// Settings of tenant pools that need no configuration of their own.
const (
	tenantConnectTimeout    = 5 * time.Second
	tenantConnIdleTime      = 5 * time.Minute
	tenantHealthCheckPeriod = time.Minute
)
