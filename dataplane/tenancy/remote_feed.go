package tenancy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"

	controlplanev1 "silo.dev/silo/gen/silo/controlplane/v1"
	"silo.dev/silo/gen/silo/controlplane/v1/controlplanev1connect"
)

// changeKindSync is the kind of the WatchChanges message that marks the
// stream as listening; see CatalogService.WatchChanges.
const changeKindSync = "sync"

// changeKindHeartbeat is the message the control plane sends on a stream
// that has been silent for its heartbeat interval (10 seconds).
const changeKindHeartbeat = "heartbeat"

// silenceTimeout is how long the stream may stay silent, three heartbeat
// intervals, before the feed treats the connection as dead and reconnects.
const silenceTimeout = 30 * time.Second

// RemoteFeed passes the control plane's WatchChanges stream to a Listener,
// as Feed does with the catalog's NOTIFY channel. It calls Connected on
// every sync message, Disconnected whenever the stream ends, and
// reconnects by itself with backoff, also when the stream stays silent
// for silenceTimeout, because the control plane sends heartbeats.
type RemoteFeed struct {
	client   controlplanev1connect.CatalogServiceClient
	listener Listener
	logger   *slog.Logger
	// silence is how long a stream may stay silent; silenceTimeout unless
	// a test sets it.
	silence time.Duration
}

// NewRemoteFeed returns a feed that reads changes through client.
func NewRemoteFeed(client controlplanev1connect.CatalogServiceClient, listener Listener, logger *slog.Logger) *RemoteFeed {
	return &RemoteFeed{client: client, listener: listener, logger: logger, silence: silenceTimeout}
}

// Run follows the stream until ctx ends.
func (f *RemoteFeed) Run(ctx context.Context) {
	const minBackoff, maxBackoff = 100 * time.Millisecond, 5 * time.Second

	backoff := minBackoff
	for ctx.Err() == nil {
		err := f.watch(ctx, func() { backoff = minBackoff })
		f.listener.Disconnected()
		if ctx.Err() != nil {
			return
		}
		f.logger.WarnContext(ctx, "control plane change stream lost; reconnecting", "error", err, "retry_in", backoff)

		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

func (f *RemoteFeed) watch(ctx context.Context, connected func()) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	// The watchdog ends a stream that stays silent past silenceTimeout: a
	// connection that died without closing would otherwise go unnoticed
	// until TCP gives up, while changes are missed.
	watchdog := time.AfterFunc(f.silence, func() { cancel(errSilentStream) })
	defer watchdog.Stop()

	stream, err := f.client.WatchChanges(ctx, connect.NewRequest(&controlplanev1.WatchChangesRequest{}))
	if err != nil {
		return fmt.Errorf("open control plane change stream: %w", err)
	}
	defer func() { _ = stream.Close() }()

	synced := false
	for stream.Receive() {
		watchdog.Reset(f.silence)
		msg := stream.Msg()
		if msg.GetKind() == changeKindHeartbeat {
			continue
		}
		if msg.GetKind() == changeKindSync {
			f.listener.Connected()
			if !synced {
				synced = true
				connected()
				f.logger.DebugContext(ctx, "control plane change stream connected")
			}
			continue
		}
		if !synced {
			return fmt.Errorf("control plane sent a %q change before the sync message", msg.GetKind())
		}

		change, err := changeFrom(msg)
		if err != nil {
			// A change that cannot be read may touch anything cached.
			f.logger.ErrorContext(ctx, "unreadable catalog change; dropping the cache", "error", err)
			f.listener.Connected()
			continue
		}
		f.listener.Apply(change)
	}
	if errors.Is(context.Cause(ctx), errSilentStream) {
		return errSilentStream
	}
	if err := stream.Err(); err != nil {
		return fmt.Errorf("receive catalog change: %w", err)
	}

	return errors.New("control plane ended the change stream")
}

// errSilentStream ends a change stream that carried no message, not even a
// heartbeat, for silenceTimeout.
var errSilentStream = errors.New("control plane change stream silent; reconnecting")

func changeFrom(msg *controlplanev1.WatchChangesResponse) (Change, error) {
	change := Change{Kind: ChangeKind(msg.GetKind()), UserID: msg.GetUserId(), Evict: msg.GetEvict()}
	switch change.Kind {
	case ChangeTenant, ChangeMember, ChangeActive:
	default:
		return Change{}, fmt.Errorf("unknown change kind %q", msg.GetKind())
	}

	if msg.GetTenantId() != "" {
		id, err := uuid.Parse(msg.GetTenantId())
		if err != nil {
			return Change{}, fmt.Errorf("change of kind %q has invalid tenant id %q", msg.GetKind(), msg.GetTenantId())
		}
		change.TenantID = id
	}

	return change, nil
}
