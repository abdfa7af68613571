// Package config reads silo's configuration from SILO_* environment
// variables into one struct and checks it before anything starts.
package config

import (
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/kelseyhightower/envconfig"

	"silo.dev/silo/internal/secret"
)

// Prefix is the prefix of every environment variable silo reads.
const Prefix = "SILO"

// Config is the whole configuration of a silo process. Each field is read
// from the variable named by its envconfig tag with the SILO_ prefix.
type Config struct {
	CatalogURL        string        `envconfig:"CATALOG_URL" desc:"PostgreSQL URL of the catalog database (tenants, users, job queue); required except for --role dataplane"`
	HTTPAddr          string        `envconfig:"HTTP_ADDR" default:"127.0.0.1:8080" desc:"host:port the HTTP server (Connect, gRPC, REST, health, metrics) listens on"`
	DatabaseServerURL string        `envconfig:"DATABASE_SERVER_URL" desc:"PostgreSQL URL of an administrator on the server that holds new tenant databases; empty means the catalog's server with the catalog's credentials"`
	EncryptionKey     string        `envconfig:"ENCRYPTION_KEY" desc:"base64 of 32 random bytes; encrypts tenant role passwords and server credentials in the catalog"`
	DeleteGracePeriod time.Duration `envconfig:"DELETE_GRACE_PERIOD" default:"168h" desc:"time between DeleteTenant and dropping the tenant's database; 0s drops it at once"`
	ProvisionTimeout  time.Duration `envconfig:"PROVISION_TIMEOUT" default:"30s" desc:"longest time CreateTenant waits for provisioning before it returns the tenant still provisioning"`

	TenantConnectionLimit int  `envconfig:"TENANT_CONNECTION_LIMIT" default:"20" desc:"CONNECTION LIMIT of each tenant's database role"`
	MigrateOnStart        bool `envconfig:"MIGRATE_ON_START" default:"true" desc:"apply catalog and job queue migrations when serve starts"`

	JobTimeout           time.Duration `envconfig:"JOB_TIMEOUT" default:"20s" desc:"longest run of one provisioning or purge attempt before it is cancelled and retried"`
	JobRescueAfter       time.Duration `envconfig:"JOB_RESCUE_AFTER" default:"25s" desc:"time after which a job left running by a crashed process is retried; must exceed SILO_JOB_TIMEOUT"`
	ProvisionMaxAttempts int           `envconfig:"PROVISION_MAX_ATTEMPTS" default:"20" desc:"attempts of a provisioning job before the tenant is marked failed"`

	Auth
	TokenSigningKey string        `envconfig:"TOKEN_SIGNING_KEY" desc:"base64 of at least 32 bytes; signs the tenant-scoped tokens silo issues"`
	TokenIssuer     string        `envconfig:"TOKEN_ISSUER" default:"silo" desc:"iss claim of tenant-scoped tokens; must differ from SILO_AUTH_ISSUER"`
	TenantTokenTTL  time.Duration `envconfig:"TENANT_TOKEN_TTL" default:"15m" desc:"lifetime of tenant-scoped tokens"`
	MaxRequestBytes int64         `envconfig:"MAX_REQUEST_BYTES" default:"1048576" desc:"largest request body accepted"`

	PoolCacheSize        int           `envconfig:"POOL_CACHE_SIZE" default:"100" desc:"most tenant pools a data plane keeps open"`
	PoolMaxConns         int32         `envconfig:"POOL_MAX_CONNS" default:"5" desc:"connection cap of each tenant pool"`
	PoolConnectionBudget int           `envconfig:"POOL_CONNECTION_BUDGET" default:"600" desc:"cap on the connections a data plane holds to tenant databases, pools still closing included; at least SILO_POOL_CACHE_SIZE times SILO_POOL_MAX_CONNS"`
	PoolIdleTTL          time.Duration `envconfig:"POOL_IDLE_TTL" default:"10m" desc:"a tenant pool unused this long is closed"`
	ResolveStaleTTL      time.Duration `envconfig:"RESOLVE_STALE_TTL" default:"5m" desc:"how long cached tenants keep being served while the catalog cannot be reached"`

	ServiceToken    string `envconfig:"SERVICE_TOKEN" desc:"shared secret of at least 32 characters that data planes send to the control plane's internal catalog API; required for --role controlplane and --role dataplane"`
	ControlPlaneURL string `envconfig:"CONTROL_PLANE_URL" desc:"http(s) base URL of the control plane, such as http://silo-control:8080; required for --role dataplane"`

	ShutdownTimeout time.Duration `envconfig:"SHUTDOWN_TIMEOUT" default:"15s" desc:"longest wait for in-flight requests and jobs at shutdown"`
	LogLevel        slog.Level    `envconfig:"LOG_LEVEL" default:"info" desc:"minimum level of log records: debug, info, warn or error"`
	LogFormat       string        `envconfig:"LOG_FORMAT" default:"json" desc:"log record format: json or text"`

	// Decoded by Validate from the base64 fields above.
	encryptionKey   secret.Key
	tokenSigningKey []byte
}

