package tenancy_test

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"

	"silo.dev/silo/dataplane/tenancy"
	controlplanev1 "silo.dev/silo/gen/silo/controlplane/v1"
	"silo.dev/silo/gen/silo/controlplane/v1/controlplanev1connect"
)

// silentCatalog sends sync on each WatchChanges stream and then nothing,
// as a connection that died without closing would look.
type silentCatalog struct {
	controlplanev1connect.UnimplementedCatalogServiceHandler
	streams atomic.Int32
}

func (s *silentCatalog) WatchChanges(ctx context.Context, _ *connect.Request[controlplanev1.WatchChangesRequest], stream *connect.ServerStream[controlplanev1.WatchChangesResponse]) error {
	s.streams.Add(1)
	if err := stream.Send(&controlplanev1.WatchChangesResponse{Kind: "sync"}); err != nil {
		return err
	}
	<-ctx.Done()

	return nil
}

// connections counts the feed's connection state changes.
type connections struct {
	connected, disconnected atomic.Int32
}

func (c *connections) Connected()           { c.connected.Add(1) }
func (c *connections) Disconnected()        { c.disconnected.Add(1) }
func (c *connections) Apply(tenancy.Change) {}

func TestRemoteFeedReconnectsSilentStream(t *testing.T) {
	t.Parallel()
	catalog := &silentCatalog{}
	_, handler := controlplanev1connect.NewCatalogServiceHandler(catalog)
	server := httptest.NewServer(handler)
	t.Cleanup(server.Close)
	listener := &connections{}
	feed := tenancy.NewRemoteFeed(tenancy.NewCatalogClient(server.Client(), server.URL, "unused-token"), listener, slog.New(slog.DiscardHandler))
	feed.SetSilenceTimeout(200 * time.Millisecond)

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		feed.Run(ctx)
	}()

	require.Eventually(t, func() bool { return catalog.streams.Load() >= 2 }, 5*time.Second, 20*time.Millisecond,
		"the feed opens a new stream after the first stays silent")
	require.GreaterOrEqual(t, listener.disconnected.Load(), int32(1))
	require.GreaterOrEqual(t, listener.connected.Load(), int32(2))
	cancel()
	<-done
}
