package catalog

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Status is a tenant's lifecycle stage.
type Status string

// Tenant statuses, as stored in tenants.status.
const (
	StatusProvisioning Status = "provisioning"
	StatusActive       Status = "active"
	StatusSuspended    Status = "suspended"
	StatusDeleting     Status = "deleting"
	StatusDeleted      Status = "deleted"
	StatusFailed       Status = "failed"
)

// Tenant is a row of the tenants table.
type Tenant struct {
	ID   uuid.UUID
	Name string
	Slug string
	// Config is the tenant's settings as a JSON object.
	Config []byte
	Status Status

	// Placement: where the tenant's database lives and how to reach it.
	ServerID     uuid.UUID
	DatabaseName string
	RoleName     string
	// RolePasswordEncrypted is the role's password sealed with the
	// encryption key, with the tenant id as associated data.
	RolePasswordEncrypted []byte

	SchemaVersion int64
	// LastError is the latest provisioning failure; empty when there is none.
	LastError  string
	CreatedAt  time.Time
	UpdatedAt  time.Time
	DeletedAt  *time.Time
	PurgeAfter *time.Time
}

// ObjectName returns the name of a tenant's database and role. It derives
// from the UUID alone, so it needs no escaping beyond quoting, stays within
// PostgreSQL's 63-byte limit, and survives slug changes.
func ObjectName(id uuid.UUID) string {
	return "t_" + hex.EncodeToString(id[:])
}

const tenantColumns = `id, name, slug, config, status, database_server_id, database_name,
	role_name, role_password_encrypted, schema_version, coalesce(last_error, ''),
	created_at, updated_at, deleted_at, purge_after`

// prefixedTenantColumns is tenantColumns for a query that calls the
// tenants table t.
const prefixedTenantColumns = `t.id, t.name, t.slug, t.config, t.status, t.database_server_id, t.database_name,
	t.role_name, t.role_password_encrypted, t.schema_version, coalesce(t.last_error, ''),
	t.created_at, t.updated_at, t.deleted_at, t.purge_after`

func scanTenant(row pgx.Row) (Tenant, error) {
	var t Tenant
	err := row.Scan(&t.ID, &t.Name, &t.Slug, &t.Config, &t.Status, &t.ServerID, &t.DatabaseName,
		&t.RoleName, &t.RolePasswordEncrypted, &t.SchemaVersion, &t.LastError,
		&t.CreatedAt, &t.UpdatedAt, &t.DeletedAt, &t.PurgeAfter)
	if errors.Is(err, pgx.ErrNoRows) {
		return Tenant{}, ErrNotFound
	}

	return t, err
}

// CreateTenant inserts t with status provisioning, makes owner its owner,
// and calls enqueue in the same transaction, so the tenant row, its first
// owner and its provisioning job are stored together or not at all. t must
// carry its id, placement and encrypted password. A slug held by a tenant
// that is not purged gives ErrSlugTaken.
func (s *Store) CreateTenant(ctx context.Context, t Tenant, owner, actor string, enqueue func(context.Context, pgx.Tx) error) (Tenant, error) {
	var created Tenant
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		row := tx.QueryRow(ctx, `
			INSERT INTO tenants (id, name, slug, config, status, database_server_id,
				database_name, role_name, role_password_encrypted)
			VALUES ($1, $2, $3, $4, 'provisioning', $5, $6, $7, $8)
			RETURNING `+tenantColumns,
			t.ID, t.Name, t.Slug, jsonObject(t.Config), t.ServerID, t.DatabaseName, t.RoleName, t.RolePasswordEncrypted)
		var err error
		created, err = scanTenant(row)
		if isUniqueViolation(err, "tenants_slug_key") {
			return ErrSlugTaken
		}
		if err != nil {
			return fmt.Errorf("insert tenant: %w", err)
		}

		if err := audit(ctx, tx, actor, "tenant.create", t.ID, map[string]any{
			"name": t.Name, "slug": t.Slug,
		}); err != nil {
			return err
		}
		if _, err := addTenantUser(ctx, tx, t.ID, owner, RoleOwner, actor); err != nil {
			return err
		}

		return enqueue(ctx, tx)
	})
	if err != nil {
		return Tenant{}, err
	}

	return created, nil
}

