// Package provision creates and drops tenant databases. Each tenant's work
// runs as a durable River job on the catalog database. Every step is
// idempotent, so a job retried after a crash or an error at any point
// finishes the work instead of failing on objects that already exist.
package provision

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"silo.dev/silo/controlplane/catalog"
	"silo.dev/silo/internal/secret"
	"silo.dev/silo/migrations"
)

// Step names one provisioning step, in the order they run.
type Step string

// Provisioning steps.
const (
	StepRole     Step = "role"
	StepDatabase Step = "database"
	StepRevoke   Step = "revoke"
	StepMigrate  Step = "migrate"
	StepStamp    Step = "stamp"
	StepActivate Step = "activate"
)

// Steps lists every step in the order Provision runs them.
var Steps = []Step{StepRole, StepDatabase, StepRevoke, StepMigrate, StepStamp, StepActivate}

// errPermanent marks failures that no retry can fix, such as a tenant
// database stamped with another tenant's id.
var errPermanent = errors.New("permanent provisioning failure")

// Provisioner runs the provisioning and purge steps for one tenant at a
// time; the job queue calls it concurrently for different tenants.
type Provisioner struct {
	store     *catalog.Store
	box       *secret.Box
	servers   *ServerPools
	connLimit int
	logger    *slog.Logger

	// afterStep, when set, runs after each provisioning step. Tests use it
	// to make a step fail as if the process had died right after it.
	afterStep func(ctx context.Context, tenantID uuid.UUID, step Step) error
}

// NewProvisioner returns a provisioner that creates each tenant role with
// CONNECTION LIMIT connLimit.
func NewProvisioner(store *catalog.Store, box *secret.Box, servers *ServerPools, connLimit int, logger *slog.Logger) *Provisioner {
	return &Provisioner{store: store, box: box, servers: servers, connLimit: connLimit, logger: logger}
}

// SetAfterStep installs a function that runs after each step and whose
// error fails the attempt. It is meant for tests of retries; call it
// before the job queue starts.
func (p *Provisioner) SetAfterStep(fn func(ctx context.Context, tenantID uuid.UUID, step Step) error) {
	p.afterStep = fn
}

// Provision brings a tenant that is provisioning to active: its role, its
// database, the tenant schema and the identity stamp. A tenant in any other
// status is left alone, so a job for a tenant deleted meanwhile ends
// quietly.
func (p *Provisioner) Provision(ctx context.Context, id uuid.UUID) error {
	unlock, err := lockTenant(ctx, p.store.Pool(), id)
	if err != nil {
		return err
	}
	defer unlock()

	t, err := p.store.GetTenant(ctx, id)
	if err != nil {
		return fmt.Errorf("load tenant: %w", err)
	}
	if t.Status != catalog.StatusProvisioning {
		p.logger.DebugContext(ctx, "provisioning skipped", "tenant_id", id, "status", t.Status)
		return nil
	}

	admin, adminConfig, err := p.servers.Admin(ctx, t.ServerID)
	if err != nil {
		return err
	}
	password, err := p.box.Open(t.RolePasswordEncrypted, id[:])
	if err != nil {
		return fmt.Errorf("decrypt role password: %w", err)
	}
	tenantConfig := TenantConnConfig(adminConfig, t, string(password))

	var version uint
	var activated bool
	steps := []struct {
		step Step
		run  func() error
	}{
		{StepRole, func() error { return p.ensureRole(ctx, admin, t.RoleName, string(password)) }},
		{StepDatabase, func() error { return ensureDatabase(ctx, admin, t.DatabaseName, t.RoleName) }},
		{StepRevoke, func() error { return revokePublic(ctx, admin, t.DatabaseName) }},
		{StepMigrate, func() error {
			var err error
			version, err = migrations.Tenant.Up(ctx, tenantConfig)
			return err
		}},
		{StepStamp, func() error { return stampAndVerify(ctx, tenantConfig, id) }},
		{StepActivate, func() error {
			var err error
			activated, err = p.store.MarkActive(ctx, id, int64(version))
			return err
		}},
	}
	for _, s := range steps {
		if err := s.run(); err != nil {
			return fmt.Errorf("step %s: %w", s.step, err)
		}
		if p.afterStep != nil {
			if err := p.afterStep(ctx, id, s.step); err != nil {
				return fmt.Errorf("after step %s: %w", s.step, err)
			}
		}
	}

	if activated {
		p.logger.InfoContext(ctx, "tenant provisioned", "tenant_id", id, "database", t.DatabaseName, "schema_version", version)
	}

	return nil
}

// ensureRole creates the tenant's login role, or resets the login, limit
// and password of one left by an earlier attempt. The password reaches
// PostgreSQL only as a SCRAM-SHA-256 verifier, so statement logs on the
// server cannot show it.
//
// The administrator need not be a superuser: CREATEROLE and CREATEDB are
// enough. Such an administrator is made a member of the tenant role, which
// PostgreSQL 15 requires to create a database owned by it and to drop it
// later.
func (p *Provisioner) ensureRole(ctx context.Context, admin *pgxpool.Pool, role, password string) error {
	verifier, err := secret.SCRAMVerifier(password)
	if err != nil {
		return err
	}
	if !verifierPattern.MatchString(verifier) {
		return fmt.Errorf("%w: SCRAM verifier has an unexpected form", errPermanent)
	}

	login := fmt.Sprintf("LOGIN CONNECTION LIMIT %d PASSWORD %s", p.connLimit, quoteLiteral(verifier))
	quoted := pgx.Identifier{role}.Sanitize()

	var exists, superuser bool
	if err := admin.QueryRow(ctx, `
		SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1),
		       (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)`, role).Scan(&exists, &superuser); err != nil {
		return fmt.Errorf("look up role: %w", err)
	}
	created := false
	if !exists {
		_, err := admin.Exec(ctx, "CREATE ROLE "+quoted+" WITH NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT "+login)
		switch {
		case err == nil:
			created = true
		case !hasCode(err, "42710"): // duplicate_object: created concurrently
			return fmt.Errorf("create role %s: %w", role, err)
		}
	}
	if !created {
		if _, err := admin.Exec(ctx, "ALTER ROLE "+quoted+" WITH "+login); err != nil {
			return fmt.Errorf("alter role %s: %w", role, err)
		}
	}

	if !superuser {
		if _, err := admin.Exec(ctx, "GRANT "+quoted+" TO CURRENT_USER"); err != nil {
			return fmt.Errorf("grant role %s to the administrator: %w", role, err)
		}
	}

	return checkRoleAttributes(ctx, admin, role)
}

