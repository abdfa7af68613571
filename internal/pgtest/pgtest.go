package pgtest

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"silo.dev/silo/internal/pgcluster"
)

// startTimeout bounds initdb and pg_ctl start for the shared cluster.
const startTimeout = 2 * time.Minute

// stopTimeout bounds pg_ctl stop in Main and DROP DATABASE at cleanup.
const stopTimeout = 30 * time.Second

// harness is the cluster state of the test binary.
type harness struct {
	mainCalled atomic.Bool

	startOnce sync.Once
	dir       string
	cluster   *pgcluster.Cluster
	startErr  error

	templatesMu sync.Mutex
	templates   map[string]*templateState
}

// shared is the only harness: Main and the helpers are package functions
// that share one cluster per test binary.
var shared harness

// Main runs the tests, then stops and removes the cluster if one was
// started, and exits with the tests' exit code. Call it from TestMain.
func Main(m *testing.M) {
	shared.mainCalled.Store(true)

	code := m.Run()

	if err := shared.shutdown(); err != nil {
		fmt.Fprintf(os.Stderr, "pgtest: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// Cluster returns the cluster of the test binary and starts it on the first
// call. It fails the test when the cluster does not start or when TestMain
// does not call Main.
func Cluster(t testing.TB) *pgcluster.Cluster {
	t.Helper()

	if !shared.mainCalled.Load() {
		t.Fatal("pgtest: TestMain must call pgtest.Main(m), which stops and removes the test cluster")
	}

	shared.startOnce.Do(shared.start)
	if shared.startErr != nil {
		t.Fatalf("pgtest: start PostgreSQL for the tests: %v", shared.startErr)
	}
	return shared.cluster
}

// LogLines returns the lines that the server wrote to its log so far. The
// log contains every statement and connection, so tests can check that a
// secret never reached the server.
func LogLines(t testing.TB) []string {
	t.Helper()

	cluster := Cluster(t)
	content, err := os.ReadFile(cluster.LogPath())
	if err != nil {
		t.Fatalf("pgtest: read server log: %v", err)
	}

	text := strings.TrimRight(string(content), "\n")
	if text == "" {
		return nil
	}
	return strings.Split(text, "\n")
}

// start creates the folder and starts the cluster. It runs once per test
// binary and records the error for every caller.
func (h *harness) start() {
	dir, err := os.MkdirTemp("", "silo-pgtest-")
	if err != nil {
		h.startErr = fmt.Errorf("create cluster folder: %w", err)
		return
	}
	h.dir = dir

	cluster, err := pgcluster.Open(pgcluster.Options{
		Dir:      dir,
		Password: rand.Text(),
		Settings: map[string]string{
			"log_statement":   "all",
			"log_connections": "on",
		},
		Fast: true,
	})
	if err != nil {
		h.startErr = err
		return
	}
	h.cluster = cluster

	// The cluster outlives the test that happens to start it, so its start
	// does not use that test's context.
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()

	if err := cluster.Init(ctx); err != nil {
		h.startErr = err
		return
	}
	h.startErr = cluster.Start(ctx)
}

// shutdown stops the cluster and removes its folder. It keeps the folder
// when the server does not stop, because files of a running server cannot
// be removed safely.
func (h *harness) shutdown() error {
	if h.dir == "" {
		return nil
	}

	if h.cluster != nil {
		ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
		defer cancel()
		if err := h.cluster.Stop(ctx); err != nil {
			return fmt.Errorf("stop test cluster, keeping %s: %w", h.dir, err)
		}
	}

	if err := os.RemoveAll(h.dir); err != nil {
		return fmt.Errorf("remove test cluster: %w", err)
	}
	return nil
}

// randomName returns a new database name that is unlikely to collide with
// another: a prefix and 26 random base32 characters, within PostgreSQL's
// limit of 63 bytes.
func randomName(prefix string) string {
	return prefix + strings.ToLower(rand.Text())
}

// isObjectInUse reports whether err is PostgreSQL's object_in_use error
// (SQLSTATE 55006), which CREATE DATABASE returns while another session is
// connected to the template.
func isObjectInUse(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "55006"
}

// execAsSuperuser runs sql on the cluster's postgres database on a new
// connection.
func execAsSuperuser(ctx context.Context, cluster *pgcluster.Cluster, sql string, args ...any) error {
	conn, err := pgx.Connect(ctx, cluster.URL("postgres"))
	if err != nil {
		return fmt.Errorf("connect to test cluster: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))

	_, err = conn.Exec(ctx, sql, args...)
	return err
}
