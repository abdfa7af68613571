package tenancy

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// catalogChannel is the NOTIFY channel of catalog changes; see the catalog
// migration that creates notify_catalog_change.
const catalogChannel = "silo_catalog_changes"

// ChangeKind is the part of the catalog that changed.
type ChangeKind string

// Kinds of catalog changes.
const (
	ChangeTenant ChangeKind = "tenant"
	ChangeMember ChangeKind = "member"
	ChangeActive ChangeKind = "active"
)

// Change is one catalog change as the feed announces it.
type Change struct {
	Kind     ChangeKind `json:"kind"`
	TenantID uuid.UUID  `json:"tenant_id"`
	UserID   string     `json:"user_id"`
	// Evict is set when the tenant's open pools must close.
	Evict bool `json:"evict"`
}

// Listener receives catalog changes and the feed's connection state.
type Listener interface {
	Connected()
	Disconnected()
	Apply(Change)
}

// Feed listens for catalog changes on a dedicated connection to the
// catalog database and passes them to a Listener. It reconnects by itself
// with backoff.
type Feed struct {
	config   *pgx.ConnConfig
	listener Listener
	logger   *slog.Logger
}

// NewFeed returns a feed on the catalog that config connects to.
func NewFeed(config *pgx.ConnConfig, listener Listener, logger *slog.Logger) *Feed {
	return &Feed{config: config, listener: listener, logger: logger}
}

// Run listens until ctx ends.
func (f *Feed) Run(ctx context.Context) {
	const minBackoff, maxBackoff = 100 * time.Millisecond, 5 * time.Second

	backoff := minBackoff
	for ctx.Err() == nil {
		err := f.listen(ctx, func() { backoff = minBackoff })
		f.listener.Disconnected()
		if ctx.Err() != nil {
			return
		}
		f.logger.WarnContext(ctx, "catalog change feed lost; reconnecting", "error", err, "retry_in", backoff)

		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

func (f *Feed) listen(ctx context.Context, connected func()) error {
	conn, err := pgx.ConnectConfig(ctx, f.config)
	if err != nil {
		return fmt.Errorf("connect to catalog: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))

	if _, err := conn.Exec(ctx, "LISTEN "+catalogChannel); err != nil {
		return fmt.Errorf("listen for catalog changes: %w", err)
	}
	f.listener.Connected()
	connected()
	f.logger.DebugContext(ctx, "catalog change feed connected")

	for {
		notification, err := conn.WaitForNotification(ctx)
		if err != nil {
			return fmt.Errorf("wait for catalog change: %w", err)
		}

		var change Change
		if err := json.Unmarshal([]byte(notification.Payload), &change); err != nil {
			// A change that cannot be read may touch anything cached.
			f.logger.ErrorContext(ctx, "unreadable catalog change; dropping the cache", "error", err)
			f.listener.Connected()
			continue
		}
		f.listener.Apply(change)
	}
}
