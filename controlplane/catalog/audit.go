package catalog

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// audit writes one audit event in tx, so the event is stored exactly when
// the change it describes is. details must hold no secret.
func audit(ctx context.Context, tx pgx.Tx, actor, action string, tenantID uuid.UUID, details map[string]any) error {
	if details == nil {
		details = map[string]any{}
	}
	encoded, err := json.Marshal(details)
	if err != nil {
		return fmt.Errorf("encode audit details of %s: %w", action, err)
	}

	_, err = tx.Exec(ctx, `
		INSERT INTO audit_events (actor, action, tenant_id, details)
		VALUES ($1, $2, $3, $4)`, actor, action, tenantID, encoded)
	if err != nil {
		return fmt.Errorf("insert audit event %s: %w", action, err)
	}

	return nil
}
