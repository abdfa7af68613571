package catalog

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

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

// AuditEvent is a row of audit_events.
type AuditEvent struct {
	ID         int64
	OccurredAt time.Time
	Actor      string
	Action     string
	TenantID   *uuid.UUID
	// Details is a JSON object.
	Details []byte
}

// ListAuditEvents returns up to limit events, newest first, with ids below
// before (0 starts at the newest), of one tenant or, when tenantID is nil,
// of all.
func (s *Store) ListAuditEvents(ctx context.Context, tenantID *uuid.UUID, before int64, limit int) ([]AuditEvent, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT id, occurred_at, actor, action, tenant_id, details FROM audit_events
		WHERE ($1::uuid IS NULL OR tenant_id = $1)
		  AND ($2 = 0 OR id < $2)
		ORDER BY id DESC
		LIMIT $3`, tenantID, before, limit)
	if err != nil {
		return nil, fmt.Errorf("list audit events: %w", err)
	}
	events, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (AuditEvent, error) {
		var e AuditEvent
		err := row.Scan(&e.ID, &e.OccurredAt, &e.Actor, &e.Action, &e.TenantID, &e.Details)
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("list audit events: %w", err)
	}

	return events, nil
}