// checkRoleAttributes fails for good when the tenant role can do more than
// log in, which happens only if someone else created a role of that name.
func checkRoleAttributes(ctx context.Context, admin *pgxpool.Pool, role string) error {
	var elevated bool
	if err := admin.QueryRow(ctx, `
		SELECT rolsuper OR rolcreatedb OR rolcreaterole OR rolreplication OR rolbypassrls
		FROM pg_roles WHERE rolname = $1`, role).Scan(&elevated); err != nil {
		return fmt.Errorf("check attributes of role %s: %w", role, err)
	}
	if elevated {
		return fmt.Errorf("%w: role %s has attributes beyond LOGIN; drop or fix it by hand", errPermanent, role)
	}

	return nil
}

// verifierPattern is the form of a SCRAM-SHA-256 verifier. Checking it
// before the verifier is spliced into DDL keeps the literal safe even if
// the verifier code changes.
var verifierPattern = regexp.MustCompile(`^SCRAM-SHA-256\$[0-9]+:[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$`)

// ensureDatabase creates the tenant's database owned by its role, or gives
// an existing one to the role. It copies template0, which accepts no
// connections, so a session left on template1 cannot make it fail.
func ensureDatabase(ctx context.Context, admin *pgxpool.Pool, database, role string) error {
	quotedDB := pgx.Identifier{database}.Sanitize()
	quotedRole := pgx.Identifier{role}.Sanitize()

	var owner string
	err := admin.QueryRow(ctx,
		`SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = $1`, database).Scan(&owner)
	if errors.Is(err, pgx.ErrNoRows) {
		_, err = admin.Exec(ctx, "CREATE DATABASE "+quotedDB+" OWNER "+quotedRole+" TEMPLATE template0 ENCODING 'UTF8'")
		if err == nil {
			return nil
		}
		if !hasCode(err, "42P04") { // duplicate_database: created concurrently
			return fmt.Errorf("create database %s: %w", database, err)
		}
		owner = ""
	} else if err != nil {
		return fmt.Errorf("look up database %s: %w", database, err)
	}

	if owner == role {
		return nil
	}
	if _, err := admin.Exec(ctx, "ALTER DATABASE "+quotedDB+" OWNER TO "+quotedRole); err != nil {
		return fmt.Errorf("give database %s to its role: %w", database, err)
	}

	return nil
}

// revokePublic takes CONNECT and TEMPORARY on the tenant's database away
// from PUBLIC, so only its own role (the owner) and superusers can use it.
func revokePublic(ctx context.Context, admin *pgxpool.Pool, database string) error {
	quoted := pgx.Identifier{database}.Sanitize()
	if _, err := admin.Exec(ctx, "REVOKE CONNECT, TEMPORARY ON DATABASE "+quoted+" FROM PUBLIC"); err != nil {
		return fmt.Errorf("revoke public access to database %s: %w", database, err)
	}

	return nil
}

// stampAndVerify writes the tenant's id into its database once, as the
// tenant's role, and checks that the database holds this tenant's id and
// that the role owns every schema object in it.
func stampAndVerify(ctx context.Context, config *pgx.ConnConfig, id uuid.UUID) error {
	conn, err := pgx.ConnectConfig(ctx, config)
	if err != nil {
		return fmt.Errorf("connect as tenant role: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))

	if _, err := conn.Exec(ctx,
		`INSERT INTO tenant_identity (tenant_id) VALUES ($1) ON CONFLICT (singleton) DO NOTHING`, id); err != nil {
		return fmt.Errorf("stamp tenant id: %w", err)
	}
	var stamped uuid.UUID
	if err := conn.QueryRow(ctx, `SELECT tenant_id FROM tenant_identity`).Scan(&stamped); err != nil {
		return fmt.Errorf("read tenant stamp: %w", err)
	}
	if stamped != id {
		return fmt.Errorf("%w: database is stamped for tenant %s", errPermanent, stamped)
	}

	var foreign []string
	rows, err := conn.Query(ctx, `
		SELECT n.nspname || '.' || c.relname
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
		  AND c.relowner <> (SELECT oid FROM pg_roles WHERE rolname = current_user)
		ORDER BY 1`)
	if err == nil {
		foreign, err = pgx.CollectRows(rows, pgx.RowTo[string])
	}
	if err != nil {
		return fmt.Errorf("check object owners: %w", err)
	}
	if len(foreign) > 0 {
		return fmt.Errorf("%w: objects not owned by the tenant role: %s", errPermanent, strings.Join(foreign, ", "))
	}

	return nil
}

// quoteLiteral returns s as a SQL string literal. It assumes
// standard_conforming_strings is on, PostgreSQL's default since 9.1.
func quoteLiteral(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

func hasCode(err error, code string) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == code
}
