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
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"silo.dev/silo/internal/authn"
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
  token --subject USER [--admin] [--ttl 1h]  print a development token signed with SILO_AUTH_HMAC_KEY
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
	case "token":
		return token(args[1:], stdout, stderr)
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

	return runServer(ctx, cfg, role, stderr, nil)
}

// runServer builds and runs a server; onListen runs once it accepts
// connections.
func runServer(ctx context.Context, cfg *config.Config, role server.Role, stderr io.Writer, onListen func(addr string)) error {
	logger := server.NewLogger(stderr, cfg)
	srv, err := server.New(ctx, cfg, role, logger, nil)
	if err != nil {
		return err
	}

	return srv.Run(ctx, onListen)
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
	if cfg.CatalogURL == "" {
		return errors.New("SILO_CATALOG_URL: required for silo migrate")
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
	generated := map[string]string{
		"SILO_ENCRYPTION_KEY":    "encryption-key",
		"SILO_TOKEN_SIGNING_KEY": "token-signing-key",
	}
	if os.Getenv("SILO_AUTH_JWKS_URL") == "" {
		generated["SILO_AUTH_HMAC_KEY"] = "auth-hmac-key"
	}
	for variable, file := range generated {
		if os.Getenv(variable) != "" {
			continue
		}
		key, err := stack.Key(file)
		if err != nil {
			return err
		}
		if err := os.Setenv(variable, key); err != nil {
			return fmt.Errorf("set %s: %w", variable, err)
		}
	}
	if os.Getenv("SILO_CATALOG_URL") == "" {
		fmt.Fprintf(stdout, "Starting PostgreSQL in %s ...\n", *dataDir)
		url, err := stack.StartCluster(ctx)
		defer func() {
			fmt.Fprintln(stdout, "Stopping PostgreSQL ...")
			stopErr := stack.StopCluster(context.WithoutCancel(ctx))
			if stopErr == nil {
				fmt.Fprintln(stdout, "PostgreSQL stopped")
			}
			err = errors.Join(err, stopErr)
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

	return runServer(ctx, cfg, server.RoleAll, stderr, func(addr string) {
		if err := printDevTokens(stdout, &cfg.Auth); err != nil {
			fmt.Fprintln(stderr, "silo: print development tokens:", err)
		}
		fmt.Fprintf(stdout, "silo is serving on http://%s (Ctrl-C stops it)\n", addr)
	})
}

// devTokenTTL is the lifetime of the tokens `silo dev` prints.
const devTokenTTL = 24 * time.Hour

// printDevTokens prints a platform administrator's token and a plain
// user's token, ready to paste into a shell. They go to standard output,
// not to the log, because they are credentials.
func printDevTokens(stdout io.Writer, auth *config.Auth) error {
	if auth.AuthHMACKeyBytes() == nil {
		return nil
	}

	admin, err := signDevToken(auth, "admin", true, devTokenTTL)
	if err != nil {
		return err
	}
	member, err := signDevToken(auth, "alice", false, devTokenTTL)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nDevelopment tokens, valid for %s:\n", devTokenTTL)
	fmt.Fprintf(stdout, "  platform administrator \"admin\":\n    export ADMIN_TOKEN=%s\n", admin)
	fmt.Fprintf(stdout, "  user \"alice\":\n    export ALICE_TOKEN=%s\n", member)
	fmt.Fprintf(stdout, "More with: ./bin/silo token --subject USER [--admin] [--ttl 1h]\n\n")

	return nil
}

func signDevToken(auth *config.Auth, subject string, admin bool, ttl time.Duration) (string, error) {
	return authn.SignUserToken(auth.AuthHMACKeyBytes(), auth.AuthIssuer, auth.AuthAudience, subject, auth.AuthAdminClaim, admin, ttl)
}

// token prints a development user token signed with SILO_AUTH_HMAC_KEY, or
// with the key `silo dev` generated in its data folder when that is unset.
func token(args []string, stdout, stderr io.Writer) error {
	flags := flag.NewFlagSet("token", flag.ContinueOnError)
	flags.SetOutput(stderr)
	subject := flags.String("subject", "", "user id to put in the sub claim (required)")
	admin := flags.Bool("admin", false, "mark the user a platform administrator")
	ttl := flags.Duration("ttl", time.Hour, "lifetime of the token")
	dataDir := flags.String("data", ".silo", "data folder of silo dev, read when SILO_AUTH_HMAC_KEY is unset")
	if err := flags.Parse(args); err != nil {
		return err
	}
	if *subject == "" {
		return errors.New("--subject is required")
	}
	if *ttl <= 0 {
		return fmt.Errorf("--ttl must be positive, got %s", *ttl)
	}

	if os.Getenv("SILO_AUTH_HMAC_KEY") == "" {
		key, err := os.ReadFile(filepath.Join(*dataDir, "auth-hmac-key"))
		if err != nil {
			return fmt.Errorf("SILO_AUTH_HMAC_KEY is unset and no development key was found in %s (start make run once, or set the variable): %w", *dataDir, err)
		}
		if err := os.Setenv("SILO_AUTH_HMAC_KEY", strings.TrimSpace(string(key))); err != nil {
			return fmt.Errorf("set SILO_AUTH_HMAC_KEY: %w", err)
		}
	}
	auth, err := config.LoadAuth()
	if err != nil {
		return err
	}
	if auth.AuthHMACKeyBytes() == nil {
		return errors.New("SILO_AUTH_HMAC_KEY is unset; tokens can only be signed with the development key")
	}

	signed, err := signDevToken(auth, *subject, *admin, *ttl)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, signed)

	return nil
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
