package server_test

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"silo.dev/silo/internal/config"
	"silo.dev/silo/internal/pgtest"
	"silo.dev/silo/internal/server"
	"silo.dev/silo/internal/silotest"
)

func TestReadyOnlyWhenMigrated(t *testing.T) {
	t.Parallel()
	cfg := silotest.Config(t, pgtest.NewDatabase(t, ""))
	cfg.MigrateOnStart = false
	_, err := server.New(t.Context(), cfg, server.RoleControlPlane, slog.New(slog.DiscardHandler), nil)
	require.Error(t, err, "a control plane cannot start on a catalog without its tables")

	require.NoError(t, server.MigrateURL(t.Context(), cfg.CatalogURL, slog.New(slog.DiscardHandler)))
	cfg.ServiceToken = strings.Repeat("t", config.MinServiceTokenLength)
	srv, err := server.New(t.Context(), cfg, server.RoleControlPlane, slog.New(slog.DiscardHandler), nil)
	require.NoError(t, err)
	base := serveOnLoopback(t, srv)

	require.Equal(t, http.StatusOK, statusOf(t, base+"/healthz"))
	require.Equal(t, http.StatusOK, statusOf(t, base+"/readyz"))
}

func TestDataPlaneReadyWithoutCatalog(t *testing.T) {
	t.Parallel()
	controlPlane := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "control plane not started", http.StatusServiceUnavailable)
	}))
	t.Cleanup(controlPlane.Close)
	cfg := silotest.Config(t, "")
	cfg.CatalogURL = ""
	cfg.ControlPlaneURL = controlPlane.URL
	cfg.ServiceToken = strings.Repeat("t", config.MinServiceTokenLength)

	srv, err := server.New(t.Context(), cfg, server.RoleDataPlane, slog.New(slog.DiscardHandler), nil)
	require.NoError(t, err, "a data plane needs no catalog")
	base := serveOnLoopback(t, srv)

	require.Equal(t, http.StatusOK, statusOf(t, base+"/healthz"))
	require.Equal(t, http.StatusServiceUnavailable, statusOf(t, base+"/readyz"), "not ready while the control plane is unreachable")
}

// serveOnLoopback serves srv on a free loopback port until the test ends
// and returns its base URL.
func serveOnLoopback(t *testing.T, srv *server.Server) string {
	t.Helper()

	listener, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, listener) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})

	return "http://" + listener.Addr().String()
}

func statusOf(t *testing.T, url string) int {
	t.Helper()

	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()

	return resp.StatusCode
}
