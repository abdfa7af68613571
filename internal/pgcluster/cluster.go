package pgcluster

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
)

// superuser is the name of the cluster's superuser role.
const superuser = "postgres"

// defaultMaxConnections leaves room for tests that each open a pool. The
// PostgreSQL default of 100 runs out when many tests run in parallel.
const defaultMaxConnections = "300"

// Options configures a Cluster.
type Options struct {
	// Dir is the folder that contains the cluster: Dir/data is the data
	// directory (PGDATA) and Dir/postgres.log the server log. Open makes it
	// absolute.
	Dir string

	// Port is the TCP port on 127.0.0.1. Zero picks a free port at each Start.
	Port int

	// Password is the password of the superuser "postgres". Required.
	Password string

	// Settings are extra server parameters, for example "log_statement":
	// "all". Start passes them on the postgres command line, so they override
	// postgresql.conf, ALTER SYSTEM and the defaults of this package
	// (max_connections=300 and the Fast settings). The parameters that decide
	// where the server listens and logs are reserved.
	Settings map[string]string

	// Fast turns off fsync, synchronous_commit and full_page_writes, and makes
	// initdb skip its sync to disk. A crash of the machine can then corrupt
	// the cluster, so only throwaway test clusters set it.
	Fast bool
}

// Cluster is a PostgreSQL cluster in a folder. Init and Start must not run
// concurrently with other methods. Port, URL and LogPath are safe for
// concurrent use once Start has returned.
type Cluster struct {
	binDir    string
	dir       string
	password  string
	port      int
	fixedPort bool
	settings  map[string]string
	fast      bool

	// owner is the OS user that runs initdb and pg_ctl and owns dir. It is nil
	// when they run as the calling user.
	owner *syscall.Credential

	// pickPort returns a free port when Options.Port is zero. Tests replace it
	// to simulate a port taken between picking and starting.
	pickPort func() (int, error)
}

// reservedSettings are set by Start and must not come from Options.Settings,
// because Port, URL and LogPath depend on them.
var reservedSettings = map[string]string{
	"listen_addresses":        "use Options.Port; the server listens on 127.0.0.1 only",
	"port":                    "use Options.Port",
	"unix_socket_directories": "the server listens on TCP only",
	"logging_collector":       "the server log goes to LogPath",
}

// settingName matches a PostgreSQL parameter name, including the
// "extension.name" form of custom parameters.
var settingName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$`)

// Open validates opts and returns a Cluster for opts.Dir. It neither creates
// nor reads the folder. Open looks up the server binaries (see BinDir) and,
// when the process runs as root, the OS user "postgres".
func Open(opts Options) (*Cluster, error) {
	dir, err := validateDir(opts.Dir)
	if err != nil {
		return nil, err
	}
	if err := validatePassword(opts.Password); err != nil {
		return nil, err
	}
	if opts.Port < 0 || opts.Port > 65535 {
		return nil, fmt.Errorf("invalid port %d: use 1-65535, or 0 to pick a free port", opts.Port)
	}
	settings, err := mergeSettings(opts)
	if err != nil {
		return nil, err
	}

	binDir, err := BinDir()
	if err != nil {
		return nil, err
	}
	owner, err := serverOwner()
	if err != nil {
		return nil, err
	}

	return &Cluster{
		binDir:    binDir,
		dir:       dir,
		password:  opts.Password,
		port:      opts.Port,
		fixedPort: opts.Port != 0,
		settings:  settings,
		fast:      opts.Fast,
		owner:     owner,
		pickPort:  freePort,
	}, nil
}

// Port returns the TCP port of the server: Options.Port, or the port that the
// last Start picked. It is 0 when Options.Port is 0 and Start has not run.
func (c *Cluster) Port() int {
	return c.port
}

// URL returns the connection URL of database as the superuser, with TLS off
// because the server listens on 127.0.0.1 only.
func (c *Cluster) URL(database string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword(superuser, c.password),
		Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(c.port)),
		Path:     "/" + database,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// LogPath returns the path of the server log. pg_ctl appends to it, so it
// contains the output of every start since the folder was created.
func (c *Cluster) LogPath() string {
	return filepath.Join(c.dir, "postgres.log")
}

// dataDir returns the path of the data directory (PGDATA).
func (c *Cluster) dataDir() string {
	return filepath.Join(c.dir, "data")
}

// validateDir returns dir as an absolute path. pg_ctl builds a /bin/sh
// command with the data directory and log path in double quotes, so
// characters that the shell expands there are rejected.
func validateDir(dir string) (string, error) {
	if dir == "" {
		return "", errors.New("missing cluster folder: set Options.Dir")
	}
	if strings.ContainsAny(dir, "\"\\$`\n\x00") {
		return "", fmt.Errorf("invalid cluster folder %q: pg_ctl cannot handle the characters \" \\ $ ` or line breaks in paths", dir)
	}

	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("resolve cluster folder %q: %w", dir, err)
	}
	return abs, nil
}

// validatePassword rejects passwords that initdb cannot read: it takes the
// first line of the password file.
func validatePassword(password string) error {
	if password == "" {
		return errors.New("missing superuser password: set Options.Password")
	}
	if strings.ContainsAny(password, "\r\n\x00") {
		return errors.New("invalid superuser password: it must not contain line breaks or NUL bytes")
	}
	return nil
}

// mergeSettings returns the server settings of opts: the defaults, then the
// Fast settings, then opts.Settings.
func mergeSettings(opts Options) (map[string]string, error) {
	settings := map[string]string{"max_connections": defaultMaxConnections}
	if opts.Fast {
		settings["fsync"] = "off"
		settings["synchronous_commit"] = "off"
		settings["full_page_writes"] = "off"
	}

	for name, value := range opts.Settings {
		if !settingName.MatchString(name) {
			return nil, fmt.Errorf("invalid setting name %q: use a PostgreSQL parameter name such as log_statement", name)
		}
		if reason, ok := reservedSettings[strings.ToLower(name)]; ok {
			return nil, fmt.Errorf("invalid setting %q: pgcluster sets it itself (%s)", name, reason)
		}
		if strings.ContainsRune(value, 0) {
			return nil, fmt.Errorf("invalid value for setting %q: it contains a NUL byte", name)
		}
		settings[name] = value
	}
	return settings, nil
}

// serverOwner returns the credential of the OS user "postgres" when the
// process runs as root, because initdb and postgres exit when run as root.
// It returns nil otherwise.
func serverOwner() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}

	account, err := user.Lookup(superuser)
	if err != nil {
		return nil, fmt.Errorf("look up OS user %q, needed because PostgreSQL does not run as root: %w; "+
			"create the user (the Debian package postgresql does) or run as a normal user", superuser, err)
	}
	uid, err := strconv.ParseUint(account.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("parse uid %q of OS user %q: %w", account.Uid, superuser, err)
	}
	gid, err := strconv.ParseUint(account.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("parse gid %q of OS user %q: %w", account.Gid, superuser, err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}
