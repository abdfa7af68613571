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

// restrictCatalog takes CONNECT and TEMPORARY on the catalog database away
// from PUBLIC. PostgreSQL grants both to PUBLIC on every new database, so
// without this a tenant role on the catalog's server could log in to the
// catalog and, for one, send notifications on the job queue's control
// channel. The REVOKE takes effect only when silo's catalog role owns the
// database. Otherwise a warning tells the operator the statement to run.
func restrictCatalog(ctx context.Context, pool *pgxpool.Pool, logger *slog.Logger) error {
	_, err := pool.Exec(ctx, `DO $$ BEGIN
		EXECUTE format('REVOKE CONNECT, TEMPORARY ON DATABASE %I FROM PUBLIC', current_database());
	END $$`)
	if err != nil {
		return fmt.Errorf("revoke public access to the catalog database: %w", err)
	}

	var open bool
	var database string
	if err := pool.QueryRow(ctx,
		`SELECT has_database_privilege('public', current_database(), 'CONNECT'), current_database()`).Scan(&open, &database); err != nil {
		return fmt.Errorf("check public access to the catalog database: %w", err)
	}
	if open {
		logger.WarnContext(ctx, "every role may connect to the catalog database; as its owner run: REVOKE CONNECT, TEMPORARY ON DATABASE ... FROM PUBLIC",
			"database", database)
	}

	return nil
}
