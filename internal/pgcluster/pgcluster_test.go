package pgcluster

import (
	"context"
	"crypto/rand"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"
)

// newTestDir returns a new folder for a cluster, removed after the test.
// t.TempDir does not fit: as root its parent folder is closed to the OS user
// "postgres" that runs the server.
func newTestDir(t *testing.T) string {
	t.Helper()

	dir, err := os.MkdirTemp("", "pgcluster-test-")
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, os.RemoveAll(dir)) })
	return dir
}

// startCluster opens, initializes and starts a cluster and stops it after
// the test.
func startCluster(t *testing.T, opts Options) *Cluster {
	t.Helper()

	cluster, err := Open(opts)
	require.NoError(t, err)
	require.NoError(t, cluster.Init(t.Context()))
	require.NoError(t, cluster.Start(t.Context()))
	t.Cleanup(func() { require.NoError(t, cluster.Stop(context.Background())) })
	return cluster
}

// showSetting returns the current value of a server setting.
func showSetting(t *testing.T, conn *pgx.Conn, name string) string {
	t.Helper()

	var value string
	require.NoError(t, conn.QueryRow(t.Context(), "SELECT current_setting($1)", name).Scan(&value))
	return value
}

// connect opens a connection that is closed after the test.
func connect(t *testing.T, connString string) *pgx.Conn {
	t.Helper()

	conn, err := pgx.Connect(t.Context(), connString)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func TestBinDirContainsServerBinaries(t *testing.T) {
	dir, err := BinDir()
	require.NoError(t, err)

	require.FileExists(t, filepath.Join(dir, "initdb"))
	require.FileExists(t, filepath.Join(dir, "pg_ctl"))
}

func TestCompareVersions(t *testing.T) {
	testCases := []struct {
		name string
		a, b string
		want int
	}{
		{name: "newer major", a: "16", b: "15", want: 1},
		{name: "two digit beats one digit", a: "10", b: "9.6", want: 1},
		{name: "minor", a: "9.5", b: "9.6", want: -1},
		{name: "missing minor is zero", a: "9", b: "9.0", want: 0},
	}
	for _, tc := range testCases {
		t.Run(tc.name, func(t *testing.T) {
			a, ok := parseVersion(tc.a)
			require.True(t, ok)
			b, ok := parseVersion(tc.b)
			require.True(t, ok)

			require.Equal(t, tc.want, compareVersions(a, b))
		})
	}
}

func TestOpenRejectsInvalidOptions(t *testing.T) {
	valid := Options{Dir: "/nonexistent/cluster", Password: "secret"}

	testCases := []struct {
		name    string
		change  func(opts *Options)
		wantErr string
	}{
		{name: "missing dir", change: func(opts *Options) { opts.Dir = "" }, wantErr: "missing cluster folder"},
		{name: "dir with quote", change: func(opts *Options) { opts.Dir = `/tmp/a"b` }, wantErr: "invalid cluster folder"},
		{name: "dir with dollar", change: func(opts *Options) { opts.Dir = "/tmp/$HOME" }, wantErr: "invalid cluster folder"},
		{name: "missing password", change: func(opts *Options) { opts.Password = "" }, wantErr: "missing superuser password"},
		{name: "password with line break", change: func(opts *Options) { opts.Password = "a\nb" }, wantErr: "invalid superuser password"},
		{name: "negative port", change: func(opts *Options) { opts.Port = -1 }, wantErr: "invalid port -1"},
		{name: "port too high", change: func(opts *Options) { opts.Port = 65536 }, wantErr: "invalid port 65536"},
		{
			name:    "reserved setting",
			change:  func(opts *Options) { opts.Settings = map[string]string{"port": "5432"} },
			wantErr: `invalid setting "port"`,
		},
		{
			name:    "reserved setting in upper case",
			change:  func(opts *Options) { opts.Settings = map[string]string{"Listen_Addresses": "*"} },
			wantErr: `invalid setting "Listen_Addresses"`,
		},
		{
			name:    "setting name with equals sign",
			change:  func(opts *Options) { opts.Settings = map[string]string{"a=b": "c"} },
			wantErr: `invalid setting name "a=b"`,
		},
	}
	for _, tc := range testCases {
		t.Run(tc.name, func(t *testing.T) {
			opts := valid
			tc.change(&opts)

			_, err := Open(opts)
			require.ErrorContains(t, err, tc.wantErr)
		})
	}
}

func TestOpenAcceptsCustomSetting(t *testing.T) {
	cluster, err := Open(Options{
		Dir:      "relative/cluster",
		Password: "secret",
		Settings: map[string]string{"auto_explain.log_min_duration": "0"},
	})
	require.NoError(t, err)

	require.True(t, filepath.IsAbs(cluster.dir))
	require.Equal(t, "0", cluster.settings["auto_explain.log_min_duration"])
}

func TestURLEscapesPassword(t *testing.T) {
	password := "p@ss:/w?rd#%'"
	cluster, err := Open(Options{Dir: "/nonexistent/cluster", Port: 5433, Password: password})
	require.NoError(t, err)

	parsed, err := url.Parse(cluster.URL("app db"))
	require.NoError(t, err)

	require.Equal(t, "postgres", parsed.Scheme)
	require.Equal(t, "127.0.0.1:5433", parsed.Host)
	require.Equal(t, "postgres", parsed.User.Username())
	gotPassword, _ := parsed.User.Password()
	require.Equal(t, password, gotPassword)
	require.Equal(t, "/app db", parsed.Path)
	require.Equal(t, "disable", parsed.Query().Get("sslmode"))
}

func TestServerOptionsQuoteValues(t *testing.T) {
	cluster, err := Open(Options{
		Dir:      "/nonexistent/cluster",
		Password: "secret",
		Settings: map[string]string{"application_name": "it's"},
	})
	require.NoError(t, err)

	options := cluster.serverOptions(5433)

	require.Contains(t, options, `-c 'application_name=it'\''s'`)
	require.Contains(t, options, `-c 'port=5433'`)
	require.Contains(t, options, `-c 'unix_socket_directories='`)
}

func TestClusterStartsWithScramAuthentication(t *testing.T) {
	t.Parallel()

	password := "pw-" + rand.Text()
	dir := newTestDir(t)
	cluster := startCluster(t, Options{
		Dir:      dir,
		Password: password,
		Settings: map[string]string{"application_name": "it's quoted"},
		Fast:     true,
	})
	require.NotZero(t, cluster.Port())

	conn := connect(t, cluster.URL("postgres"))
	var currentUser string
	require.NoError(t, conn.QueryRow(t.Context(), "SELECT current_user").Scan(&currentUser))
	require.Equal(t, "postgres", currentUser)

	t.Run("settings", func(t *testing.T) {
		require.Equal(t, "off", showSetting(t, conn, "fsync"))
		require.Equal(t, "off", showSetting(t, conn, "synchronous_commit"))
		require.Equal(t, "off", showSetting(t, conn, "full_page_writes"))
		require.Equal(t, "300", showSetting(t, conn, "max_connections"))
		require.Equal(t, "127.0.0.1", showSetting(t, conn, "listen_addresses"))
		require.Empty(t, showSetting(t, conn, "unix_socket_directories"))
		require.Equal(t, "it's quoted", showSetting(t, conn, "application_name"))
		require.Equal(t, "UTF8", showSetting(t, conn, "server_encoding"))
	})

	t.Run("wrong password rejected", func(t *testing.T) {
		wrongURL, err := url.Parse(cluster.URL("postgres"))
		require.NoError(t, err)
		wrongURL.User = url.UserPassword("postgres", "wrong")

		_, err = pgx.Connect(t.Context(), wrongURL.String())

		var pgErr *pgconn.PgError
		require.ErrorAs(t, err, &pgErr)
		require.Equal(t, "28P01", pgErr.Code, "want invalid_password")
	})

	t.Run("password stored as scram", func(t *testing.T) {
		var stored string
		err := conn.QueryRow(t.Context(), "SELECT rolpassword FROM pg_authid WHERE rolname = 'postgres'").Scan(&stored)
		require.NoError(t, err)
		require.Regexp(t, `^SCRAM-SHA-256\$`, stored)
	})

	t.Run("server log written", func(t *testing.T) {
		log, err := os.ReadFile(cluster.LogPath())
		require.NoError(t, err)
		require.Contains(t, string(log), `listening on IPv4 address "127.0.0.1", port `+strconv.Itoa(cluster.Port()))
	})

	t.Run("server in own session", func(t *testing.T) {
		pid := postmasterPID(t, cluster)
		serverGroup, err := syscall.Getpgid(pid)
		require.NoError(t, err)
		require.NotEqual(t, syscall.Getpgrp(), serverGroup)
	})

	t.Run("folder owned by server user", func(t *testing.T) {
		if os.Geteuid() != 0 {
			t.Skip("the folder changes owner only when the tests run as root")
		}
		info, err := os.Stat(dir)
		require.NoError(t, err)
		require.Equal(t, cluster.owner.Uid, info.Sys().(*syscall.Stat_t).Uid)
	})

	t.Run("password file removed", func(t *testing.T) {
		matches, err := filepath.Glob(filepath.Join(dir, ".initdb-password-*"))
		require.NoError(t, err)
		require.Empty(t, matches)
	})
}

// postmasterPID returns the process id of the running server, the first
// line of postmaster.pid.
func postmasterPID(t *testing.T, cluster *Cluster) int {
	t.Helper()

	content, err := os.ReadFile(filepath.Join(cluster.dataDir(), "postmaster.pid"))
	require.NoError(t, err)
	firstLine, _, _ := strings.Cut(string(content), "\n")
	pid, err := strconv.Atoi(firstLine)
	require.NoError(t, err)
	return pid
}

func TestClusterRestartKeepsData(t *testing.T) {
	t.Parallel()

	dir := newTestDir(t)
	password := "pw-" + rand.Text()
	first := startCluster(t, Options{Dir: dir, Password: password, Fast: true})

	conn := connect(t, first.URL("postgres"))
	_, err := conn.Exec(t.Context(), "CREATE TABLE kept (id int)")
	require.NoError(t, err)
	require.NoError(t, conn.Close(t.Context()))

	require.NoError(t, first.Stop(t.Context()))
	require.NoError(t, first.Stop(t.Context()), "Stop on a stopped server")

	// A second Cluster on the same folder skips initdb and applies its own
	// settings.
	second := startCluster(t, Options{
		Dir:      dir,
		Password: password,
		Settings: map[string]string{"max_connections": "50"},
	})
	conn = connect(t, second.URL("postgres"))

	var exists bool
	require.NoError(t, conn.QueryRow(t.Context(), "SELECT to_regclass('kept') IS NOT NULL").Scan(&exists))
	require.True(t, exists, "table from before the restart")
	require.Equal(t, "on", showSetting(t, conn, "fsync"))
	require.Equal(t, "50", showSetting(t, conn, "max_connections"))
}

func TestClusterStartStopsLeftoverServer(t *testing.T) {
	t.Parallel()

	dir := newTestDir(t)
	password := "pw-" + rand.Text()
	leftover := startCluster(t, Options{Dir: dir, Password: password, Fast: true})
	leftoverPID := postmasterPID(t, leftover)

	restarted := startCluster(t, Options{Dir: dir, Password: password, Fast: true})

	require.NotEqual(t, leftoverPID, postmasterPID(t, restarted))
	conn := connect(t, restarted.URL("postgres"))
	require.NoError(t, conn.Ping(t.Context()))
}

func TestClusterStartReportsPortInUse(t *testing.T) {
	t.Parallel()

	listener, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { listener.Close() })
	takenPort := listener.Addr().(*net.TCPAddr).Port

	password := "pw-" + rand.Text()
	dir := newTestDir(t)
	cluster, err := Open(Options{Dir: dir, Port: takenPort, Password: password, Fast: true})
	require.NoError(t, err)
	require.NoError(t, cluster.Init(t.Context()))

	err = cluster.Start(t.Context())
	t.Cleanup(func() { require.NoError(t, cluster.Stop(context.Background())) })

	require.ErrorContains(t, err, "start server on 127.0.0.1:"+strconv.Itoa(takenPort)+" with pg_ctl")
	require.ErrorContains(t, err, "pg_ctl output:")
	require.ErrorContains(t, err, "Address already in use")
	require.NotContains(t, err.Error(), password)
}

