package server

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"

	"silo.dev/silo/migrations"
)

// MigrateURL applies the catalog schema and the job queue's tables to the
// catalog database at url, for `silo migrate`.
func MigrateURL(ctx context.Context, url string, logger *slog.Logger) error {
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return fmt.Errorf("open catalog pool: %w", err)
	}
	defer pool.Close()

	return Migrate(ctx, pool, logger)
}

// Migrate applies the catalog schema and the job queue's tables to the
// catalog database behind pool.
func Migrate(ctx context.Context, pool *pgxpool.Pool, logger *slog.Logger) error {
	version, err := migrations.Catalog.Up(ctx, pool.Config().ConnConfig)
	if err != nil {
		return err
	}

	migrator, err := rivermigrate.New(riverpgxv5.New(pool), &rivermigrate.Config{Logger: logger})
	if err != nil {
		return fmt.Errorf("prepare job queue migrations: %w", err)
	}
	result, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil)
	if err != nil {
		return fmt.Errorf("apply job queue migrations: %w", err)
	}

	logger.InfoContext(ctx, "catalog migrated", "catalog_version", version, "job_queue_versions_applied", len(result.Versions))

	return nil
}

// migrated reports whether the catalog holds the schema this binary
// expects and the job queue's tables.
func migrated(ctx context.Context, pool *pgxpool.Pool) (bool, error) {
	latest, err := migrations.Catalog.Latest()
	if err != nil {
		return false, err
	}

	var version int64
	var dirty, queue bool
	err = pool.QueryRow(ctx, `
		SELECT coalesce((SELECT version FROM schema_migrations), 0),
		       coalesce((SELECT dirty FROM schema_migrations), false),
		       to_regclass('river_job') IS NOT NULL`).Scan(&version, &dirty, &queue)
	if err != nil {
		return false, fmt.Errorf("read catalog schema version: %w", err)
	}

	return version >= int64(latest) && !dirty && queue, nil
}
