package pgtest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"silo.dev/silo/internal/pgcluster"
)

// createAttempts and createRetryDelay bound the retries of CREATE DATABASE
// while a session that just closed is still connected to the template.
const (
	createAttempts   = 20
	createRetryDelay = 100 * time.Millisecond
)

// closeWaitTimeout bounds the wait for the server to end the sessions of
// connections that prepare closed. A backend exits shortly after its client
// disconnects, not at once.
const closeWaitTimeout = 2 * time.Second

// templateState is the preparation of one template database, shared by
// every caller of Template with its name.
type templateState struct {
	// done is closed when preparation has finished.
	done chan struct{}

	// err is the preparation's result, valid once done is closed.
	err error
}

// errPrepareExited is the result of a prepare function that never returned,
// because it panicked or called t.FailNow.
var errPrepareExited = errors.New("the prepare function exited without returning")

// NewDatabase creates a database with a random name as a copy of template
// and returns its superuser URL. An empty template means template0, an
// empty database. The database is dropped, with its connections ended,
// when the test and its subtests finish.
func NewDatabase(t testing.TB, template string) string {
	t.Helper()

	cluster := Cluster(t)
	if template == "" {
		template = "template0"
	}

	name := randomName("test_")
	if err := createDatabase(t.Context(), cluster, name, template); err != nil {
		t.Fatalf("pgtest: %v", err)
	}

	t.Cleanup(func() {
		// t.Context is canceled before cleanup functions run.
		ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
		defer cancel()

		sql := "DROP DATABASE " + pgx.Identifier{name}.Sanitize() + " WITH (FORCE)"
		if err := execAsSuperuser(ctx, cluster, sql); err != nil {
			t.Errorf("pgtest: drop test database %q: %v", name, err)
		}
	})
	return cluster.URL(name)
}

// Template creates the database name and runs prepare against it, once per
// test binary and name, and returns name for NewDatabase. Concurrent callers
// wait for the first one, whose prepare alone runs, and a failed prepare
// fails every caller. prepare must close every connection it opens,
// including pools, before it returns. Afterwards the template accepts no
// connections, so tests cannot change it by accident.
func Template(t testing.TB, name string, prepare func(ctx context.Context, url string) error) string {
	t.Helper()

	cluster := Cluster(t)
	state, first := shared.templateState(name)

	if first {
		func() {
			defer close(state.done)
			state.err = errPrepareExited
			state.err = prepareTemplate(t.Context(), cluster, name, prepare)
		}()
	} else {
		<-state.done
	}

	if state.err != nil {
		t.Fatalf("pgtest: prepare template database %q: %v", name, state.err)
	}
	return name
}

// templateState returns the state of the template database name and
// whether the caller is the first, which must prepare it.
func (h *harness) templateState(name string) (*templateState, bool) {
	h.templatesMu.Lock()
	defer h.templatesMu.Unlock()

	if state, ok := h.templates[name]; ok {
		return state, false
	}
	if h.templates == nil {
		h.templates = make(map[string]*templateState)
	}
	state := &templateState{done: make(chan struct{})}
	h.templates[name] = state
	return state, true
}

// prepareTemplate creates the database name, runs prepare against it and
// marks it as a template that accepts no connections.
func prepareTemplate(ctx context.Context, cluster *pgcluster.Cluster, name string,
	prepare func(ctx context.Context, url string) error,
) error {
	if err := createDatabase(ctx, cluster, name, "template0"); err != nil {
		return err
	}

	if err := prepare(ctx, cluster.URL(name)); err != nil {
		return err
	}

	if err := waitForNoSessions(ctx, cluster, name); err != nil {
		return err
	}

	sql := "ALTER DATABASE " + pgx.Identifier{name}.Sanitize() + " WITH IS_TEMPLATE true ALLOW_CONNECTIONS false"
	if err := execAsSuperuser(ctx, cluster, sql); err != nil {
		return fmt.Errorf("mark database %q as template: %w", name, err)
	}
	return nil
}

// createDatabase creates the database name as a copy of template. It
// retries while another session is connected to the template, for example
// one whose client has just disconnected.
func createDatabase(ctx context.Context, cluster *pgcluster.Cluster, name, template string) error {
	conn, err := pgx.Connect(ctx, cluster.URL("postgres"))
	if err != nil {
		return fmt.Errorf("connect to test cluster: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))

	sql := "CREATE DATABASE " + pgx.Identifier{name}.Sanitize() + " TEMPLATE " + pgx.Identifier{template}.Sanitize()
	for attempt := 1; ; attempt++ {
		_, err = conn.Exec(ctx, sql)
		if err == nil {
			return nil
		}
		if !isObjectInUse(err) || attempt == createAttempts {
			return fmt.Errorf("create database %q from template %q: %w", name, template, err)
		}

		select {
		case <-ctx.Done():
			return fmt.Errorf("create database %q from template %q: %w", name, template, ctx.Err())
		case <-time.After(createRetryDelay):
		}
	}
}

// waitForNoSessions waits until no client session is connected to the
// database name. It fails when prepare left a connection open. Autovacuum
// workers do not count, because CREATE DATABASE ends them itself.
func waitForNoSessions(ctx context.Context, cluster *pgcluster.Cluster, name string) error {
	conn, err := pgx.Connect(ctx, cluster.URL("postgres"))
	if err != nil {
		return fmt.Errorf("connect to test cluster: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))

	deadline := time.Now().Add(closeWaitTimeout)
	for {
		var sessions int
		err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND backend_type = 'client backend'", name).Scan(&sessions)
		if err != nil {
			return fmt.Errorf("count sessions on database %q: %w", name, err)
		}
		if sessions == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("prepare left %d connections open to database %q (still open %v after it returned): "+
				"close every connection and pool before returning", sessions, name, closeWaitTimeout)
		}

		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for sessions on database %q to end: %w", name, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}
