// Command silo runs silo's control plane and data plane.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"silo.dev/silo/internal/config"
	"silo.dev/silo/internal/devstack"
	"silo.dev/silo/internal/server"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = ""

const usage = `Usage: silo <command> [flags]

Commands:
  serve [--role all|controlplane|dataplane]  serve the API (default role: all)
  migrate                                    apply catalog and job queue migrations, then exit
  dev [--data DIR]                           run the whole stack on a local PostgreSQL cluster in DIR
  version                                    print the version

Configuration comes from SILO_* environment variables; see the README.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "silo:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}

	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], stderr)
	case "migrate":
		return migrate(ctx, args[1:], stderr)
	case "dev":
		return dev(ctx, args[1:], stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, buildVersion())
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}

	fmt.Fprint(stderr, usage)

	return fmt.Errorf("unknown command %q", args[0])
}

func serve(ctx context.Context, args []string, stderr io.Writer) error {
	flags := flag.NewFlagSet("serve", flag.ContinueOnError)
	flags.SetOutput(stderr)
	roleName := flags.String("role", string(server.RoleAll), "planes to serve: all, controlplane or dataplane")
	if err := flags.Parse(args); err != nil {
		return err
	}
	role, err := server.ParseRole(*roleName)
	if err != nil {
		return err
	}

	cfg, err := config.Load()
	if err != nil {
		return err
	}

	return runServer(ctx, cfg, role, stderr)
}

func runServer(ctx context.Context, cfg *config.Config, role server.Role, stderr io.Writer) error {
	logger := server.NewLogger(stderr, cfg)
	srv, err := server.New(ctx, cfg, role, logger, nil)
	if err != nil {
		return err
	}

	return srv.Run(ctx)
}

func migrate(ctx context.Context, args []string, stderr io.Writer) error {
	flags := flag.NewFlagSet("migrate", flag.ContinueOnError)
	flags.SetOutput(stderr)
	if err := flags.Parse(args); err != nil {
		return err
	}
	cfg, err := config.Load()
	if err != nil {
		return err
	}

	return server.MigrateURL(ctx, cfg.CatalogURL, server.NewLogger(stderr, cfg))
}

// dev runs the whole stack for local development: unless SILO_CATALOG_URL
// is set, it starts a PostgreSQL cluster in the data folder, and it
// generates an encryption key there when SILO_ENCRYPTION_KEY is unset. The
// cluster stops after the server has shut down.
func dev(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	flags := flag.NewFlagSet("dev", flag.ContinueOnError)
	flags.SetOutput(stderr)
	dataDir := flags.String("data", ".silo", "folder for the local cluster and generated secrets")
	if err := flags.Parse(args); err != nil {
		return err
	}

	stack, err := devstack.Open(*dataDir)
	if err != nil {
		return err
	}
	if os.Getenv("SILO_ENCRYPTION_KEY") == "" {
		key, err := stack.EncryptionKey()
		if err != nil {
			return err
		}
		if err := os.Setenv("SILO_ENCRYPTION_KEY", key); err != nil {
			return fmt.Errorf("set SILO_ENCRYPTION_KEY: %w", err)
		}
	}
	if os.Getenv("SILO_CATALOG_URL") == "" {
		fmt.Fprintf(stdout, "Starting PostgreSQL in %s ...\n", *dataDir)
		url, err := stack.StartCluster(ctx)
		defer func() {
			fmt.Fprintln(stdout, "Stopping PostgreSQL ...")
			err = errors.Join(err, stack.StopCluster(context.WithoutCancel(ctx)))
		}()
		if err != nil {
			return err
		}
		if err := os.Setenv("SILO_CATALOG_URL", url); err != nil {
			return fmt.Errorf("set SILO_CATALOG_URL: %w", err)
		}
		fmt.Fprintf(stdout, "PostgreSQL is up on 127.0.0.1:%d (user postgres, password in %s); server log: %s\n",
			stack.ClusterPort(), stack.PasswordFile(), stack.ClusterLog())
	}

	cfg, err := config.Load()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "silo is serving on http://%s (Ctrl-C stops it)\n", cfg.HTTPAddr)

	return runServer(ctx, cfg, server.RoleAll, stderr)
}

func buildVersion() string {
	if version != "" {
		return version
	}
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" {
		return info.Main.Version
	}

	return "devel"
}
