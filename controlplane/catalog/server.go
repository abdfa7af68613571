package catalog

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Server is a row of database_servers: a PostgreSQL server that holds
// tenant databases.
type Server struct {
	ID   uuid.UUID
	Name string
	// AdminURLEncrypted is the administrator's connection URL sealed with
	// the encryption key, with the server id as associated data.
	AdminURLEncrypted []byte
	// Capacity is the most tenants placed on the server.
	Capacity int
	// Status is active, or draining when no new tenant may be placed there.
	Status string
}

// EnsureServer registers the server called name, or replaces the stored
// administrator URL of an existing one, and returns it. seal encrypts the
// URL for the server's id, which is only known once the row is found or a
// new id is chosen.
func (s *Store) EnsureServer(ctx context.Context, name string, seal func(id uuid.UUID) ([]byte, error)) (Server, error) {
	var server Server
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		// The advisory lock serialises processes that start at once, so two
		// of them cannot both insert a server of the same name.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('silo.database_servers'))`); err != nil {
			return fmt.Errorf("lock database servers: %w", err)
		}

		id := uuid.New()
		err := tx.QueryRow(ctx, `SELECT id FROM database_servers WHERE name = $1`, name).Scan(&id)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("select database server %q: %w", name, err)
		}

		sealed, err := seal(id)
		if err != nil {
			return err
		}

		row := tx.QueryRow(ctx, `
			INSERT INTO database_servers (id, name, admin_url_encrypted)
			VALUES ($1, $2, $3)
			ON CONFLICT (id) DO UPDATE SET admin_url_encrypted = excluded.admin_url_encrypted, updated_at = now()
			RETURNING id, name, admin_url_encrypted, capacity, status`, id, name, sealed)

		return row.Scan(&server.ID, &server.Name, &server.AdminURLEncrypted, &server.Capacity, &server.Status)
	})
	if err != nil {
		return Server{}, fmt.Errorf("register database server %q: %w", name, err)
	}

	return server, nil
}

// GetServer returns the database server with the given id.
func (s *Store) GetServer(ctx context.Context, id uuid.UUID) (Server, error) {
	var server Server
	err := s.pool.QueryRow(ctx, `
		SELECT id, name, admin_url_encrypted, capacity, status
		FROM database_servers WHERE id = $1`, id).
		Scan(&server.ID, &server.Name, &server.AdminURLEncrypted, &server.Capacity, &server.Status)
	if errors.Is(err, pgx.ErrNoRows) {
		return Server{}, ErrNotFound
	}
	if err != nil {
		return Server{}, fmt.Errorf("select database server %s: %w", id, err)
	}

	return server, nil
}

// PlaceTenant picks the active server with the fewest tenants that are not
// purged, among those below their capacity. It gives ErrNoServer when every
// server is full or draining.
func (s *Store) PlaceTenant(ctx context.Context) (Server, error) {
	var server Server
	err := s.pool.QueryRow(ctx, `
		SELECT s.id, s.name, s.admin_url_encrypted, s.capacity, s.status
		FROM database_servers s
		LEFT JOIN tenants t ON t.database_server_id = s.id AND t.status <> 'deleted'
		WHERE s.status = 'active'
		GROUP BY s.id
		HAVING count(t.id) < s.capacity
		ORDER BY count(t.id), s.name
		LIMIT 1`).
		Scan(&server.ID, &server.Name, &server.AdminURLEncrypted, &server.Capacity, &server.Status)
	if errors.Is(err, pgx.ErrNoRows) {
		return Server{}, ErrNoServer
	}
	if err != nil {
		return Server{}, fmt.Errorf("place tenant: %w", err)
	}

	return server, nil
}

// GetPlacement returns a tenant, purged ones included, with the database
// server that holds it, in one round trip.
func (s *Store) GetPlacement(ctx context.Context, tenantID uuid.UUID) (Tenant, Server, error) {
	var server Server
	var t Tenant
	err := s.pool.QueryRow(ctx, `
		SELECT `+prefixedTenantColumns+`, s.id, s.name, s.admin_url_encrypted, s.capacity, s.status
		FROM tenants t JOIN database_servers s ON s.id = t.database_server_id
		WHERE t.id = $1`, tenantID).
		Scan(&t.ID, &t.Name, &t.Slug, &t.Config, &t.Status, &t.ServerID, &t.DatabaseName,
			&t.RoleName, &t.RolePasswordEncrypted, &t.SchemaVersion, &t.LastError,
			&t.CreatedAt, &t.UpdatedAt, &t.DeletedAt, &t.PurgeAfter,
			&server.ID, &server.Name, &server.AdminURLEncrypted, &server.Capacity, &server.Status)
	if errors.Is(err, pgx.ErrNoRows) {
		return Tenant{}, Server{}, ErrNotFound
	}
	if err != nil {
		return Tenant{}, Server{}, fmt.Errorf("select placement of tenant %s: %w", tenantID, err)
	}

	return t, server, nil
}
