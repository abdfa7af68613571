package pgtest_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"silo.dev/silo/internal/pgtest"
)

func TestMain(m *testing.M) {
	pgtest.Main(m)
}

// connect opens a connection that is closed after the test.
func connect(t *testing.T, connString string) *pgx.Conn {
	t.Helper()

	conn, err := pgx.Connect(t.Context(), connString)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// databaseName returns the database of a connection URL.
func databaseName(t *testing.T, connString string) string {
	t.Helper()

	parsed, err := url.Parse(connString)
	require.NoError(t, err)
	return strings.TrimPrefix(parsed.Path, "/")
}

// databaseExists reports whether the test cluster has the database name.
func databaseExists(t *testing.T, name string) bool {
	t.Helper()

	conn := connect(t, pgtest.Cluster(t).URL("postgres"))
	var exists bool
	err := conn.QueryRow(t.Context(), "SELECT EXISTS (SELECT FROM pg_database WHERE datname = $1)", name).Scan(&exists)
	require.NoError(t, err)
	return exists
}

// tableExists reports whether the database behind conn has the table name.
func tableExists(t *testing.T, conn *pgx.Conn, name string) bool {
	t.Helper()

	var exists bool
	require.NoError(t, conn.QueryRow(t.Context(), "SELECT to_regclass($1) IS NOT NULL", name).Scan(&exists))
	return exists
}

func TestClusterRequiresPassword(t *testing.T) {
	t.Parallel()
	cluster := pgtest.Cluster(t)

	conn := connect(t, cluster.URL("postgres"))
	require.NoError(t, conn.Ping(t.Context()))

	wrongURL, err := url.Parse(cluster.URL("postgres"))
	require.NoError(t, err)
	wrongURL.User = url.UserPassword("postgres", "wrong")
	_, err = pgx.Connect(t.Context(), wrongURL.String())

	var pgErr *pgconn.PgError
	require.ErrorAs(t, err, &pgErr)
	require.Equal(t, "28P01", pgErr.Code, "want invalid_password")
}

func TestClusterIsSharedByTests(t *testing.T) {
	t.Parallel()

	require.Same(t, pgtest.Cluster(t), pgtest.Cluster(t))
}

func TestNewDatabaseIsolated(t *testing.T) {
	t.Parallel()
	firstURL := pgtest.NewDatabase(t, "")
	secondURL := pgtest.NewDatabase(t, "")
	require.NotEqual(t, databaseName(t, firstURL), databaseName(t, secondURL))

	first := connect(t, firstURL)
	_, err := first.Exec(t.Context(), "CREATE TABLE only_in_first (id int)")
	require.NoError(t, err)

	second := connect(t, secondURL)
	require.True(t, tableExists(t, first, "only_in_first"))
	require.False(t, tableExists(t, second, "only_in_first"))
}

func TestNewDatabaseDroppedAtCleanup(t *testing.T) {
	t.Parallel()

	var name string
	t.Run("uses database", func(t *testing.T) {
		databaseURL := pgtest.NewDatabase(t, "")
		name = databaseName(t, databaseURL)
		require.True(t, databaseExists(t, name))

		// A connection that the test leaves open must not block the drop.
		conn, err := pgx.Connect(t.Context(), databaseURL)
		require.NoError(t, err)
		require.NoError(t, conn.Ping(t.Context()))
	})

	require.NotEmpty(t, name)
	require.False(t, databaseExists(t, name))
}

func TestTemplatePreparesOnce(t *testing.T) {
	t.Parallel()
	templateName := "template_prepared_once"
	var prepareCalls atomic.Int32
	prepare := func(ctx context.Context, databaseURL string) error {
		prepareCalls.Add(1)

		// Keep the other callers waiting long enough to overlap.
		time.Sleep(200 * time.Millisecond)

		conn, err := pgx.Connect(ctx, databaseURL)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, "CREATE TABLE seeded (id int); INSERT INTO seeded VALUES (42)")
		return err
	}

	t.Run("callers", func(t *testing.T) {
		for i := range 8 {
			t.Run(fmt.Sprintf("caller %d", i), func(t *testing.T) {
				t.Parallel()

				name := pgtest.Template(t, templateName, prepare)
				require.Equal(t, templateName, name)

				conn := connect(t, pgtest.NewDatabase(t, name))
				var id int
				require.NoError(t, conn.QueryRow(t.Context(), "SELECT id FROM seeded").Scan(&id))
				require.Equal(t, 42, id)
			})
		}
	})

	require.Equal(t, int32(1), prepareCalls.Load())
}

