package provision_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"silo.dev/silo/controlplane/catalog"
	silov1 "silo.dev/silo/gen/silo/v1"
	"silo.dev/silo/gen/silo/v1/silov1connect"
	"silo.dev/silo/internal/authn"
	"silo.dev/silo/internal/pgtest"
	"silo.dev/silo/internal/secret"
	"silo.dev/silo/internal/silotest"
)

// Waits of the crash test. A job left running by a killed process runs
// again only after three things, with River v0.51's defaults. The new
// process becomes River's leader, which takes up to about 20 s, because the
// dead leader's term lasts 15 s after its last re-election and candidates
// try every 5 to 6 s. Its rescuer then finds the job, which has run longer
// than SILO_JOB_RESCUE_AFTER=3s. Its scheduler makes the retry available,
// which it does every 5 s.
const (
	readyTimeout      = 30 * time.Second
	recoveryTimeout   = 60 * time.Second
	stopTimeout       = 20 * time.Second
	rowTimeout        = 10 * time.Second
	blockedTimeout    = 20 * time.Second
	sessionTimeout    = 10 * time.Second
	createCallTimeout = 10 * time.Second
	// catchAttempts is how many tenants the test creates, one after the
	// other, until it locks one whose provisioning has not finished yet.
	catchAttempts = 5
)

// siloProcess is a `silo serve` child process.
type siloProcess struct {
	cmd  *exec.Cmd
	logs *silotest.Buffer
	// exited is closed once the process has exited, and waitErr is valid
	// from then on.
	exited  chan struct{}
	waitErr error
}

// buildSilo builds cmd/silo from the module that contains this test and
// returns the binary's path.
func buildSilo(t *testing.T) string {
	t.Helper()

	out, err := exec.CommandContext(t.Context(), "go", "env", "GOMOD").Output()
	require.NoError(t, err, "go env GOMOD")
	root := filepath.Dir(strings.TrimSpace(string(out)))

	binary := filepath.Join(t.TempDir(), "silo")
	build := exec.CommandContext(t.Context(), "go", "build", "-o", binary, "./cmd/silo")
	build.Dir = root
	output, err := build.CombinedOutput()
	require.NoError(t, err, "go build ./cmd/silo:\n%s", output)

	return binary
}

// startProcess runs `silo serve` with env and kills it when the test ends
// if it is still running. The kernel also kills it when the test binary
// dies first.
func startProcess(t *testing.T, binary string, env []string) *siloProcess {
	t.Helper()

	p := &siloProcess{logs: &silotest.Buffer{}, exited: make(chan struct{})}
	p.cmd = exec.Command(binary, "serve")
	p.cmd.Env = env
	p.cmd.Stdout = p.logs
	p.cmd.Stderr = p.logs
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	require.NoError(t, p.cmd.Start(), "start silo serve")
	go func() {
		p.waitErr = p.cmd.Wait()
		close(p.exited)
	}()

	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			t.Logf("log of silo process %d:\n%s", p.cmd.Process.Pid, tail(p.logs.String(), 60))
		}
	})

	return p
}

// kill sends SIGKILL unless the process has exited, and waits for it.
func (p *siloProcess) kill() {
	select {
	case <-p.exited:
		return
	default:
	}

	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
}

// stop sends SIGTERM and requires a clean exit within stopTimeout.
func (p *siloProcess) stop(t *testing.T) {
	t.Helper()

	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-p.exited:
		require.NoError(t, p.waitErr, "exit of silo serve after SIGTERM")
	case <-time.After(stopTimeout):
		require.Failf(t, "silo serve did not stop", "no exit %s after SIGTERM", stopTimeout)
	}
}

// waitReady polls /readyz until it returns 200.
func (p *siloProcess) waitReady(t *testing.T, baseURL string) {
	t.Helper()

	deadline := time.Now().Add(readyTimeout)
	for {
		select {
		case <-p.exited:
			require.Failf(t, "silo serve exited", "exit before ready: %v", p.waitErr)
		default:
		}

		resp, err := http.Get(baseURL + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		require.False(t, time.Now().After(deadline), "silo serve not ready after %s", readyTimeout)
		time.Sleep(50 * time.Millisecond)
	}
}

// freeAddr returns a loopback address with a port that was free a moment
// ago.
func freeAddr(t *testing.T) string {
	t.Helper()

	listener, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := listener.Addr().String()
	require.NoError(t, listener.Close())

	return addr
}

// processEnv returns this process's environment without SILO_ variables,
// plus settings.
func processEnv(settings map[string]string) []string {
	var env []string
	for _, variable := range os.Environ() {
		if !strings.HasPrefix(variable, "SILO_") {
			env = append(env, variable)
		}
	}
	for name, value := range settings {
		env = append(env, name+"="+value)
	}

	return env
}

// tail returns the last n lines of text.
func tail(text string, n int) string {
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}

	return strings.Join(lines, "\n")
}

