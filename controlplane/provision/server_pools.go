package provision

import (
	"context"
	"fmt"
	"sync"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"silo.dev/silo/controlplane/catalog"
	"silo.dev/silo/internal/secret"
)

// adminPoolSize is the connection cap of each server's administrator pool.
// Provisioning sends a handful of DDL statements per tenant, so a few
// connections serve many concurrent jobs.
const adminPoolSize = 4

// ServerPools opens and keeps one administrator pool per database server,
// from the server's encrypted URL in the catalog. It is safe for concurrent
// use.
type ServerPools struct {
	store *catalog.Store
	box   *secret.Box

	mu    sync.Mutex
	pools map[uuid.UUID]*serverPool
}

type serverPool struct {
	pool   *pgxpool.Pool
	config *pgx.ConnConfig
}

// NewServerPools returns an empty set of administrator pools.
func NewServerPools(store *catalog.Store, box *secret.Box) *ServerPools {
	return &ServerPools{store: store, box: box, pools: map[uuid.UUID]*serverPool{}}
}

// Admin returns the administrator pool of the server with the given id,
// opening it on first use, and the parsed administrator URL from which
// tenant connection settings derive.
func (s *ServerPools) Admin(ctx context.Context, id uuid.UUID) (*pgxpool.Pool, *pgx.ConnConfig, error) {
	s.mu.Lock()
	defer s.mu.Unlock()

	if p, ok := s.pools[id]; ok {
		return p.pool, p.config, nil
	}

	server, err := s.store.GetServer(ctx, id)
	if err != nil {
		return nil, nil, fmt.Errorf("load database server %s: %w", id, err)
	}
	url, err := s.box.Open(server.AdminURLEncrypted, id[:])
	if err != nil {
		return nil, nil, fmt.Errorf("decrypt administrator URL of database server %q: %w", server.Name, err)
	}

	poolConfig, err := pgxpool.ParseConfig(string(url))
	if err != nil {
		return nil, nil, fmt.Errorf("parse administrator URL of database server %q: %w", server.Name, err)
	}
	poolConfig.MaxConns = adminPoolSize
	poolConfig.ConnConfig.RuntimeParams["application_name"] = "silo-provision"
	pool, err := pgxpool.NewWithConfig(ctx, poolConfig)
	if err != nil {
		return nil, nil, fmt.Errorf("open pool for database server %q: %w", server.Name, err)
	}

	p := &serverPool{pool: pool, config: poolConfig.ConnConfig}
	s.pools[id] = p

	return p.pool, p.config, nil
}

// Close closes every pool. Calls to Admin after Close open new pools.
func (s *ServerPools) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()

	for id, p := range s.pools {
		p.pool.Close()
		delete(s.pools, id)
	}
}

// TenantConnConfig returns settings that connect to a tenant's database as
// the tenant's role: the server's host, port and TLS settings from admin,
// with the tenant's role, password and database in place of the
// administrator's.
func TenantConnConfig(admin *pgx.ConnConfig, t catalog.Tenant, password string) *pgx.ConnConfig {
	config := admin.Copy()
	config.User = t.RoleName
	config.Password = password
	config.Database = t.DatabaseName
	config.RuntimeParams = map[string]string{"application_name": "silo-provision"}

	return config
}