// Auth is the user token verification settings, the part of the
// configuration that `silo token` needs too.
type Auth struct {
	AuthIssuer     string `envconfig:"AUTH_ISSUER" default:"silo-dev" desc:"required iss claim of user tokens"`
	AuthAudience   string `envconfig:"AUTH_AUDIENCE" default:"silo" desc:"required aud claim of every token"`
	AuthHMACKey    string `envconfig:"AUTH_HMAC_KEY" desc:"base64 of at least 32 bytes; verifies HS256/384/512 user tokens (development)"`
	AuthJWKSURL    string `envconfig:"AUTH_JWKS_URL" desc:"JWKS file path or http(s) URL whose public keys verify user tokens (production)"`
	AuthAdminClaim string `envconfig:"AUTH_ADMIN_CLAIM" default:"silo_admin" desc:"claim that marks platform administrators when it is true"`

	// authHMACKey is AuthHMACKey decoded by validate.
	authHMACKey []byte
}

// LoadAuth reads only the user token settings, for commands that sign
// development tokens.
func LoadAuth() (*Auth, error) {
	var a Auth
	if err := envconfig.Process(Prefix, &a); err != nil {
		return nil, fmt.Errorf("read configuration: %w", err)
	}
	var errs []error
	a.validate(func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) })
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}

	return &a, nil
}

func (a *Auth) validate(add func(string, ...any)) {
	a.authHMACKey = decodeSigningKey("SILO_AUTH_HMAC_KEY", a.AuthHMACKey, false, add)
	if a.AuthHMACKey == "" && a.AuthJWKSURL == "" {
		add("SILO_AUTH_HMAC_KEY or SILO_AUTH_JWKS_URL: set at least one, so user tokens can be verified")
	}
	if a.AuthIssuer == "" {
		add("SILO_AUTH_ISSUER: must not be empty")
	}
	if a.AuthAudience == "" {
		add("SILO_AUTH_AUDIENCE: must not be empty")
	}
	if a.AuthAdminClaim == "" {
		add("SILO_AUTH_ADMIN_CLAIM: must not be empty")
	}
}

// AuthHMACKeyBytes returns the decoded SILO_AUTH_HMAC_KEY; nil when unset.
func (a *Auth) AuthHMACKeyBytes() []byte {
	return a.authHMACKey
}

// Load reads the environment and validates the result. Its errors name the
// variable at fault and never contain a secret's value.
func Load() (*Config, error) {
	var c Config
	if err := envconfig.Process(Prefix, &c); err != nil {
		return nil, fmt.Errorf("read configuration: %w", err)
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}

	return &c, nil
}

