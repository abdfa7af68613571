// Package catalog stores silo's tenants, their users, the database servers
// that hold tenant databases, and the audit trail, in the control plane's
// PostgreSQL catalog database.
package catalog

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Errors returned by the store. Callers match them with errors.Is or
// errors.As and choose the API's error code from them.
var (
	// ErrNotFound is returned when no tenant or server matches.
	ErrNotFound = errors.New("not found")
	// ErrSlugTaken is returned when another tenant that is not purged holds
	// the slug.
	ErrSlugTaken = errors.New("slug is taken")
	// ErrNoServer is returned when no active database server has room for
	// another tenant.
	ErrNoServer = errors.New("no active database server has capacity")
)

// StatusError is returned when a tenant is not in a status that allows the
// requested change.
type StatusError struct {
	Status Status
	// Change is the rejected change, such as "suspend".
	Change string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("cannot %s a tenant that is %s", e.Change, e.Status)
}

// Store reads and writes the catalog. It is safe for concurrent use.
type Store struct {
	pool *pgxpool.Pool
}

// New returns a store on the catalog database behind pool.
func New(pool *pgxpool.Pool) *Store {
	return &Store{pool: pool}
}

// Pool returns the catalog's connection pool, for the job queue that shares
// the catalog database.
func (s *Store) Pool() *pgxpool.Pool {
	return s.pool
}

// isUniqueViolation reports whether err is a unique_violation on the named
// constraint or index.
func isUniqueViolation(err error, constraint string) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505" && pgErr.ConstraintName == constraint
}

// inTx runs fn in a transaction on the catalog, committing when fn returns
// nil.
func (s *Store) inTx(ctx context.Context, fn func(pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, s.pool, fn)
}
