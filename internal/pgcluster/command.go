package pgcluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// tailLineCount is the number of output and log lines that an error shows.
const tailLineCount = 20

// maxLogTailBytes bounds how much of the server log an error reads.
const maxLogTailBytes = 64 << 10

// run runs the server binary name with args as the cluster owner and returns
// its combined output, with the password redacted.
func (c *Cluster) run(ctx context.Context, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(c.binDir, name), args...)
	cmd.Dir = c.dir
	cmd.Env = childEnv()

	// A process group of its own keeps a Ctrl-C on the terminal away from
	// initdb and pg_ctl, so the Go program decides when to stop them.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: c.owner}

	var output bytes.Buffer
	cmd.Stdout = &output
	cmd.Stderr = &output

	// The server that pg_ctl starts redirects its output to the log file. If
	// it ever kept the output pipe open, Wait would block until the server
	// exits, so stop waiting for output shortly after pg_ctl has exited.
	cmd.WaitDelay = 5 * time.Second

	err := cmd.Run()
	return c.redact(output.String()), err
}

// childEnv returns the environment for the server binaries: the current one
// without PG* variables, which would change defaults such as the port, and
// with the C locale, so messages are in English.
func childEnv() []string {
	var env []string
	for _, entry := range os.Environ() {
		if strings.HasPrefix(entry, "PG") || strings.HasPrefix(entry, "LC_") || strings.HasPrefix(entry, "LANG=") {
			continue
		}
		env = append(env, entry)
	}
	return append(env, "LC_ALL=C")
}

// chown gives path to the cluster owner. It does nothing when the server
// binaries run as the calling user.
func (c *Cluster) chown(path string) error {
	if c.owner == nil {
		return nil
	}
	if err := os.Chown(path, int(c.owner.Uid), int(c.owner.Gid)); err != nil {
		return fmt.Errorf("give %s to the OS user %q: %w", path, superuser, err)
	}
	return nil
}

// redact replaces the superuser password in text.
func (c *Cluster) redact(text string) string {
	return strings.ReplaceAll(text, c.password, "[password]")
}

// logSize returns the size of the server log, or 0 if it does not exist.
func (c *Cluster) logSize() int64 {
	info, err := os.Stat(c.LogPath())
	if err != nil {
		return 0
	}
	return info.Size()
}

// logSince returns what the server wrote to its log after offset, at most
// the last maxLogTailBytes, with the password redacted.
func (c *Cluster) logSince(offset int64) string {
	file, err := os.Open(c.LogPath())
	if errors.Is(err, fs.ErrNotExist) {
		return ""
	}
	if err != nil {
		return fmt.Sprintf("(read server log: %v)", err)
	}
	defer file.Close()

	info, err := file.Stat()
	if err != nil {
		return fmt.Sprintf("(read server log: %v)", err)
	}
	offset = max(offset, info.Size()-maxLogTailBytes)
	if _, err := file.Seek(offset, io.SeekStart); err != nil {
		return fmt.Sprintf("(read server log: %v)", err)
	}
	text, err := io.ReadAll(file)
	if err != nil {
		return fmt.Sprintf("(read server log: %v)", err)
	}
	return c.redact(string(text))
}

// commandError wraps err, the failure of the server binary program during
// operation, with the last lines of the program's output and, when serverLog
// is not empty, of the server log.
func (c *Cluster) commandError(operation, program string, err error, output, serverLog string) error {
	var details strings.Builder
	fmt.Fprintf(&details, "\n%s output:\n%s", program, indentedTail(output))
	if strings.TrimSpace(serverLog) != "" {
		fmt.Fprintf(&details, "\nserver log %s (last lines):\n%s", c.LogPath(), indentedTail(serverLog))
	}
	return fmt.Errorf("%s: %w%s", operation, err, details.String())
}

// indentedTail returns the last tailLineCount lines of text, indented.
func indentedTail(text string) string {
	text = strings.TrimRight(text, "\n")
	if strings.TrimSpace(text) == "" {
		return "  (none)"
	}

	lines := strings.Split(text, "\n")
	if len(lines) > tailLineCount {
		lines = lines[len(lines)-tailLineCount:]
	}
	return "  " + strings.Join(lines, "\n  ")
}
