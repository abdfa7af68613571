package config

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"silo.dev/silo/internal/secret"
)

const validKey = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="

func setValid(t *testing.T) {
	t.Helper()
	t.Setenv("SILO_CATALOG_URL", "postgres://silo:catalog-pw@127.0.0.1:5432/silo")
	t.Setenv("SILO_ENCRYPTION_KEY", validKey)
	t.Setenv("SILO_AUTH_HMAC_KEY", validKey)
	t.Setenv("SILO_TOKEN_SIGNING_KEY", validKey)
}

func TestLoadDefaults(t *testing.T) {
	setValid(t)

	c, err := Load()
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:8080", c.HTTPAddr)
	require.Equal(t, 168*time.Hour, c.DeleteGracePeriod)
	require.Equal(t, 30*time.Second, c.ProvisionTimeout)
	require.Equal(t, 20, c.TenantConnectionLimit)
	require.True(t, c.MigrateOnStart)
	require.NotEqual(t, secret.Key{}, c.Key())
	require.Equal(t, c.CatalogURL, c.ServerURL())
}

func TestLoadServerURL(t *testing.T) {
	setValid(t)
	t.Setenv("SILO_DATABASE_SERVER_URL", "postgres://admin:pw@127.0.0.1:6543/postgres")

	c, err := Load()
	require.NoError(t, err)
	require.Equal(t, "postgres://admin:pw@127.0.0.1:6543/postgres", c.ServerURL())
}

func TestLoadZeroGracePeriod(t *testing.T) {
	setValid(t)
	t.Setenv("SILO_DELETE_GRACE_PERIOD", "0s")

	c, err := Load()
	require.NoError(t, err)
	require.Zero(t, c.DeleteGracePeriod)
}

func TestLoadUnsetRequired(t *testing.T) {
	for _, variable := range []string{"SILO_ENCRYPTION_KEY", "SILO_TOKEN_SIGNING_KEY"} {
		t.Run(variable, func(t *testing.T) {
			setValid(t)
			t.Setenv(variable, "")
			require.NoError(t, os.Unsetenv(variable))

			_, err := Load()

			require.Error(t, err)
			require.Contains(t, err.Error(), variable)
		})
	}
}

func TestLoadRejects(t *testing.T) {
	for _, tc := range []struct {
		name     string
		variable string
		value    string
		secret   string
	}{
		{name: "malformed catalog", variable: "SILO_CATALOG_URL", value: "postgres://u:hunter2@h:port/db", secret: "hunter2"},
		{name: "malformed server", variable: "SILO_DATABASE_SERVER_URL", value: "postgres://u:hunter2@h:99999/db", secret: "hunter2"},
		{name: "missing key", variable: "SILO_ENCRYPTION_KEY", value: ""},
		{name: "key not base64", variable: "SILO_ENCRYPTION_KEY", value: "not*base64!", secret: "not*base64!"},
		{name: "key too short", variable: "SILO_ENCRYPTION_KEY", value: "c2hvcnQ=", secret: "c2hvcnQ="},
		{name: "grace period malformed", variable: "SILO_DELETE_GRACE_PERIOD", value: "a week"},
		{name: "grace period negative", variable: "SILO_DELETE_GRACE_PERIOD", value: "-1h"},
		{name: "provision timeout zero", variable: "SILO_PROVISION_TIMEOUT", value: "0s"},
		{name: "connection limit zero", variable: "SILO_TENANT_CONNECTION_LIMIT", value: "0"},
		{name: "connection limit text", variable: "SILO_TENANT_CONNECTION_LIMIT", value: "many"},
		{name: "migrate flag", variable: "SILO_MIGRATE_ON_START", value: "perhaps"},
		{name: "rescue before timeout", variable: "SILO_JOB_RESCUE_AFTER", value: "1s"},
		{name: "log level", variable: "SILO_LOG_LEVEL", value: "loud"},
		{name: "log format", variable: "SILO_LOG_FORMAT", value: "xml"},
		{name: "hmac key short", variable: "SILO_AUTH_HMAC_KEY", value: "c2hvcnQ=", secret: "c2hvcnQ="},
		{name: "hmac key not base64", variable: "SILO_AUTH_HMAC_KEY", value: "%%%secret%%%", secret: "%%%secret%%%"},
		{name: "no user key", variable: "SILO_AUTH_HMAC_KEY", value: ""},
		{name: "missing signing key", variable: "SILO_TOKEN_SIGNING_KEY", value: ""},
		{name: "token issuer equals auth issuer", variable: "SILO_TOKEN_ISSUER", value: "silo-dev"},
		{name: "tenant token ttl", variable: "SILO_TENANT_TOKEN_TTL", value: "0s"},
		{name: "request limit tiny", variable: "SILO_MAX_REQUEST_BYTES", value: "10"},
		{name: "budget below cache times conns", variable: "SILO_POOL_CONNECTION_BUDGET", value: "499"},
		{name: "pool cache size zero", variable: "SILO_POOL_CACHE_SIZE", value: "0"},
		{name: "pool max conns zero", variable: "SILO_POOL_MAX_CONNS", value: "0"},
		{name: "pool idle ttl zero", variable: "SILO_POOL_IDLE_TTL", value: "0s"},
		{name: "service token short", variable: "SILO_SERVICE_TOKEN", value: "short-service-token", secret: "short-service-token"},
		{name: "control plane url scheme", variable: "SILO_CONTROL_PLANE_URL", value: "ftp://silo-control:8080"},
		{name: "control plane url no host", variable: "SILO_CONTROL_PLANE_URL", value: "http:///catalog"},
		{name: "control plane url relative", variable: "SILO_CONTROL_PLANE_URL", value: "silo-control:8080"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			setValid(t)
			t.Setenv(tc.variable, tc.value)

			_, err := Load()
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.variable)
			if tc.secret != "" {
				require.False(t, strings.Contains(err.Error(), tc.secret), "error shows the secret: %v", err)
			}
		})
	}
}

func TestLoadSplitPlanes(t *testing.T) {
	setValid(t)
	t.Setenv("SILO_SERVICE_TOKEN", strings.Repeat("s", MinServiceTokenLength))
	t.Setenv("SILO_CONTROL_PLANE_URL", "https://silo-control:8443")

	c, err := Load()
	require.NoError(t, err)
	require.Equal(t, strings.Repeat("s", MinServiceTokenLength), c.ServiceToken)
	require.Equal(t, "https://silo-control:8443", c.ControlPlaneURL)
}

func TestLoadSplitPlanesOptional(t *testing.T) {
	setValid(t)

	c, err := Load()
	require.NoError(t, err)
	require.Empty(t, c.ServiceToken, "role all needs no service token")
	require.Empty(t, c.ControlPlaneURL)
}
