package catalogapi

import (
	"testing"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"silo.dev/silo/dataplane/tenancy"
)

func TestHubSyncFirst(t *testing.T) {
	hub := NewHub(4)
	waiting, closeWaiting := hub.subscribe()
	defer closeWaiting()
	require.Empty(t, waiting.messages, "no sync before the feed listens")

	hub.Connected()
	require.Equal(t, KindSync, (<-waiting.messages).GetKind())

	open, closeOpen := hub.subscribe()
	defer closeOpen()
	require.Equal(t, KindSync, (<-open.messages).GetKind(), "a stream opened while listening starts with sync")

	id := uuid.New()
	hub.Apply(tenancy.Change{Kind: tenancy.ChangeTenant, TenantID: id, Evict: true})
	for _, s := range []*subscription{waiting, open} {
		m := <-s.messages
		require.Equal(t, "tenant", m.GetKind())
		require.Equal(t, id.String(), m.GetTenantId())
		require.True(t, m.GetEvict())
	}
}

func TestHubEndsSlowStream(t *testing.T) {
	hub := NewHub(2)
	hub.Connected()
	slow, closeSlow := hub.subscribe()
	defer closeSlow()
	fast, closeFast := hub.subscribe()
	defer closeFast()

	for range 3 {
		hub.Apply(tenancy.Change{Kind: tenancy.ChangeActive, UserID: "u"})
		<-fast.messages
	}

	<-slow.ended
	require.Equal(t, connect.CodeResourceExhausted, connect.CodeOf(slow.err))
	require.Equal(t, 1, hub.Subscribers(), "the fast stream stays open")
	select {
	case <-fast.ended:
		t.Fatal("fast stream was ended")
	default:
	}
}

func TestHubDisconnectEndsStreams(t *testing.T) {
	hub := NewHub(4)
	hub.Connected()
	s, closeStream := hub.subscribe()
	defer closeStream()

	hub.Disconnected()
	<-s.ended
	require.Equal(t, connect.CodeUnavailable, connect.CodeOf(s.err))
	require.Zero(t, hub.Subscribers())
}

func TestHubCloseEndsStreams(t *testing.T) {
	hub := NewHub(4)
	hub.Connected()
	open, closeOpen := hub.subscribe()
	defer closeOpen()

	hub.Close()
	<-open.ended
	require.Equal(t, connect.CodeUnavailable, connect.CodeOf(open.err))

	late, closeLate := hub.subscribe()
	defer closeLate()
	<-late.ended
	require.Equal(t, connect.CodeUnavailable, connect.CodeOf(late.err), "streams opened after Close end at once")
	require.Zero(t, hub.Subscribers())
}
