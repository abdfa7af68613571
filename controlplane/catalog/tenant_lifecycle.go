package catalog

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// SystemActor is the audit actor of changes silo makes by itself, such as
// finishing provisioning or purging a deleted tenant.
const SystemActor = "silo"

// MarkActive records that a provisioning tenant's database is ready at
// schemaVersion. It reports false, and changes nothing, when the tenant is
// no longer provisioning (deleted meanwhile, say).
func (s *Store) MarkActive(ctx context.Context, id uuid.UUID, schemaVersion int64) (bool, error) {
	var changed bool
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `
			UPDATE tenants SET status = 'active', schema_version = $2, last_error = NULL, updated_at = now()
			WHERE id = $1 AND status = 'provisioning'`, id, schemaVersion)
		if err != nil {
			return fmt.Errorf("mark tenant %s active: %w", id, err)
		}
		changed = tag.RowsAffected() == 1
		if !changed {
			return nil
		}

		return audit(ctx, tx, SystemActor, "tenant.provisioned", id, map[string]any{"schema_version": schemaVersion})
	})

	return changed, err
}

// RecordProvisionError stores why a provisioning attempt failed. With final
// set, the tenant also moves to failed, because no attempt is left.
func (s *Store) RecordProvisionError(ctx context.Context, id uuid.UUID, message string, final bool) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `
			UPDATE tenants SET last_error = $2, updated_at = now(),
				status = CASE WHEN $3 THEN 'failed' ELSE status END
			WHERE id = $1 AND status = 'provisioning'`, id, message, final)
		if err != nil {
			return fmt.Errorf("record provisioning error of tenant %s: %w", id, err)
		}
		if !final || tag.RowsAffected() == 0 {
			return nil
		}

		return audit(ctx, tx, SystemActor, "tenant.provision_failed", id, map[string]any{"error": message})
	})
}

// MarkPurged records that a deleting tenant's database and role are gone.
// Its slug becomes free. It reports false when the tenant is not deleting.
func (s *Store) MarkPurged(ctx context.Context, id uuid.UUID) (bool, error) {
	var changed bool
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `
			UPDATE tenants SET status = 'deleted', updated_at = now()
			WHERE id = $1 AND status = 'deleting'`, id)
		if err != nil {
			return fmt.Errorf("mark tenant %s purged: %w", id, err)
		}
		changed = tag.RowsAffected() == 1
		if !changed {
			return nil
		}

		return audit(ctx, tx, SystemActor, "tenant.purge", id, nil)
	})

	return changed, err
}
