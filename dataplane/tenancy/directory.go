package tenancy

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"silo.dev/silo/controlplane/catalog"
	"silo.dev/silo/controlplane/provision"
	"silo.dev/silo/internal/secret"
)

// ErrNotFound is returned by a Directory for an unknown tenant, a user who
// is not a member, or a user without an active tenant.
var ErrNotFound = errors.New("not found")

// Record is the data plane's view of a tenant: identity and status.
type Record struct {
	ID     uuid.UUID
	Slug   string
	Status catalog.Status
}

// Directory answers the data plane's questions about the catalog.
type Directory interface {
	// Lookup returns the tenant named by its id. Purged tenants are
	// ErrNotFound.
	Lookup(ctx context.Context, id uuid.UUID) (Record, error)
	// LookupSlug returns the tenant that holds slug.
	LookupSlug(ctx context.Context, slug string) (Record, error)
	// Role returns the user's role in the tenant.
	Role(ctx context.Context, tenantID uuid.UUID, userID string) (catalog.Role, error)
	// ActiveTenant returns the tenant the user last switched to.
	ActiveTenant(ctx context.Context, userID string) (uuid.UUID, error)
	// ConnConfig returns settings that connect to the tenant's database as
	// the tenant's role.
	ConnConfig(ctx context.Context, tenantID uuid.UUID) (*pgx.ConnConfig, error)
}

// CatalogDirectory reads the catalog database directly, as the data plane
// does when it runs in the same process as the control plane.
type CatalogDirectory struct {
	store *catalog.Store
	box   *secret.Box
}

// NewCatalogDirectory returns a directory on the catalog store. box
// decrypts role passwords and server URLs.
func NewCatalogDirectory(store *catalog.Store, box *secret.Box) *CatalogDirectory {
	return &CatalogDirectory{store: store, box: box}
}

func recordOf(t catalog.Tenant, err error) (Record, error) {
	if errors.Is(err, catalog.ErrNotFound) || (err == nil && t.Status == catalog.StatusDeleted) {
		return Record{}, ErrNotFound
	}
	if err != nil {
		return Record{}, err
	}

	return Record{ID: t.ID, Slug: t.Slug, Status: t.Status}, nil
}

// Lookup implements Directory.
func (d *CatalogDirectory) Lookup(ctx context.Context, id uuid.UUID) (Record, error) {
	return recordOf(d.store.GetTenant(ctx, id))
}

// LookupSlug implements Directory.
func (d *CatalogDirectory) LookupSlug(ctx context.Context, slug string) (Record, error) {
	return recordOf(d.store.GetTenantBySlug(ctx, slug))
}

// Role implements Directory.
func (d *CatalogDirectory) Role(ctx context.Context, tenantID uuid.UUID, userID string) (catalog.Role, error) {
	role, err := d.store.GetMembership(ctx, tenantID, userID)
	if errors.Is(err, catalog.ErrNotFound) {
		return "", ErrNotFound
	}

	return role, err
}

// ActiveTenant implements Directory.
func (d *CatalogDirectory) ActiveTenant(ctx context.Context, userID string) (uuid.UUID, error) {
	id, err := d.store.GetActiveTenant(ctx, userID)
	if errors.Is(err, catalog.ErrNotFound) {
		return uuid.Nil, ErrNotFound
	}

	return id, err
}

// ConnConfig implements Directory: the server's host, port and TLS settings
// from its administrator URL, with the tenant's role and password.
func (d *CatalogDirectory) ConnConfig(ctx context.Context, tenantID uuid.UUID) (*pgx.ConnConfig, error) {
	t, server, err := d.store.GetPlacement(ctx, tenantID)
	if err != nil {
		return nil, fmt.Errorf("load placement of tenant %s: %w", tenantID, err)
	}

	adminURL, err := d.box.Open(server.AdminURLEncrypted, server.ID[:])
	if err != nil {
		return nil, fmt.Errorf("decrypt URL of database server %q: %w", server.Name, err)
	}
	adminConfig, err := pgx.ParseConfig(string(adminURL))
	if err != nil {
		return nil, fmt.Errorf("parse URL of database server %q: %w", server.Name, err)
	}
	password, err := d.box.Open(t.RolePasswordEncrypted, t.ID[:])
	if err != nil {
		return nil, fmt.Errorf("decrypt role password of tenant %s: %w", tenantID, err)
	}

	return provision.TenantConnConfig(adminConfig, t, string(password)), nil
}