// Validate checks every setting and decodes the encryption key. It returns
// all problems found, joined.
func (c *Config) Validate() error {
	var errs []error
	add := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf(format, args...))
	}

	// Whether the catalog is required depends on the role; server.New
	// checks that.
	if c.CatalogURL == "" {
		// Nothing to parse.
	} else if _, err := pgx.ParseConfig(c.CatalogURL); err != nil {
		// pgx masks the password in parse errors, so err can be shown.
		add("SILO_CATALOG_URL: invalid PostgreSQL URL: %v", err)
	}
	if c.DatabaseServerURL != "" {
		if _, err := pgx.ParseConfig(c.DatabaseServerURL); err != nil {
			add("SILO_DATABASE_SERVER_URL: invalid PostgreSQL URL: %v", err)
		}
	}
	if c.HTTPAddr == "" {
		add("SILO_HTTP_ADDR: must not be empty")
	}

	const keyHint = "generate one with: head -c 32 /dev/urandom | base64"
	if c.EncryptionKey == "" {
		add("SILO_ENCRYPTION_KEY: required; %s", keyHint)
	} else if key, err := secret.ParseKey(c.EncryptionKey); err != nil {
		// ParseKey's errors never contain the value.
		add("SILO_ENCRYPTION_KEY: %v; %s", err, keyHint)
	} else {
		c.encryptionKey = key
	}

	c.validate(add)
	c.tokenSigningKey = decodeSigningKey("SILO_TOKEN_SIGNING_KEY", c.TokenSigningKey, true, add)
	if c.TokenIssuer == "" || c.TokenIssuer == c.AuthIssuer {
		add("SILO_TOKEN_ISSUER: must be set and differ from SILO_AUTH_ISSUER (%q)", c.AuthIssuer)
	}
	if c.TenantTokenTTL <= 0 {
		add("SILO_TENANT_TOKEN_TTL: must be positive, got %s", c.TenantTokenTTL)
	}
	if c.MaxRequestBytes < 1024 {
		add("SILO_MAX_REQUEST_BYTES: must be at least 1024, got %d", c.MaxRequestBytes)
	}
	if c.PoolCacheSize < 1 {
		add("SILO_POOL_CACHE_SIZE: must be at least 1, got %d", c.PoolCacheSize)
	}
	if c.PoolMaxConns < 1 {
		add("SILO_POOL_MAX_CONNS: must be at least 1, got %d", c.PoolMaxConns)
	}
	if need := c.PoolCacheSize * int(c.PoolMaxConns); c.PoolConnectionBudget < need {
		add("SILO_POOL_CONNECTION_BUDGET: %d is less than SILO_POOL_CACHE_SIZE (%d) times SILO_POOL_MAX_CONNS (%d) = %d; raise the budget or lower one of them",
			c.PoolConnectionBudget, c.PoolCacheSize, c.PoolMaxConns, need)
	}
	if c.PoolIdleTTL <= 0 {
		add("SILO_POOL_IDLE_TTL: must be positive, got %s", c.PoolIdleTTL)
	}
	if c.ResolveStaleTTL < 0 {
		add("SILO_RESOLVE_STALE_TTL: must not be negative, got %s", c.ResolveStaleTTL)
	}
	if c.DeleteGracePeriod < 0 {
		add("SILO_DELETE_GRACE_PERIOD: must not be negative, got %s", c.DeleteGracePeriod)
	}
	if c.ProvisionTimeout <= 0 {
		add("SILO_PROVISION_TIMEOUT: must be positive, got %s", c.ProvisionTimeout)
	}
	if c.TenantConnectionLimit < 1 {
		add("SILO_TENANT_CONNECTION_LIMIT: must be at least 1, got %d", c.TenantConnectionLimit)
	}
	if c.JobTimeout <= 0 {
		add("SILO_JOB_TIMEOUT: must be positive, got %s", c.JobTimeout)
	}
	if c.JobRescueAfter <= c.JobTimeout {
		add("SILO_JOB_RESCUE_AFTER: must exceed SILO_JOB_TIMEOUT (%s), got %s", c.JobTimeout, c.JobRescueAfter)
	}
	if c.ProvisionMaxAttempts < 1 {
		add("SILO_PROVISION_MAX_ATTEMPTS: must be at least 1, got %d", c.ProvisionMaxAttempts)
	}
	if c.ServiceToken != "" && len(c.ServiceToken) < MinServiceTokenLength {
		add("SILO_SERVICE_TOKEN: %d characters, want at least %d; generate one with: head -c 32 /dev/urandom | base64",
			len(c.ServiceToken), MinServiceTokenLength)
	}
	if c.ControlPlaneURL != "" {
		if err := checkHTTPURL(c.ControlPlaneURL); err != nil {
			add("SILO_CONTROL_PLANE_URL: %v", err)
		}
	}
	if c.ShutdownTimeout <= 0 {
		add("SILO_SHUTDOWN_TIMEOUT: must be positive, got %s", c.ShutdownTimeout)
	}
	if c.LogFormat != "json" && c.LogFormat != "text" {
		add("SILO_LOG_FORMAT: must be json or text, got %q", c.LogFormat)
	}

	return errors.Join(errs...)
}

// MinServiceTokenLength is the shortest SILO_SERVICE_TOKEN accepted, in
// bytes: 32 random bytes in base64 are 44.
const MinServiceTokenLength = 32

// checkHTTPURL checks that raw is an absolute http or https URL with a
// host. Its errors contain no part of raw, which may carry credentials.
func checkHTTPURL(raw string) error {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return errors.New("not a valid URL")
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("scheme must be http or https, got %q", u.Scheme)
	case u.Host == "":
		return errors.New("missing host; use a base URL such as http://silo-control:8080")
	}

	return nil
}

// Key returns the decoded SILO_ENCRYPTION_KEY; the zero key before Validate
// succeeds.
func (c *Config) Key() secret.Key {
	return c.encryptionKey
}

// TokenSigningKeyBytes returns the decoded SILO_TOKEN_SIGNING_KEY.
func (c *Config) TokenSigningKeyBytes() []byte {
	return c.tokenSigningKey
}

// minSigningKeyBytes is the shortest HMAC key accepted: 256 bits, the
// output size of SHA-256, as RFC 7518 requires for HS256.
const minSigningKeyBytes = 32

// decodeSigningKey decodes a base64 HMAC key from variable, reporting
// problems through add without echoing the value.
func decodeSigningKey(variable, value string, required bool, add func(string, ...any)) []byte {
	const hint = "generate one with: head -c 32 /dev/urandom | base64"
	if value == "" {
		if required {
			add("%s: required; %s", variable, hint)
		}
		return nil
	}

	key, err := base64.StdEncoding.DecodeString(value)
	switch {
	case err != nil:
		add("%s: not valid standard base64; %s", variable, hint)
		return nil
	case len(key) < minSigningKeyBytes:
		add("%s: decodes to %d bytes, want at least %d; %s", variable, len(key), minSigningKeyBytes, hint)
		return nil
	}

	return key
}

// ServerURL returns the administrator URL for tenant databases:
// SILO_DATABASE_SERVER_URL, or the catalog's URL when that is unset.
func (c *Config) ServerURL() string {
	if c.DatabaseServerURL != "" {
		return c.DatabaseServerURL
	}

	return c.CatalogURL
}
