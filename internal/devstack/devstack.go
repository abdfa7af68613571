// Package devstack prepares a local PostgreSQL cluster and secrets in a
// data folder so that `silo dev` runs the whole stack on a machine with
// nothing but Go and the PostgreSQL server packages.
package devstack

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"silo.dev/silo/internal/pgcluster"
	"silo.dev/silo/internal/secret"
)

// catalogDatabase is the name of the catalog database in the local cluster.
const catalogDatabase = "silo"

// passwordFile is the file in the data folder that holds the local
// cluster's superuser password.
const passwordFile = "postgres-password"

// Stack is a data folder holding a local cluster and generated secrets.
type Stack struct {
	dir     string
	cluster *pgcluster.Cluster
}

// Open returns the stack in dir, creating the folder when it is missing.
func Open(dir string) (*Stack, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create data folder %s: %w", dir, err)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("resolve data folder %s: %w", dir, err)
	}

	return &Stack{dir: abs}, nil
}

// StartCluster initializes the local cluster on first use, starts it on a
// free port on 127.0.0.1, creates the catalog database, and returns its URL.
func (s *Stack) StartCluster(ctx context.Context) (string, error) {
	password, err := s.readOrCreate(passwordFile, secret.NewPassword)
	if err != nil {
		return "", err
	}
	s.cluster, err = pgcluster.Open(pgcluster.Options{Dir: filepath.Join(s.dir, "postgres"), Password: password})
	if err != nil {
		return "", err
	}
	if err := s.cluster.Init(ctx); err != nil {
		return "", err
	}
	if err := s.cluster.Start(ctx); err != nil {
		return "", err
	}
	if err := s.cluster.EnsureDatabase(ctx, catalogDatabase); err != nil {
		return "", err
	}

	return s.cluster.URL(catalogDatabase), nil
}

// StopCluster stops the local cluster if StartCluster started it.
func (s *Stack) StopCluster(ctx context.Context) error {
	if s.cluster == nil {
		return nil
	}

	return s.cluster.Stop(ctx)
}

// ClusterLog returns the path of the local cluster's server log.
func (s *Stack) ClusterLog() string {
	if s.cluster == nil {
		return ""
	}

	return s.cluster.LogPath()
}

// ClusterPort returns the local cluster's port on 127.0.0.1, or 0 before
// StartCluster.
func (s *Stack) ClusterPort() int {
	if s.cluster == nil {
		return 0
	}

	return s.cluster.Port()
}

// PasswordFile returns the path of the file holding the local cluster's
// superuser password.
func (s *Stack) PasswordFile() string {
	return filepath.Join(s.dir, passwordFile)
}

// Key returns the base64 key stored in the file name in the data folder,
// generating 32 random bytes on first use.
func (s *Stack) Key(name string) (string, error) {
	return s.readOrCreate(name, func() (string, error) {
		key, err := secret.NewKey()
		if err != nil {
			return "", err
		}
		return key.String(), nil
	})
}

// readOrCreate returns the content of the file name in the data folder, or
// writes a new value from generate there (readable by the owner only) when
// the file does not exist.
func (s *Stack) readOrCreate(name string, generate func() (string, error)) (string, error) {
	path := filepath.Join(s.dir, name)
	content, err := os.ReadFile(path)
	if err == nil {
		return strings.TrimSpace(string(content)), nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("read %s: %w", path, err)
	}

	value, err := generate()
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(path, []byte(value+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}

	return value, nil
}