// GetTenant returns the tenant with the given id, purged ones included.
func (s *Store) GetTenant(ctx context.Context, id uuid.UUID) (Tenant, error) {
	row := s.pool.QueryRow(ctx, `SELECT `+tenantColumns+` FROM tenants WHERE id = $1`, id)
	t, err := scanTenant(row)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return Tenant{}, fmt.Errorf("select tenant %s: %w", id, err)
	}

	return t, err
}

// GetTenantBySlug returns the tenant that holds slug. Purged tenants no
// longer hold their slug and are not returned.
func (s *Store) GetTenantBySlug(ctx context.Context, slug string) (Tenant, error) {
	row := s.pool.QueryRow(ctx,
		`SELECT `+tenantColumns+` FROM tenants WHERE slug = $1 AND status <> 'deleted'`, slug)
	t, err := scanTenant(row)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return Tenant{}, fmt.Errorf("select tenant by slug: %w", err)
	}

	return t, err
}

// Cursor is the position after which a page of tenants starts.
type Cursor struct {
	CreatedAt time.Time
	ID        uuid.UUID
}

// ListParams selects a page of tenants.
type ListParams struct {
	// Status keeps only tenants in this status; empty keeps every status
	// except deleted.
	Status Status
	// After starts the page after this tenant; nil starts at the beginning.
	After *Cursor
	// Limit is the page's maximum size.
	Limit int
}

// ListTenants returns up to p.Limit tenants ordered by creation time, then
// id.
func (s *Store) ListTenants(ctx context.Context, p ListParams) ([]Tenant, error) {
	var afterTime *time.Time
	var afterID *uuid.UUID
	if p.After != nil {
		afterTime, afterID = &p.After.CreatedAt, &p.After.ID
	}

	rows, err := s.pool.Query(ctx, `
		SELECT `+tenantColumns+` FROM tenants
		WHERE CASE WHEN $1 = '' THEN status <> 'deleted' ELSE status = $1 END
		  AND ($2::timestamptz IS NULL OR (created_at, id) > ($2, $3::uuid))
		ORDER BY created_at, id
		LIMIT $4`,
		string(p.Status), afterTime, afterID, p.Limit)
	if err != nil {
		return nil, fmt.Errorf("list tenants: %w", err)
	}

	tenants, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Tenant, error) {
		return scanTenant(row)
	})
	if err != nil {
		return nil, fmt.Errorf("list tenants: %w", err)
	}

	return tenants, nil
}

// TenantUpdate names the fields UpdateTenant changes; nil fields are kept.
type TenantUpdate struct {
	Name *string
	Slug *string
	// Config replaces the whole config object.
	Config []byte
}

// UpdateTenant changes the given fields of a tenant that is not purged and
// returns the saved row. A taken slug gives ErrSlugTaken; a purged tenant
// gives a *StatusError.
func (s *Store) UpdateTenant(ctx context.Context, id uuid.UUID, u TenantUpdate, actor string) (Tenant, error) {
	var updated Tenant
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		current, err := lockTenant(ctx, tx, id)
		if err != nil {
			return err
		}
		if current.Status == StatusDeleted {
			return &StatusError{Status: current.Status, Change: "update"}
		}

		row := tx.QueryRow(ctx, `
			UPDATE tenants SET
				name = coalesce($2, name),
				slug = coalesce($3, slug),
				config = coalesce($4, config),
				updated_at = now()
			WHERE id = $1
			RETURNING `+tenantColumns,
			id, u.Name, u.Slug, nullableJSON(u.Config))
		updated, err = scanTenant(row)
		if isUniqueViolation(err, "tenants_slug_key") {
			return ErrSlugTaken
		}
		if err != nil {
			return fmt.Errorf("update tenant %s: %w", id, err)
		}

		return audit(ctx, tx, actor, "tenant.update", id, changedFields(current, updated))
	})

	return updated, err
}