func TestClusterStartRetriesTakenPort(t *testing.T) {
	t.Parallel()

	listener, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { listener.Close() })
	takenPort := listener.Addr().(*net.TCPAddr).Port

	cluster, err := Open(Options{Dir: newTestDir(t), Password: "pw-" + rand.Text(), Fast: true})
	require.NoError(t, err)
	picks := 0
	cluster.pickPort = func() (int, error) {
		picks++
		if picks == 1 {
			return takenPort, nil
		}
		return freePort()
	}
	require.NoError(t, cluster.Init(t.Context()))

	require.NoError(t, cluster.Start(t.Context()))
	t.Cleanup(func() { require.NoError(t, cluster.Stop(context.Background())) })

	require.Equal(t, 2, picks)
	require.NotEqual(t, takenPort, cluster.Port())
	conn := connect(t, cluster.URL("postgres"))
	require.NoError(t, conn.Ping(t.Context()))
}

func TestClusterStartWithoutInit(t *testing.T) {
	cluster, err := Open(Options{Dir: newTestDir(t), Password: "secret"})
	require.NoError(t, err)

	err = cluster.Start(t.Context())

	require.ErrorContains(t, err, "call Init first")
}

func TestClusterStopWithoutCluster(t *testing.T) {
	cluster, err := Open(Options{Dir: filepath.Join(newTestDir(t), "missing"), Password: "secret"})
	require.NoError(t, err)

	require.NoError(t, cluster.Stop(t.Context()))
}

func TestInitErrorNamesCommand(t *testing.T) {
	t.Parallel()

	dir := newTestDir(t)
	password := "pw-" + rand.Text()
	cluster, err := Open(Options{Dir: dir, Password: password})
	require.NoError(t, err)

	// initdb rejects a data directory that is not empty.
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "data"), 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "data", "stray"), nil, 0o600))

	err = cluster.Init(t.Context())

	require.ErrorContains(t, err, "with initdb")
	require.ErrorContains(t, err, "initdb output:")
	require.ErrorContains(t, err, "is not empty")
	require.NotContains(t, err.Error(), password)
}

func TestEnsureDatabaseTwice(t *testing.T) {
	t.Parallel()
	cluster := startCluster(t, Options{Dir: newTestDir(t), Password: "pw-" + rand.Text(), Fast: true})

	require.NoError(t, cluster.EnsureDatabase(t.Context(), "app"))
	require.NoError(t, cluster.EnsureDatabase(t.Context(), "app"), "an existing database is kept")

	conn := connect(t, cluster.URL("app"))
	var name string
	require.NoError(t, conn.QueryRow(t.Context(), "SELECT current_database()").Scan(&name))
	require.Equal(t, "app", name)
}
