package pgcluster

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// debianBinGlob matches the server binary folders of the Debian and Ubuntu
// packages, which install one folder per major version and put none of them
// on PATH.
const debianBinGlob = "/usr/lib/postgresql/*/bin"

// BinDir returns the folder that contains the PostgreSQL server binaries
// initdb and pg_ctl. It tries `pg_config --bindir` first, then the newest
// version folder that matches /usr/lib/postgresql/<version>/bin.
func BinDir() (string, error) {
	output, err := exec.Command("pg_config", "--bindir").Output() //nolint:noctx // a local lookup that returns at once; BinDir has no context to pass
	if err == nil {
		dir := strings.TrimSpace(string(output))
		if hasServerBinaries(dir) {
			return dir, nil
		}
	}

	candidates, err := filepath.Glob(debianBinGlob)
	if err != nil {
		return "", err
	}

	newest := ""
	var newestVersion []int
	for _, dir := range candidates {
		version, ok := parseVersion(filepath.Base(filepath.Dir(dir)))
		if !ok || !hasServerBinaries(dir) {
			continue
		}
		if newest == "" || compareVersions(version, newestVersion) > 0 {
			newest, newestVersion = dir, version
		}
	}
	if newest == "" {
		return "", errors.New("find PostgreSQL server binaries: no initdb and pg_ctl in `pg_config --bindir` or " +
			debianBinGlob + "; install the PostgreSQL server (Debian package postgresql)")
	}
	return newest, nil
}

// hasServerBinaries reports whether dir contains the executables initdb and
// pg_ctl. Client-only installations ship pg_config without them.
func hasServerBinaries(dir string) bool {
	for _, name := range []string{"initdb", "pg_ctl"} {
		info, err := os.Stat(filepath.Join(dir, name))
		if err != nil || info.IsDir() || info.Mode().Perm()&0o111 == 0 {
			return false
		}
	}
	return true
}

// parseVersion parses a version folder name such as "15" or "9.6".
func parseVersion(name string) ([]int, bool) {
	parts := strings.Split(name, ".")
	version := make([]int, len(parts))
	for i, part := range parts {
		number, err := strconv.Atoi(part)
		if err != nil || number < 0 {
			return nil, false
		}
		version[i] = number
	}
	return version, true
}

// compareVersions returns -1, 0 or +1 as a is older than, equal to or newer
// than b. A missing component counts as 0, so 9.6 is newer than 9.
func compareVersions(a, b []int) int {
	for i := range max(len(a), len(b)) {
		var x, y int
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
	}
	return 0
}
