package catalog

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Role is a user's permission level in a tenant.
type Role string

// Tenant roles, as stored in tenant_users.role.
const (
	RoleOwner  Role = "owner"
	RoleAdmin  Role = "admin"
	RoleMember Role = "member"
	RoleViewer Role = "viewer"
)

// Errors of tenant user changes.
var (
	// ErrUserExists is returned when the user is already a member.
	ErrUserExists = errors.New("user is already a member of the tenant")
	// ErrLastOwner is returned when a change would leave a tenant without
	// an owner.
	ErrLastOwner = errors.New("tenant must keep at least one owner")
)

// TenantUser is a row of tenant_users.
type TenantUser struct {
	TenantID  uuid.UUID
	UserID    string
	Role      Role
	CreatedAt time.Time
}

// Membership is a tenant with one user's role in it.
type Membership struct {
	Tenant Tenant
	Role   Role
}

func scanTenantUser(row pgx.Row) (TenantUser, error) {
	var u TenantUser
	err := row.Scan(&u.TenantID, &u.UserID, &u.Role, &u.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return TenantUser{}, ErrNotFound
	}

	return u, err
}

// addTenantUser inserts a membership in tx and records it for the audit.
func addTenantUser(ctx context.Context, tx pgx.Tx, tenantID uuid.UUID, userID string, role Role, actor string) (TenantUser, error) {
	row := tx.QueryRow(ctx, `
		INSERT INTO tenant_users (tenant_id, user_id, role) VALUES ($1, $2, $3)
		ON CONFLICT (tenant_id, user_id) DO NOTHING
		RETURNING tenant_id, user_id, role, created_at`, tenantID, userID, string(role))
	u, err := scanTenantUser(row)
	if errors.Is(err, ErrNotFound) {
		return TenantUser{}, ErrUserExists
	}
	if err != nil {
		return TenantUser{}, fmt.Errorf("insert tenant user: %w", err)
	}

	if err := audit(ctx, tx, actor, "tenant_user.add", tenantID, map[string]any{
		"user_id": userID, "role": role,
	}); err != nil {
		return TenantUser{}, err
	}

	return u, nil
}

// AddTenantUser makes userID a member of a tenant that is not purged.
func (s *Store) AddTenantUser(ctx context.Context, tenantID uuid.UUID, userID string, role Role, actor string) (TenantUser, error) {
	var added TenantUser
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		t, err := lockTenant(ctx, tx, tenantID)
		if err != nil {
			return err
		}
		if t.Status == StatusDeleted {
			return &StatusError{Status: t.Status, Change: "add a user to"}
		}

		added, err = addTenantUser(ctx, tx, tenantID, userID, role, actor)
		return err
	})

	return added, err
}

// UpdateTenantUser changes a member's role. check runs with the member's
// current role before anything changes, so the caller can reject the
// change. Demoting the last owner gives ErrLastOwner.
func (s *Store) UpdateTenantUser(ctx context.Context, tenantID uuid.UUID, userID string, role Role, actor string,
	check func(current Role) error,
) (TenantUser, error) {
	var updated TenantUser
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		current, err := lockMembership(ctx, tx, tenantID, userID)
		if err != nil {
			return err
		}
		if err := check(current.Role); err != nil {
			return err
		}
		if current.Role == role {
			updated = current
			return nil
		}
		if current.Role == RoleOwner {
			if err := requireAnotherOwner(ctx, tx, tenantID, userID); err != nil {
				return err
			}
		}

		row := tx.QueryRow(ctx, `
			UPDATE tenant_users SET role = $3 WHERE tenant_id = $1 AND user_id = $2
			RETURNING tenant_id, user_id, role, created_at`, tenantID, userID, string(role))
		updated, err = scanTenantUser(row)
		if err != nil {
			return fmt.Errorf("update tenant user: %w", err)
		}

		return audit(ctx, tx, actor, "tenant_user.update", tenantID, map[string]any{
			"user_id": userID, "role": map[string]Role{"old": current.Role, "new": role},
		})
	})

	return updated, err
}

// RemoveTenantUser ends a membership and clears the tenant as the user's
// active tenant. check runs with the member's role before anything
// changes. Removing the last owner gives ErrLastOwner.
func (s *Store) RemoveTenantUser(ctx context.Context, tenantID uuid.UUID, userID, actor string, check func(current Role) error) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		current, err := lockMembership(ctx, tx, tenantID, userID)
		if err != nil {
			return err
		}
		if err := check(current.Role); err != nil {
			return err
		}
		if current.Role == RoleOwner {
			if err := requireAnotherOwner(ctx, tx, tenantID, userID); err != nil {
				return err
			}
		}

		if _, err := tx.Exec(ctx, `DELETE FROM tenant_users WHERE tenant_id = $1 AND user_id = $2`, tenantID, userID); err != nil {
			return fmt.Errorf("delete tenant user: %w", err)
		}
		if _, err := tx.Exec(ctx, `
			UPDATE user_settings SET active_tenant_id = NULL, updated_at = now()
			WHERE user_id = $1 AND active_tenant_id = $2`, userID, tenantID); err != nil {
			return fmt.Errorf("clear active tenant: %w", err)
		}

		return audit(ctx, tx, actor, "tenant_user.remove", tenantID, map[string]any{
			"user_id": userID, "role": current.Role,
		})
	})
}