// waitForTenantRow polls the catalog until a tenant with slug exists and
// returns its id.
func waitForTenantRow(t *testing.T, conn *pgx.Conn, slug string) uuid.UUID {
	t.Helper()

	deadline := time.Now().Add(rowTimeout)
	for {
		var id uuid.UUID
		err := conn.QueryRow(t.Context(), `SELECT id FROM tenants WHERE slug = $1`, slug).Scan(&id)
		if err == nil {
			return id
		}
		require.ErrorIs(t, err, pgx.ErrNoRows)
		require.False(t, time.Now().After(deadline), "no tenant %q after %s", slug, rowTimeout)
		time.Sleep(time.Millisecond)
	}
}

// waitForBlockedQuery polls until a session waits for a lock held by the
// session with PID holder, and returns the waiting query.
func waitForBlockedQuery(t *testing.T, conn *pgx.Conn, holder uint32) string {
	t.Helper()

	deadline := time.Now().Add(blockedTimeout)
	for {
		var query string
		err := conn.QueryRow(t.Context(), `
			SELECT query FROM pg_stat_activity WHERE $1::int = ANY(pg_blocking_pids(pid)) LIMIT 1`, holder).Scan(&query)
		if err == nil {
			return query
		}
		require.ErrorIs(t, err, pgx.ErrNoRows)
		require.False(t, time.Now().After(deadline), "no session waits for the tenant row lock after %s", blockedTimeout)
		time.Sleep(5 * time.Millisecond)
	}
}

// waitForNoSessions polls until no silo session is connected to database.
func waitForNoSessions(t *testing.T, conn *pgx.Conn, database string) {
	t.Helper()

	deadline := time.Now().Add(sessionTimeout)
	for {
		var sessions int
		require.NoError(t, conn.QueryRow(t.Context(), `
			SELECT count(*) FROM pg_stat_activity
			WHERE datname = $1 AND application_name IN ('silo', 'silo-provision')`, database).Scan(&sessions))
		if sessions == 0 {
			return
		}
		require.False(t, time.Now().After(deadline), "%d sessions of the killed process remain after %s", sessions, sessionTimeout)
		time.Sleep(20 * time.Millisecond)
	}
}

