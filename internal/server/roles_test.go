package server_test

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"

	controlplanev1 "silo.dev/silo/gen/silo/controlplane/v1"
	"silo.dev/silo/gen/silo/controlplane/v1/controlplanev1connect"
	"silo.dev/silo/internal/config"
	"silo.dev/silo/internal/server"
	"silo.dev/silo/internal/silotest"
)

func TestNewRequiresSplitSettings(t *testing.T) {
	t.Parallel()
	token := strings.Repeat("t", config.MinServiceTokenLength)

	for _, tc := range []struct {
		name     string
		role     server.Role
		token    string
		url      string
		variable string
	}{
		{name: "controlplane without token", role: server.RoleControlPlane, variable: "SILO_SERVICE_TOKEN"},
		{name: "dataplane without token", role: server.RoleDataPlane, url: "http://127.0.0.1:1", variable: "SILO_SERVICE_TOKEN"},
		{name: "dataplane without control plane", role: server.RoleDataPlane, token: token, variable: "SILO_CONTROL_PLANE_URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The catalog URL points nowhere: the check runs before New
			// connects to anything.
			cfg := silotest.Config(t, "postgres://silo:pw@127.0.0.1:1/silo")
			cfg.ServiceToken = tc.token
			cfg.ControlPlaneURL = tc.url

			_, err := server.New(t.Context(), cfg, tc.role, slog.New(slog.DiscardHandler), nil)
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.variable)
			require.NotContains(t, err.Error(), token, "the token is never shown")
		})
	}
}

func TestControlPlaneStopsWithOpenStreams(t *testing.T) {
	t.Parallel()
	cfg := silotest.Config(t, silotest.NewCatalog(t))
	cfg.ServiceToken = strings.Repeat("t", config.MinServiceTokenLength)
	cfg.ShutdownTimeout = time.Minute
	srv, err := server.New(t.Context(), cfg, server.RoleControlPlane, slog.New(slog.DiscardHandler), nil)
	require.NoError(t, err)
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, listener) }()

	client := controlplanev1connect.NewCatalogServiceClient(http.DefaultClient, "http://"+listener.Addr().String(),
		connect.WithInterceptors(silotest.Bearer(cfg.ServiceToken)))
	stream, err := client.WatchChanges(t.Context(), connect.NewRequest(&controlplanev1.WatchChangesRequest{}))
	require.NoError(t, err)
	defer stream.Close()
	require.True(t, stream.Receive(), "%v", stream.Err())
	require.Equal(t, "sync", stream.Msg().GetKind())

	stopped := time.Now()
	cancel()
	require.NoError(t, <-done)
	require.Less(t, time.Since(stopped), 10*time.Second, "shutdown does not wait for the stream's client")
	require.False(t, stream.Receive())
	require.Equal(t, connect.CodeUnavailable, connect.CodeOf(stream.Err()))
}
