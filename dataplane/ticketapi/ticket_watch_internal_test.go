package ticketapi

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"silo.dev/silo/internal/pgtest"
)

func TestDiscardNotifications(t *testing.T) {
	t.Parallel()
	conn, err := pgx.Connect(t.Context(), pgtest.NewDatabase(t, ""))
	require.NoError(t, err)
	defer conn.Close(context.WithoutCancel(t.Context()))

	// A session receives its own notifications at commit, so all three arrive
	// with the replies to the NOTIFY statements and wait in pgx's buffer.
	_, err = conn.Exec(t.Context(), "LISTEN ticket_changes")
	require.NoError(t, err)
	for _, payload := range []string{"first", "second", "third"} {
		_, err = conn.Exec(t.Context(), "SELECT pg_notify('ticket_changes', $1)", payload)
		require.NoError(t, err)
	}
	buffered, err := conn.WaitForNotification(t.Context())
	require.NoError(t, err)
	require.Equal(t, "first", buffered.Payload)

	discardNotifications(conn)

	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	left, err := conn.WaitForNotification(ctx)
	require.Nil(t, left)
	require.ErrorIs(t, err, context.DeadlineExceeded)

	// The connection still works after the discard and the timeout.
	var one int
	require.NoError(t, conn.QueryRow(t.Context(), "SELECT 1").Scan(&one))
	require.Equal(t, 1, one)
}

func TestParseChangeNotice(t *testing.T) {
	t.Parallel()

	for _, tc := range []struct {
		name    string
		payload string
		op      string
		message string
	}{
		{name: "insert", payload: `{"op":"insert","id":"0b7d3c1e-4a53-4f0e-9a55-2f1d3f5c9e01"}`, op: "insert"},
		{name: "update", payload: `{"op":"update","id":"0b7d3c1e-4a53-4f0e-9a55-2f1d3f5c9e01"}`, op: "update"},
		{name: "delete", payload: `{"op":"delete","id":"0b7d3c1e-4a53-4f0e-9a55-2f1d3f5c9e01"}`, op: "delete"},
		{name: "not JSON", payload: `insert`, message: "decode ticket change notification"},
		{name: "unknown op", payload: `{"op":"truncate","id":"0b7d3c1e-4a53-4f0e-9a55-2f1d3f5c9e01"}`, message: `op "truncate" is not insert, update or delete`},
		{name: "missing id", payload: `{"op":"insert"}`, message: "id missing"},
		{name: "malformed id", payload: `{"op":"insert","id":"7"}`, message: "decode ticket change notification"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			notice, err := parseChangeNotice(tc.payload)

			if tc.message != "" {
				require.ErrorContains(t, err, tc.message)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.op, notice.Op)
			require.Equal(t, "0b7d3c1e-4a53-4f0e-9a55-2f1d3f5c9e01", notice.ID.String())
		})
	}
}