// TestProvisionSurvivesKill kills a `silo serve` process with SIGKILL while
// it provisions a tenant and checks that a new process finishes the job.
// The test holds a lock on the tenant's row, so the job does every step up
// to activate and then blocks on the activate UPDATE until the process is
// dead: the kill lands after the DDL and before the tenant is active.
func TestProvisionSurvivesKill(t *testing.T) {
	if testing.Short() {
		t.Skip("builds silo and waits for River to rescue the job, about 25 s")
	}
	t.Parallel()

	binary := buildSilo(t)
	catalogURL := silotest.NewCatalog(t)
	key, err := secret.NewKey()
	require.NoError(t, err)
	box, err := secret.NewBox(key)
	require.NoError(t, err)
	hmacKey, err := secret.NewKey()
	require.NoError(t, err)
	signingKey, err := secret.NewKey()
	require.NoError(t, err)
	addr := freeAddr(t)
	baseURL := "http://" + addr
	env := processEnv(map[string]string{
		"SILO_CATALOG_URL":       catalogURL,
		"SILO_ENCRYPTION_KEY":    key.String(),
		"SILO_AUTH_HMAC_KEY":     hmacKey.String(),
		"SILO_TOKEN_SIGNING_KEY": signingKey.String(),
		"SILO_HTTP_ADDR":         addr,
		"SILO_MIGRATE_ON_START":  "true",
		"SILO_JOB_TIMEOUT":       "2s",
		"SILO_JOB_RESCUE_AFTER":  "3s",
		"SILO_LOG_LEVEL":         "debug",
	})

	first := startProcess(t, binary, env)
	first.waitReady(t, baseURL)

	poller, err := pgx.Connect(t.Context(), catalogURL)
	require.NoError(t, err)
	defer poller.Close(context.WithoutCancel(t.Context()))
	locker, err := pgx.Connect(t.Context(), catalogURL)
	require.NoError(t, err)
	defer locker.Close(context.WithoutCancel(t.Context()))

	// The calls end when the process dies; their results do not matter.
	token, err := authn.SignUserToken(hmacKey[:], "silo-dev", "silo", "crash-admin", "silo_admin", true, time.Hour)
	require.NoError(t, err)
	client := silov1connect.NewTenantServiceClient(http.DefaultClient, baseURL, connect.WithInterceptors(silotest.Bearer(token)))
	var calls sync.WaitGroup
	defer calls.Wait()
	var created []uuid.UUID
	var caught uuid.UUID
	var lock pgx.Tx
	for attempt := 1; attempt <= catchAttempts && caught == uuid.Nil; attempt++ {
		slug := fmt.Sprintf("crash-%d", attempt)
		calls.Go(func() {
			ctx, cancel := context.WithTimeout(context.WithoutCancel(t.Context()), createCallTimeout)
			defer cancel()
			_, _ = client.CreateTenant(ctx, connect.NewRequest(&silov1.CreateTenantRequest{Name: "Crash", Slug: slug}))
		})

		id := waitForTenantRow(t, poller, slug)
		created = append(created, id)

		tx, err := locker.Begin(t.Context())
		require.NoError(t, err)
		var status string
		require.NoError(t, tx.QueryRow(t.Context(), `SELECT status FROM tenants WHERE id = $1 FOR UPDATE`, id).Scan(&status))
		if status == string(catalog.StatusProvisioning) {
			caught, lock = id, tx
			break
		}
		require.NoError(t, tx.Rollback(t.Context()))
		t.Logf("tenant %s was already %s when the test locked its row; trying another tenant", id, status)
	}

	if caught == uuid.Nil {
		t.Logf("every tenant finished provisioning before the test locked its row; the kill lands after provisioning")
	} else {
		// The job waits in the activate step, or, when an attempt ran past
		// SILO_JOB_TIMEOUT on a loaded machine, while it records the error.
		// Either way it has not finished when the process dies.
		query := waitForBlockedQuery(t, poller, locker.PgConn().PID())
		require.Contains(t, query, "UPDATE tenants SET", "query that waits for the tenant row lock")
		t.Logf("killing the process while this query waits for the tenant row lock: %s", strings.Join(strings.Fields(query), " "))
		if strings.Contains(query, "status = 'active'") {
			var stamps int
			tenantDB, err := pgx.Connect(t.Context(), pgtest.Cluster(t).URL(catalog.ObjectName(caught)))
			require.NoError(t, err)
			require.NoError(t, tenantDB.QueryRow(t.Context(), `SELECT count(*) FROM tenant_identity`).Scan(&stamps))
			require.Equal(t, 1, stamps, "stamps in the tenant database before the kill")
			require.NoError(t, tenantDB.Close(t.Context()))
		}
	}

	first.kill()
	if lock != nil {
		require.NoError(t, lock.Rollback(t.Context()))
	}
	waitForNoSessions(t, poller, poller.Config().Database)
	if caught != uuid.Nil {
		var status string
		require.NoError(t, poller.QueryRow(t.Context(), `SELECT status FROM tenants WHERE id = $1`, caught).Scan(&status))
		require.Equal(t, string(catalog.StatusProvisioning), status, "status of the tenant after the kill")
	}

	restarted := time.Now()
	second := startProcess(t, binary, env)
	second.waitReady(t, baseURL)
	for _, id := range created {
		waitForCatalogStatus(t, poller, id, catalog.StatusActive, recoveryTimeout)
		requireProvisioned(t, id)
	}
	t.Logf("%d tenants active %s after the restart", len(created), time.Since(restarted).Round(100*time.Millisecond))
	if caught != uuid.Nil {
		job := waitForProvisionJob(t, poller, caught, "completed", statusTimeout)
		require.GreaterOrEqual(t, job.Attempt, 2, "attempts of the interrupted job")
	}

	calls.Wait()
	second.stop(t)

	passwords := map[uuid.UUID]string{}
	for _, id := range created {
		var sealed []byte
		require.NoError(t, poller.QueryRow(t.Context(),
			`SELECT role_password_encrypted FROM tenants WHERE id = $1`, id).Scan(&sealed))
		password, err := box.Open(sealed, id[:])
		require.NoError(t, err)
		passwords[id] = string(password)
	}
	sources := map[string][]string{
		"log of the killed process":    first.logs.Lines(),
		"log of the restarted process": second.logs.Lines(),
		"PostgreSQL server log":        pgtest.LogLines(t),
	}
	rows, err := poller.Query(t.Context(), `SELECT r::text FROM river_job r`)
	require.NoError(t, err)
	sources["river_job"], err = pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	requirePasswordsAbsent(t, passwords, sources)
}

// waitForCatalogStatus polls the catalog row of tenant id until it has
// status.
func waitForCatalogStatus(t *testing.T, conn *pgx.Conn, id uuid.UUID, status catalog.Status, timeout time.Duration) {
	t.Helper()

	deadline := time.Now().Add(timeout)
	for {
		var current, lastError string
		err := conn.QueryRow(t.Context(),
			`SELECT status, coalesce(last_error, '') FROM tenants WHERE id = $1`, id).Scan(&current, &lastError)
		require.NoError(t, err)
		if current == string(status) {
			return
		}
		if time.Now().After(deadline) {
			require.Failf(t, "tenant status timed out", "tenant %s is %s after %s, expected %s (last error: %q)",
				id, current, timeout, status, lastError)
		}
		time.Sleep(250 * time.Millisecond)
	}
}