func TestTemplateRejectsConnections(t *testing.T) {
	t.Parallel()
	name := pgtest.Template(t, "template_closed", func(context.Context, string) error { return nil })

	_, err := pgx.Connect(t.Context(), pgtest.Cluster(t).URL(name))

	var pgErr *pgconn.PgError
	require.ErrorAs(t, err, &pgErr)
	require.Equal(t, "55000", pgErr.Code, "want object_not_in_prerequisite_state")
}

// fatalRecorder is a testing.TB whose Fatal methods record the message and
// end the goroutine without failing the real test.
type fatalRecorder struct {
	testing.TB

	mu       sync.Mutex
	messages []string
}

func (r *fatalRecorder) Helper() {}

func (r *fatalRecorder) Fatal(args ...any) {
	r.record(fmt.Sprint(args...))
}

func (r *fatalRecorder) Fatalf(format string, args ...any) {
	r.record(fmt.Sprintf(format, args...))
}

func (r *fatalRecorder) FailNow() {
	r.record("FailNow")
}

func (r *fatalRecorder) record(message string) {
	r.mu.Lock()
	r.messages = append(r.messages, message)
	r.mu.Unlock()
	runtime.Goexit()
}

// callTemplate calls pgtest.Template in a goroutine of its own, because the
// recorder ends the goroutine on failure, and returns the recorded
// failures.
func callTemplate(t *testing.T, name string, prepare func(context.Context, string) error) []string {
	t.Helper()

	recorder := &fatalRecorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		pgtest.Template(recorder, name, prepare)
	}()
	<-done
	return recorder.messages
}

func TestTemplateFailedPrepareFailsEveryCaller(t *testing.T) {
	t.Parallel()
	var prepareCalls atomic.Int32
	prepare := func(context.Context, string) error {
		prepareCalls.Add(1)
		time.Sleep(100 * time.Millisecond)
		return fmt.Errorf("migration 3 failed")
	}

	var wg sync.WaitGroup
	results := make([][]string, 3)
	for i := range results {
		wg.Go(func() { results[i] = callTemplate(t, "template_failing", prepare) })
	}
	wg.Wait()

	require.Equal(t, int32(1), prepareCalls.Load())
	for i, messages := range results {
		require.Len(t, messages, 1, "caller %d", i)
		require.Contains(t, messages[0], `prepare template database "template_failing": migration 3 failed`, "caller %d", i)
	}
}

func TestTemplateExitedPrepareFailsLaterCaller(t *testing.T) {
	t.Parallel()
	name := "template_exited"
	prepareExits := func(context.Context, string) error {
		runtime.Goexit()
		return nil
	}

	firstMessages := callTemplate(t, name, prepareExits)
	laterMessages := callTemplate(t, name, func(context.Context, string) error { return nil })

	require.Empty(t, firstMessages, "the first caller ended inside prepare")
	require.Len(t, laterMessages, 1)
	require.Contains(t, laterMessages[0], "exited without returning")
}

func TestTemplateRejectsLeftConnection(t *testing.T) {
	t.Parallel()
	var leaked *pgx.Conn
	t.Cleanup(func() {
		if leaked != nil {
			leaked.Close(context.Background())
		}
	})

	messages := callTemplate(t, "template_leaking", func(ctx context.Context, databaseURL string) error {
		var err error
		leaked, err = pgx.Connect(ctx, databaseURL)
		return err
	})

	require.Len(t, messages, 1)
	require.Contains(t, messages[0], "prepare left 1 connections open")
}

func TestLogLinesShowStatement(t *testing.T) {
	t.Parallel()
	marker := "pgtest-marker-" + rand.Text()
	conn := connect(t, pgtest.NewDatabase(t, ""))

	_, err := conn.Exec(t.Context(), "SELECT '"+marker+"'")
	require.NoError(t, err)

	found := false
	for _, line := range pgtest.LogLines(t) {
		if strings.Contains(line, "statement: SELECT '"+marker+"'") {
			found = true
		}
	}
	require.True(t, found, "server log has no line with the statement")
}
