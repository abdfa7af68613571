//go:build bench

package bench

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
)

// machine is the description of the host a benchmark ran on. Each field is
// read at run time. A field that cannot be read contains "unknown" and the
// reason, so the benchmark still records its results.
type machine struct {
	CPU        string
	Cores      string
	Memory     string
	OS         string
	PostgreSQL string
	Go         string
}

// describeMachine reads the machine's description from the Linux /proc and
// /etc/os-release files, the Go runtime, and the PostgreSQL server behind
// pool.
func describeMachine(ctx context.Context, pool *pgxpool.Pool) machine {
	var pgVersion string
	if err := pool.QueryRow(ctx, `SHOW server_version`).Scan(&pgVersion); err != nil {
		pgVersion = fmt.Sprintf("unknown (%v)", err)
	}

	return machine{
		CPU:        cpuModel(),
		Cores:      fmt.Sprintf("%d logical CPUs available to the Go process", runtime.NumCPU()),
		Memory:     totalMemory(),
		OS:         operatingSystem(),
		PostgreSQL: pgVersion,
		Go:         fmt.Sprintf("%s %s/%s", runtime.Version(), runtime.GOOS, runtime.GOARCH),
	}
}

// cpuModel returns the "model name" of the first processor in
// /proc/cpuinfo.
func cpuModel() string {
	value, err := fieldOf("/proc/cpuinfo", "model name", ":")
	if err != nil {
		return fmt.Sprintf("unknown (%v)", err)
	}

	return value
}

// totalMemory returns MemTotal from /proc/meminfo in GiB.
func totalMemory() string {
	value, err := fieldOf("/proc/meminfo", "MemTotal", ":")
	if err != nil {
		return fmt.Sprintf("unknown (%v)", err)
	}
	kib, err := strconv.ParseFloat(strings.TrimSuffix(value, " kB"), 64)
	if err != nil {
		return fmt.Sprintf("unknown (MemTotal %q in /proc/meminfo is not in kB)", value)
	}

	return fmt.Sprintf("%.1f GiB", kib/(1<<20))
}

// operatingSystem returns PRETTY_NAME from /etc/os-release and the kernel
// release.
func operatingSystem() string {
	name, err := fieldOf("/etc/os-release", "PRETTY_NAME", "=")
	if err != nil {
		name = fmt.Sprintf("unknown distribution (%v)", err)
	}
	name = strings.Trim(name, `"`)

	kernel, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return name + ", unknown kernel"
	}

	return fmt.Sprintf("%s, Linux kernel %s", name, strings.TrimSpace(string(kernel)))
}

// fieldOf returns the value of the first line of the file at path that has
// the form "key<separator>value", with spaces around both trimmed.
func fieldOf(path, key, separator string) (string, error) {
	file, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	defer file.Close()

	scanner := bufio.NewScanner(file)
	for scanner.Scan() {
		name, value, found := strings.Cut(scanner.Text(), separator)
		if found && strings.TrimSpace(name) == key {
			return strings.TrimSpace(value), nil
		}
	}
	if err := scanner.Err(); err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}

	return "", fmt.Errorf("no %s in %s", key, path)
}