// changedFields describes an update for the audit trail: each changed
// field's old and new value. Config values are left out, because tenants
// may keep sensitive settings there; only the fact that it changed is
// recorded.
func changedFields(before, after Tenant) map[string]any {
	changes := map[string]any{}
	if before.Name != after.Name {
		changes["name"] = map[string]string{"old": before.Name, "new": after.Name}
	}
	if before.Slug != after.Slug {
		changes["slug"] = map[string]string{"old": before.Slug, "new": after.Slug}
	}
	if string(before.Config) != string(after.Config) {
		changes["config"] = "changed"
	}

	return changes
}

// SetStatus moves a tenant from one of the statuses in from to status to,
// on behalf of actor, and returns the saved row. A tenant already in to is
// returned unchanged, so retried calls succeed. Any other status gives a
// *StatusError naming it, with change describing the request.
func (s *Store) SetStatus(ctx context.Context, id uuid.UUID, from []Status, to Status, change, actor string) (Tenant, error) {
	var updated Tenant
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		current, err := lockTenant(ctx, tx, id)
		if err != nil {
			return err
		}
		if current.Status == to {
			updated = current
			return nil
		}
		if !statusIn(current.Status, from) {
			return &StatusError{Status: current.Status, Change: change}
		}

		row := tx.QueryRow(ctx, `
			UPDATE tenants SET status = $2, updated_at = now()
			WHERE id = $1
			RETURNING `+tenantColumns, id, string(to))
		updated, err = scanTenant(row)
		if err != nil {
			return fmt.Errorf("set tenant %s status %s: %w", id, to, err)
		}

		return audit(ctx, tx, actor, "tenant."+change, id, map[string]any{
			"status": map[string]string{"old": string(current.Status), "new": string(to)},
		})
	})

	return updated, err
}

// MarkDeleting moves a tenant that is not already being deleted or purged
// to deleting, sets its purge time, and calls schedule in the same
// transaction to enqueue the purge. Deleting a tenant that is already
// deleting returns it unchanged.
func (s *Store) MarkDeleting(ctx context.Context, id uuid.UUID, grace time.Duration, actor string,
	schedule func(ctx context.Context, tx pgx.Tx, purgeAfter time.Time) error,
) (Tenant, error) {
	var updated Tenant
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		current, err := lockTenant(ctx, tx, id)
		if err != nil {
			return err
		}
		switch current.Status {
		case StatusDeleting:
			updated = current
			return nil
		case StatusDeleted:
			return &StatusError{Status: current.Status, Change: "delete"}
		}

		row := tx.QueryRow(ctx, `
			UPDATE tenants SET status = 'deleting', deleted_at = now(),
				purge_after = now() + $2::interval, updated_at = now()
			WHERE id = $1
			RETURNING `+tenantColumns, id, grace)
		updated, err = scanTenant(row)
		if err != nil {
			return fmt.Errorf("mark tenant %s deleting: %w", id, err)
		}

		if err := audit(ctx, tx, actor, "tenant.delete", id, map[string]any{
			"status":      map[string]string{"old": string(current.Status), "new": string(StatusDeleting)},
			"purge_after": updated.PurgeAfter,
		}); err != nil {
			return err
		}

		return schedule(ctx, tx, *updated.PurgeAfter)
	})

	return updated, err
}

func lockTenant(ctx context.Context, tx pgx.Tx, id uuid.UUID) (Tenant, error) {
	row := tx.QueryRow(ctx, `SELECT `+tenantColumns+` FROM tenants WHERE id = $1 FOR UPDATE`, id)
	t, err := scanTenant(row)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return Tenant{}, fmt.Errorf("lock tenant %s: %w", id, err)
	}

	return t, err
}

func statusIn(s Status, set []Status) bool {
	for _, candidate := range set {
		if s == candidate {
			return true
		}
	}

	return false
}

// jsonObject returns config, or an empty object when it is empty.
func jsonObject(config []byte) []byte {
	if len(config) == 0 {
		return []byte("{}")
	}

	return config
}

// nullableJSON returns nil for an empty config, so coalesce keeps the old
// value, and the config otherwise.
func nullableJSON(config []byte) any {
	if config == nil {
		return nil
	}

	return string(jsonObject(config))
}
