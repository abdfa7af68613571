package catalogapi

import (
	"errors"
	"sync"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"

	"silo.dev/silo/dataplane/tenancy"
	controlplanev1 "silo.dev/silo/gen/silo/controlplane/v1"
)

// KindSync is the WatchChanges message kind that marks the stream as
// listening. From that message on, the client misses no change.
const KindSync = "sync"

// KindHeartbeat is the kind of the message WatchChanges sends after
// HeartbeatInterval without a change, so that clients can tell a silent
// stream from a dead connection.
const KindHeartbeat = "heartbeat"

// HeartbeatInterval is the longest a WatchChanges stream stays silent.
const HeartbeatInterval = 10 * time.Second

// Errors that end a subscription. Both make the client reconnect and drop
// its cache once the new stream sends its sync message.
var (
	errOverflow = connect.NewError(connect.CodeResourceExhausted,
		errors.New("change stream fell behind and was ended; reconnect to resynchronize"))
	errFeedLost = connect.NewError(connect.CodeUnavailable,
		errors.New("control plane lost its catalog change feed; reconnect to resynchronize"))
	errShutdown = connect.NewError(connect.CodeUnavailable,
		errors.New("control plane is shutting down; reconnect to another one or retry"))
)

// Hub is a tenancy.Listener that forwards catalog changes to every open
// WatchChanges stream. Each stream has a bounded buffer. A stream whose
// buffer is full is ended rather than waited for, so one slow client
// never delays the others or the feed. It is safe for concurrent use.
type Hub struct {
	buffer int

	mu          sync.Mutex
	live        bool
	closed      bool
	subscribers map[*subscription]struct{}
}

var _ tenancy.Listener = (*Hub)(nil)

// NewHub returns a hub that buffers up to buffer messages per stream.
func NewHub(buffer int) *Hub {
	return &Hub{buffer: max(buffer, 1), subscribers: map[*subscription]struct{}{}}
}

// subscription is one stream's share of the hub. messages is never closed.
// ended is closed, with err set first, when the hub ends the stream.
type subscription struct {
	messages chan *controlplanev1.WatchChangesResponse
	ended    chan struct{}
	err      error
}

// end ends s with err; the caller holds the hub's lock.
func (h *Hub) end(s *subscription, err error) {
	delete(h.subscribers, s)
	s.err = err
	close(s.ended)
}

// send queues m for s, or ends s when its buffer is full; the caller
// holds the hub's lock.
func (h *Hub) send(s *subscription, m *controlplanev1.WatchChangesResponse) {
	select {
	case s.messages <- m:
	default:
		h.end(s, errOverflow)
	}
}

// subscribe opens a subscription. Its first message is a sync message,
// queued at once when the hub's feed is listening and otherwise as soon as
// it listens again. The returned function closes the subscription.
func (h *Hub) subscribe() (*subscription, func()) {
	s := &subscription{
		messages: make(chan *controlplanev1.WatchChangesResponse, h.buffer),
		ended:    make(chan struct{}),
	}

	h.mu.Lock()
	h.subscribers[s] = struct{}{}
	if h.closed {
		h.end(s, errShutdown)
	} else if h.live {
		h.send(s, &controlplanev1.WatchChangesResponse{Kind: KindSync})
	}
	h.mu.Unlock()

	return s, func() {
		h.mu.Lock()
		defer h.mu.Unlock()

		delete(h.subscribers, s)
	}
}

// Connected implements tenancy.Listener. It sends a sync message to every
// stream: streams still waiting start, and open streams drop their cache,
// because the feed calls Connected again after a change it could not read.
func (h *Hub) Connected() {
	h.mu.Lock()
	defer h.mu.Unlock()

	h.live = true
	for s := range h.subscribers {
		h.send(s, &controlplanev1.WatchChangesResponse{Kind: KindSync})
	}
}

// Disconnected implements tenancy.Listener. It ends every open stream,
// because changes made until the feed listens again would not reach them.
func (h *Hub) Disconnected() {
	h.mu.Lock()
	defer h.mu.Unlock()

	h.live = false
	for s := range h.subscribers {
		h.end(s, errFeedLost)
	}
}

// Close ends every open stream and every stream opened later, so that the
// HTTP server's shutdown need not wait for data planes to hang up.
func (h *Hub) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()

	h.closed = true
	for s := range h.subscribers {
		h.end(s, errShutdown)
	}
}

// Apply implements tenancy.Listener.
func (h *Hub) Apply(change tenancy.Change) {
	m := &controlplanev1.WatchChangesResponse{
		Kind:   string(change.Kind),
		UserId: change.UserID,
		Evict:  change.Evict,
	}
	if change.TenantID != uuid.Nil {
		m.TenantId = change.TenantID.String()
	}

	h.mu.Lock()
	defer h.mu.Unlock()

	for s := range h.subscribers {
		h.send(s, m)
	}
}

// Subscribers returns the number of open streams.
func (h *Hub) Subscribers() int {
	h.mu.Lock()
	defer h.mu.Unlock()

	return len(h.subscribers)
}