// lockMembership locks the tenant row, which serialises every membership
// change of the tenant so the owner count cannot race, and returns the
// user's membership.
func lockMembership(ctx context.Context, tx pgx.Tx, tenantID uuid.UUID, userID string) (TenantUser, error) {
	if _, err := lockTenant(ctx, tx, tenantID); err != nil {
		return TenantUser{}, err
	}

	row := tx.QueryRow(ctx, `
		SELECT tenant_id, user_id, role, created_at FROM tenant_users
		WHERE tenant_id = $1 AND user_id = $2`, tenantID, userID)
	u, err := scanTenantUser(row)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return TenantUser{}, fmt.Errorf("select tenant user: %w", err)
	}

	return u, err
}

func requireAnotherOwner(ctx context.Context, tx pgx.Tx, tenantID uuid.UUID, userID string) error {
	var others int
	if err := tx.QueryRow(ctx, `
		SELECT count(*) FROM tenant_users
		WHERE tenant_id = $1 AND role = 'owner' AND user_id <> $2`, tenantID, userID).Scan(&others); err != nil {
		return fmt.Errorf("count tenant owners: %w", err)
	}
	if others == 0 {
		return ErrLastOwner
	}

	return nil
}

// GetMembership returns the user's role in a tenant, or ErrNotFound when the
// user is not a member.
func (s *Store) GetMembership(ctx context.Context, tenantID uuid.UUID, userID string) (Role, error) {
	var role Role
	err := s.pool.QueryRow(ctx,
		`SELECT role FROM tenant_users WHERE tenant_id = $1 AND user_id = $2`, tenantID, userID).Scan(&role)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("select membership: %w", err)
	}

	return role, nil
}

// ListTenantUsers returns up to limit members of a tenant ordered by user
// id, starting after the user id after.
func (s *Store) ListTenantUsers(ctx context.Context, tenantID uuid.UUID, after string, limit int) ([]TenantUser, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT tenant_id, user_id, role, created_at FROM tenant_users
		WHERE tenant_id = $1 AND user_id > $2
		ORDER BY user_id
		LIMIT $3`, tenantID, after, limit)
	if err != nil {
		return nil, fmt.Errorf("list tenant users: %w", err)
	}
	users, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (TenantUser, error) {
		return scanTenantUser(row)
	})
	if err != nil {
		return nil, fmt.Errorf("list tenant users: %w", err)
	}

	return users, nil
}

// ListMemberships returns the tenants that are not purged which userID
// belongs to, ordered by slug, with the user's role in each.
func (s *Store) ListMemberships(ctx context.Context, userID string) ([]Membership, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT `+tenantColumns+`, member_role FROM (
			SELECT t.*, u.role AS member_role
			FROM tenant_users u JOIN tenants t ON t.id = u.tenant_id
			WHERE u.user_id = $1 AND t.status <> 'deleted'
		) AS memberships
		ORDER BY slug`, userID)
	if err != nil {
		return nil, fmt.Errorf("list memberships: %w", err)
	}
	memberships, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Membership, error) {
		var m Membership
		t := &m.Tenant
		err := row.Scan(&t.ID, &t.Name, &t.Slug, &t.Config, &t.Status, &t.ServerID, &t.DatabaseName,
			&t.RoleName, &t.RolePasswordEncrypted, &t.SchemaVersion, &t.LastError,
			&t.CreatedAt, &t.UpdatedAt, &t.DeletedAt, &t.PurgeAfter, &m.Role)
		return m, err
	})
	if err != nil {
		return nil, fmt.Errorf("list memberships: %w", err)
	}

	return memberships, nil
}

// SetActiveTenant records tenantID as the user's active tenant.
func (s *Store) SetActiveTenant(ctx context.Context, userID string, tenantID uuid.UUID) error {
	_, err := s.pool.Exec(ctx, `
		INSERT INTO user_settings (user_id, active_tenant_id) VALUES ($1, $2)
		ON CONFLICT (user_id) DO UPDATE SET active_tenant_id = excluded.active_tenant_id, updated_at = now()`,
		userID, tenantID)
	if err != nil {
		return fmt.Errorf("set active tenant: %w", err)
	}

	return nil
}

// GetActiveTenant returns the user's active tenant, or ErrNotFound when the
// user has none.
func (s *Store) GetActiveTenant(ctx context.Context, userID string) (uuid.UUID, error) {
	var id *uuid.UUID
	err := s.pool.QueryRow(ctx, `SELECT active_tenant_id FROM user_settings WHERE user_id = $1`, userID).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && id == nil) {
		return uuid.Nil, ErrNotFound
	}
	if err != nil {
		return uuid.Nil, fmt.Errorf("select active tenant: %w", err)
	}

	return *id, nil
}
