package provision

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"silo.dev/silo/controlplane/catalog"
)

// Purge drops a deleting tenant's database and role once its purge time has
// passed, then records the tenant as deleted. It returns the time to try
// again when the purge time is still ahead, and zero otherwise. A tenant in
// any other status is left alone, so a purge scheduled before a restore
// does nothing.
func (p *Provisioner) Purge(ctx context.Context, id uuid.UUID) (time.Duration, error) {
	unlock, err := lockTenant(ctx, p.store.Pool(), id)
	if err != nil {
		return 0, err
	}
	defer unlock()

	t, err := p.store.GetTenant(ctx, id)
	if err != nil {
		return 0, fmt.Errorf("load tenant: %w", err)
	}
	if t.Status != catalog.StatusDeleting || t.PurgeAfter == nil {
		p.logger.DebugContext(ctx, "purge skipped", "tenant_id", id, "status", t.Status)
		return 0, nil
	}
	if wait := time.Until(*t.PurgeAfter); wait > 0 {
		return wait, nil
	}

	admin, _, err := p.servers.Admin(ctx, t.ServerID)
	if err != nil {
		return 0, err
	}
	// FORCE ends the sessions still connected, such as data plane pools
	// that have not noticed the deletion yet.
	if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{t.DatabaseName}.Sanitize()+" WITH (FORCE)"); err != nil {
		return 0, fmt.Errorf("drop database %s: %w", t.DatabaseName, err)
	}
	if _, err := admin.Exec(ctx, "DROP ROLE IF EXISTS "+pgx.Identifier{t.RoleName}.Sanitize()); err != nil {
		return 0, fmt.Errorf("drop role %s: %w", t.RoleName, err)
	}
	if _, err := p.store.MarkPurged(ctx, id); err != nil {
		return 0, err
	}

	p.logger.InfoContext(ctx, "tenant purged", "tenant_id", id, "database", t.DatabaseName)

	return 0, nil
}
