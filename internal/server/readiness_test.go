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
	controlPlane := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "control plane not started", http.StatusServiceUnavailable)
	}))
	t.Cleanup(controlPlane.Close)
	cfg.ControlPlaneURL = controlPlane.URL
	cfg.ServiceToken = strings.Repeat("t", config.MinServiceTokenLength)
	srv, err := server.New(t.Context(), cfg, server.RoleDataPlane, slog.New(slog.DiscardHandler), nil)
	require.NoError(t, err)
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, listener) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	base := "http://" + listener.Addr().String()

	require.Equal(t, http.StatusOK, statusOf(t, base+"/healthz"))
	require.Equal(t, http.StatusServiceUnavailable, statusOf(t, base+"/readyz"))

	require.NoError(t, server.MigrateURL(t.Context(), cfg.CatalogURL, slog.New(slog.DiscardHandler)))
	require.Equal(t, http.StatusOK, statusOf(t, base+"/readyz"))
}

func statusOf(t *testing.T, url string) int {
	t.Helper()

	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()

	return resp.StatusCode
}
