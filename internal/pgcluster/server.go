package pgcluster

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// maxStartAttempts bounds how often Start picks a new free port after
// another process took the previous one between picking and binding.
const maxStartAttempts = 5

// pg_ctl status exit codes other than 0 (running), from the pg_ctl manual.
const (
	statusNotRunning = 3
	statusNoDataDir  = 4
)

// Init creates the cluster with initdb unless Dir/data already contains one
// (a PG_VERSION file). The superuser "postgres" gets Options.Password, and
// both local and host connections require scram-sha-256.
func (c *Cluster) Init(ctx context.Context) error {
	exists, err := c.initialized()
	if err != nil {
		return err
	}
	if exists {
		return nil
	}

	if err := os.MkdirAll(c.dir, 0o700); err != nil {
		return fmt.Errorf("create cluster folder: %w", err)
	}
	if err := c.prepareDir(); err != nil {
		return err
	}

	passwordFile, err := c.writePasswordFile()
	if err != nil {
		return err
	}
	defer os.Remove(passwordFile)

	args := []string{
		"--pgdata=" + c.dataDir(),
		"--username=" + superuser,
		"--pwfile=" + passwordFile,
		"--auth-local=scram-sha-256",
		"--auth-host=scram-sha-256",
		"--encoding=UTF8",
		"--locale=C",
	}
	if c.fast {
		args = append(args, "--no-sync")
	}
	output, err := c.run(ctx, "initdb", args...)
	if err != nil {
		return c.commandError("initialize cluster in "+c.dataDir()+" with initdb", "initdb", err, output, "")
	}
	return nil
}

// Start starts the server with pg_ctl and waits until it accepts
// connections on 127.0.0.1. When Options.Port is 0, Start picks a free port
// and retries with a new one if another process takes it first. A server
// still running in Dir, left by a program that did not call Stop, is
// stopped first.
func (c *Cluster) Start(ctx context.Context) error {
	exists, err := c.initialized()
	if err != nil {
		return err
	}
	if !exists {
		return fmt.Errorf("start server: no cluster in %s; call Init first", c.dataDir())
	}
	if err := c.prepareDir(); err != nil {
		return err
	}

	running, err := c.running(ctx)
	if err != nil {
		return err
	}
	if running {
		if err := c.Stop(ctx); err != nil {
			return fmt.Errorf("stop server left running in %s: %w", c.dataDir(), err)
		}
	}

	for attempt := 1; ; attempt++ {
		port := c.port
		if !c.fixedPort {
			port, err = c.pickPort()
			if err != nil {
				return err
			}
		}

		portInUse, err := c.startOnPort(ctx, port)
		if err == nil {
			c.port = port
			return nil
		}
		if c.fixedPort || !portInUse || attempt == maxStartAttempts {
			return err
		}
	}
}

// Stop stops the server with pg_ctl's fast mode, which rolls back open
// transactions and closes connections, and waits until it has exited. Stop
// returns nil when no server is running.
func (c *Cluster) Stop(ctx context.Context) error {
	running, err := c.running(ctx)
	if err != nil || !running {
		return err
	}

	output, err := c.run(ctx, "pg_ctl", "stop", "--wait", "--pgdata="+c.dataDir(), "--mode=fast")
	if err == nil {
		return nil
	}

	// The server may have exited on its own between the two commands.
	if running, statusErr := c.running(ctx); statusErr == nil && !running {
		return nil
	}
	return c.commandError("stop server in "+c.dataDir()+" with pg_ctl", "pg_ctl", err, output, "")
}

// startOnPort runs pg_ctl start with the server listening on port. It
// reports whether the server failed because the port was in use.
func (c *Cluster) startOnPort(ctx context.Context, port int) (portInUse bool, err error) {
	logOffset := c.logSize()

	output, err := c.run(ctx, "pg_ctl", "start", "--wait",
		"--pgdata="+c.dataDir(),
		"--log="+c.LogPath(),
		"--options="+c.serverOptions(port))
	if err == nil {
		return false, nil
	}

	serverLog := c.logSince(logOffset)
	portInUse = strings.Contains(serverLog, "Address already in use")
	operation := fmt.Sprintf("start server on 127.0.0.1:%d with pg_ctl", port)
	return portInUse, c.commandError(operation, "pg_ctl", err, output, serverLog)
}

