package ticketapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	silov1 "silo.dev/silo/gen/silo/v1"
)

// ticketChangesChannel is the channel on which the trigger
// notify_ticket_change of the tenant schema announces every committed
// change to a ticket.
const ticketChangesChannel = "ticket_changes"

// unlistenTimeout bounds UNLISTEN when a watch ends. The request context
// is usually canceled by then, so it cannot bound the statement.
const unlistenTimeout = 5 * time.Second

// changeNotice is the payload of a notification on ticketChangesChannel.
type changeNotice struct {
	// Op is insert, update or delete.
	Op string    `json:"op"`
	ID uuid.UUID `json:"id"`
}

// WatchTickets sends every committed ticket change in the tenant until the
// client cancels the call, and then returns nil.
//
// The handler holds one connection of the tenant's pool for the whole call
// and listens on it. Once it listens, it sends the response headers
// without a message, so a client that has received the headers gets every
// change committed afterwards. Created and updated tickets are read through
// the pool when their notification arrives, so the ticket sent is the
// ticket as it is then and may already include later changes. A ticket
// deleted before it could be read is sent as DELETED.
//
// NOTE: every open watch keeps one connection of the tenant's pool, so
// enough concurrent watches exhaust the pool for the tenant's other calls.
func (s *Service) WatchTickets(ctx context.Context, req *connect.Request[silov1.WatchTicketsRequest], stream *connect.ServerStream[silov1.WatchTicketsResponse]) error {
	procedure := req.Spec().Procedure
	pool, err := s.pool(ctx, procedure)
	if err != nil {
		return err
	}

	conn, err := pool.Acquire(ctx)
	if err != nil {
		return s.endWatch(ctx, procedure, fmt.Errorf("acquire listening connection: %w", err))
	}
	defer s.releaseListener(ctx, procedure, conn)

	if _, err := conn.Exec(ctx, "LISTEN "+ticketChangesChannel); err != nil {
		return s.endWatch(ctx, procedure, fmt.Errorf("listen on %s: %w", ticketChangesChannel, err))
	}

	// For a nil message connect-go (v1.21) writes and flushes only the
	// response headers, so the client can see that the watch has started.
	if err := stream.Send(nil); err != nil {
		return s.endWatch(ctx, procedure, fmt.Errorf("send response headers: %w", err))
	}

	for {
		notification, err := conn.Conn().WaitForNotification(ctx)
		if err != nil {
			return s.endWatch(ctx, procedure, fmt.Errorf("wait for ticket change: %w", err))
		}

		notice, err := parseChangeNotice(notification.Payload)
		if err != nil {
			// The trigger never sends such a payload, so it points to a
			// changed schema. One bad notification must not end the watch.
			attrs := append(s.requestAttrs(ctx, procedure), "payload", notification.Payload, "error", err)
			s.logger.ErrorContext(ctx, "skipping malformed ticket change notification", attrs...)
			continue
		}
		change, err := readChange(ctx, pool, notice)
		if err != nil {
			return s.endWatch(ctx, procedure, err)
		}

		if err := stream.Send(change); err != nil {
			return s.endWatch(ctx, procedure, fmt.Errorf("send ticket change: %w", err))
		}
	}
}

// parseChangeNotice decodes and checks the payload of a notification on
// ticketChangesChannel.
func parseChangeNotice(payload string) (changeNotice, error) {
	var notice changeNotice
	if err := json.Unmarshal([]byte(payload), &notice); err != nil {
		return changeNotice{}, fmt.Errorf("decode ticket change notification: %w", err)
	}
	switch {
	case notice.Op != "insert" && notice.Op != "update" && notice.Op != "delete":
		return changeNotice{}, fmt.Errorf("ticket change notification: op %q is not insert, update or delete", notice.Op)
	case notice.ID == uuid.Nil:
		return changeNotice{}, errors.New("ticket change notification: id missing")
	}

	return notice, nil
}

// readChange returns the message for one checked notice, reading created
// and updated tickets through pool.
func readChange(ctx context.Context, pool *pgxpool.Pool, notice changeNotice) (*silov1.WatchTicketsResponse, error) {
	deleted := &silov1.WatchTicketsResponse{
		Change: silov1.TicketChange_TICKET_CHANGE_DELETED,
		Ticket: &silov1.Ticket{Id: notice.ID.String()},
	}

	if notice.Op == "delete" {
		return deleted, nil
	}
	change := silov1.TicketChange_TICKET_CHANGE_UPDATED
	if notice.Op == "insert" {
		change = silov1.TicketChange_TICKET_CHANGE_CREATED
	}

	found, err := selectTicket(ctx, pool, notice.ID, "")
	if errors.Is(err, pgx.ErrNoRows) {
		return deleted, nil
	}
	if err != nil {
		return nil, err
	}

	return &silov1.WatchTicketsResponse{Change: change, Ticket: found.toProto()}, nil
}

// endWatch returns nil when the client has ended the call, because a
// canceled watch is its normal end, and the Connect error for err
// otherwise.
func (s *Service) endWatch(ctx context.Context, procedure string, err error) error {
	if ctx.Err() != nil {
		return nil //nolint:nilerr // the client ended the call; err is only the cancellation
	}

	return s.toConnectError(ctx, procedure, err)
}

// releaseListener stops listening on conn and returns it to the pool. A
// connection on which UNLISTEN fails is broken or in an unknown state, so
// it is closed instead, which also ends its listening.
func (s *Service) releaseListener(ctx context.Context, procedure string, conn *pgxpool.Conn) {
	cleanupCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), unlistenTimeout)
	defer cancel()

	if _, err := conn.Exec(cleanupCtx, "UNLISTEN *"); err != nil {
		attrs := append(s.requestAttrs(ctx, procedure), "error", err)
		s.logger.WarnContext(ctx, "closing listening connection because UNLISTEN failed", attrs...)

		_ = conn.Hijack().Close(cleanupCtx)
		return
	}

	discardNotifications(conn.Conn())
	conn.Release()
}

// discardNotifications drops the notifications that pgx has received on
// conn but not returned, so that the next user of the pooled connection
// does not get them. With a canceled context, WaitForNotification of pgx
// v5.13 returns a buffered notification if there is one and otherwise fails
// at once without reading from the connection.
func discardNotifications(conn *pgx.Conn) {
	done, cancel := context.WithCancel(context.Background())
	cancel()

	for {
		notification, _ := conn.WaitForNotification(done)
		if notification == nil {
			return
		}
	}
}
