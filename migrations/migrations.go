// Package migrations embeds silo's two schemas and applies them with
// golang-migrate: the catalog schema (tenants, users, servers, audit) in
// catalog/, and the schema of every tenant database in tenant/.
//
// Each migration file runs as one statement batch over the simple query
// protocol, so PostgreSQL applies it in one implicit transaction: a file is
// applied whole or not at all, even when the process dies half way.
package migrations

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"

	"github.com/golang-migrate/migrate/v4"
	migratepgx "github.com/golang-migrate/migrate/v4/database/pgx/v5"
	"github.com/golang-migrate/migrate/v4/source"
	"github.com/golang-migrate/migrate/v4/source/iofs"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

//go:embed catalog/*.sql tenant/*.sql
var files embed.FS

// Schema is one embedded set of migrations.
type Schema struct {
	dir string
}

var (
	// Catalog is the schema of the control plane's catalog database.
	Catalog = Schema{dir: "catalog"}
	// Tenant is the schema of each tenant's database.
	Tenant = Schema{dir: "tenant"}
)

// Latest returns the highest migration version in the schema.
func (s Schema) Latest() (uint, error) {
	src, err := s.source()
	if err != nil {
		return 0, err
	}
	defer src.Close()

	version, err := src.First()
	if err != nil {
		return 0, fmt.Errorf("read first %s migration: %w", s.dir, err)
	}
	for {
		next, err := src.Next(version)
		if errors.Is(err, fs.ErrNotExist) {
			return version, nil
		}
		if err != nil {
			return 0, fmt.Errorf("read %s migration after %d: %w", s.dir, version, err)
		}
		version = next
	}
}

// Up applies every pending migration of the schema to the database that
// config connects to and returns the version reached.
//
// A database left dirty by a process that died while migrating is repaired
// first: because each file is atomic, the dirty version was not applied, so
// the recorded version is set back to the one before it and the migration
// runs again.
//
// golang-migrate takes no context: ctx bounds only the first connection,
// and migrate's own lock timeout bounds the wait for another process that
// is migrating the same database.
func (s Schema) Up(ctx context.Context, config *pgx.ConnConfig) (uint, error) {
	db := stdlib.OpenDB(*config)
	defer db.Close()

	if err := db.PingContext(ctx); err != nil {
		return 0, fmt.Errorf("connect for %s migrations: %w", s.dir, err)
	}

	m, err := s.migrator(db)
	if err != nil {
		return 0, err
	}
	defer m.Close()

	if err := s.repairDirty(m); err != nil {
		return 0, err
	}

	if err := m.Up(); err != nil && !errors.Is(err, migrate.ErrNoChange) {
		return 0, fmt.Errorf("apply %s migrations: %w", s.dir, err)
	}

	version, _, err := m.Version()
	if err != nil {
		return 0, fmt.Errorf("read %s schema version: %w", s.dir, err)
	}

	return version, nil
}

// Version returns the version applied to the database and whether a
// migration was left half done. A database without migrations is version 0.
func (s Schema) Version(ctx context.Context, config *pgx.ConnConfig) (version uint, dirty bool, err error) {
	db := stdlib.OpenDB(*config)
	defer db.Close()

	if err := db.PingContext(ctx); err != nil {
		return 0, false, fmt.Errorf("connect to read %s schema version: %w", s.dir, err)
	}
	m, err := s.migrator(db)
	if err != nil {
		return 0, false, err
	}
	defer m.Close()

	version, dirty, err = m.Version()
	if errors.Is(err, migrate.ErrNilVersion) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("read %s schema version: %w", s.dir, err)
	}

	return version, dirty, nil
}

func (s Schema) source() (source.Driver, error) {
	src, err := iofs.New(files, s.dir)
	if err != nil {
		return nil, fmt.Errorf("open embedded %s migrations: %w", s.dir, err)
	}

	return src, nil
}

func (s Schema) migrator(db *sql.DB) (*migrate.Migrate, error) {
	src, err := s.source()
	if err != nil {
		return nil, err
	}

	driver, err := migratepgx.WithInstance(db, &migratepgx.Config{})
	if err != nil {
		return nil, fmt.Errorf("prepare %s migrations: %w", s.dir, err)
	}

	m, err := migrate.NewWithInstance("iofs", src, "pgx5", driver)
	if err != nil {
		return nil, fmt.Errorf("prepare %s migrations: %w", s.dir, err)
	}

	return m, nil
}

func (s Schema) repairDirty(m *migrate.Migrate) error {
	version, dirty, err := m.Version()
	if errors.Is(err, migrate.ErrNilVersion) || (err == nil && !dirty) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read %s schema version: %w", s.dir, err)
	}

	src, err := s.source()
	if err != nil {
		return err
	}
	defer src.Close()

	previous, err := src.Prev(version)
	if errors.Is(err, fs.ErrNotExist) {
		// The first migration was not applied: nil version.
		return m.Force(-1)
	}
	if err != nil {
		return fmt.Errorf("find %s migration before dirty version %d: %w", s.dir, version, err)
	}
	if err := m.Force(int(previous)); err != nil {
		return fmt.Errorf("reset dirty %s schema version %d: %w", s.dir, version, err)
	}

	return nil
}