// serverOptions returns the postgres command line options that pg_ctl
// passes on. pg_ctl runs the server through /bin/sh -c, so every option is
// quoted for the shell. Options on the command line override
// postgresql.conf and ALTER SYSTEM.
func (c *Cluster) serverOptions(port int) string {
	settings := maps.Clone(c.settings)
	settings["listen_addresses"] = "127.0.0.1"
	settings["port"] = strconv.Itoa(port)
	settings["unix_socket_directories"] = ""
	settings["logging_collector"] = "off"

	var options []string
	for _, name := range slices.Sorted(maps.Keys(settings)) {
		options = append(options, "-c", shellQuote(name+"="+settings[name]))
	}
	return strings.Join(options, " ")
}

// running reports whether a server runs in the data directory.
func (c *Cluster) running(ctx context.Context) (bool, error) {
	_, err := os.Stat(filepath.Join(c.dataDir(), "postmaster.pid"))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("check server status: %w", err)
	}

	output, err := c.run(ctx, "pg_ctl", "status", "--pgdata="+c.dataDir())
	if err == nil {
		return true, nil
	}
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) && (exitErr.ExitCode() == statusNotRunning || exitErr.ExitCode() == statusNoDataDir) {
		return false, nil
	}
	return false, c.commandError("check server status in "+c.dataDir()+" with pg_ctl", "pg_ctl", err, output, "")
}

// initialized reports whether the data directory contains a cluster.
func (c *Cluster) initialized() (bool, error) {
	_, err := os.Stat(filepath.Join(c.dataDir(), "PG_VERSION"))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("check for a cluster in %s: %w", c.dataDir(), err)
	}
	return true, nil
}

// prepareDir gives the cluster folder, the data directory if it exists and
// the server log to the cluster owner. It creates the log, so the owner can
// append to it even if an earlier run as another user created it.
func (c *Cluster) prepareDir() error {
	if err := c.chown(c.dir); err != nil {
		return err
	}

	if _, err := os.Stat(c.dataDir()); err == nil {
		if err := c.chown(c.dataDir()); err != nil {
			return err
		}
	}

	logFile, err := os.OpenFile(c.LogPath(), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("create server log: %w", err)
	}
	if err := logFile.Close(); err != nil {
		return fmt.Errorf("create server log: %w", err)
	}
	return c.chown(c.LogPath())
}

// writePasswordFile writes the superuser password to a new file in the
// cluster folder for initdb --pwfile and returns its path. The caller
// removes it.
func (c *Cluster) writePasswordFile() (string, error) {
	file, err := os.CreateTemp(c.dir, ".initdb-password-*")
	if err != nil {
		return "", fmt.Errorf("create password file for initdb: %w", err)
	}

	_, writeErr := file.WriteString(c.password + "\n")
	closeErr := file.Close()
	if err := errors.Join(writeErr, closeErr); err != nil {
		os.Remove(file.Name())
		return "", fmt.Errorf("write password file for initdb: %w", err)
	}

	if err := c.chown(file.Name()); err != nil {
		os.Remove(file.Name())
		return "", err
	}
	return file.Name(), nil
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
// Another process may take it before the server binds it.
func freePort() (int, error) {
	listener, err := net.Listen("tcp", "127.0.0.1:0") //nolint:noctx // binding a loopback port does not block
	if err != nil {
		return 0, fmt.Errorf("pick a free port on 127.0.0.1: %w", err)
	}
	port := listener.Addr().(*net.TCPAddr).Port

	if err := listener.Close(); err != nil {
		return 0, fmt.Errorf("pick a free port on 127.0.0.1: %w", err)
	}
	return port, nil
}

// shellQuote quotes s as one word for /bin/sh.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
