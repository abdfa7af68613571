package tenancy_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"silo.dev/silo/controlplane/catalog"
	"silo.dev/silo/dataplane/poolcache"
	"silo.dev/silo/dataplane/tenancy"
	silov1 "silo.dev/silo/gen/silo/v1"
	"silo.dev/silo/gen/silo/v1/silov1connect"
	"silo.dev/silo/internal/authn"
	"silo.dev/silo/internal/secret"
	"silo.dev/silo/internal/silotest"
)

// leases adapts the pool cache to tenancy.Pools.
type leases struct{ cache *poolcache.Cache }

func (l leases) Acquire(ctx context.Context, id uuid.UUID) (tenancy.Lease, error) {
	lease, err := l.cache.Acquire(ctx, id)
	if err != nil {
		return nil, err
	}

	return lease, nil
}

// asUser puts a principal in the context, as the authentication middleware
// does.
func asUser(subject string) connect.Interceptor {
	return connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			return next(authn.WithPrincipal(ctx, authn.Principal{Subject: subject}), req)
		}
	})
}

func TestDetachedWorkKeepsTenant(t *testing.T) {
	t.Parallel()
	w := newWorld(t, map[string]map[string]silov1.TenantRole{
		"dora": {"tenant-a": silov1.TenantRole_TENANT_ROLE_MEMBER, "tenant-b": silov1.TenantRole_TENANT_ROLE_MEMBER},
	})
	box, err := secret.NewBox(w.env.Config.Key())
	require.NoError(t, err)
	directory := tenancy.NewCatalogDirectory(catalog.New(w.env.Catalog), box)
	// A cache of one pool: serving tenant B evicts tenant A's pool while
	// the detached work still holds it.
	pools, err := poolcache.New(poolcache.Config{
		Capacity: 1, MaxConns: 2, Budget: 4, IdleTTL: time.Minute,
		ConnectTimeout: 5 * time.Second, MaxConnIdleTime: time.Minute, HealthCheckPeriod: time.Minute,
	}, func(ctx context.Context, id uuid.UUID) (poolcache.Target, error) {
		config, err := directory.ConnConfig(ctx, id)
		return poolcache.Target{TenantID: id, ConnConfig: config}, err
	}, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	t.Cleanup(pools.Close)
	interceptor := tenancy.NewInterceptor(directory, leases{pools}, tenancy.Rules, slog.New(slog.DiscardHandler))

	proceed := make(chan struct{})
	done := make(chan error, 2)
	handler := connect.NewUnaryHandler(silov1connect.TicketServiceCreateTicketProcedure,
		func(ctx context.Context, req *connect.Request[silov1.CreateTicketRequest]) (*connect.Response[silov1.CreateTicketResponse], error) {
			detached, release, err := tenancy.Detach(ctx)
			if err != nil {
				return nil, err
			}
			go func() {
				defer release()
				<-proceed
				pool, err := tenancy.Pool(detached)
				if err == nil {
					_, err = pool.Exec(detached, `INSERT INTO tickets (title) VALUES ($1)`, req.Msg.GetTitle())
				}
				done <- err
			}()
			return connect.NewResponse(&silov1.CreateTicketResponse{}), nil
		}, connect.WithInterceptors(asUser("dora"), interceptor))
	server := httptest.NewServer(handler)
	t.Cleanup(server.Close)

	for _, tc := range []struct{ tenant, title string }{{"tenant-a", "later in A"}, {"tenant-b", "later in B"}} {
		client := connect.NewClient[silov1.CreateTicketRequest, silov1.CreateTicketResponse](http.DefaultClient,
			server.URL+silov1connect.TicketServiceCreateTicketProcedure, connect.WithInterceptors(silotest.Header("X-Tenant-ID", tc.tenant)))
		_, err := client.CallUnary(t.Context(), connect.NewRequest(&silov1.CreateTicketRequest{Title: tc.title}))
		require.NoError(t, err)
	}
	require.Equal(t, 1, pools.Stats().Draining, "tenant A's pool was evicted while its detached work holds it")

	close(proceed)
	require.NoError(t, <-done)
	require.NoError(t, <-done)

	require.Equal(t, []string{"later in A"}, databaseTitles(t, w.a.GetId()))
	require.Equal(t, []string{"later in B"}, databaseTitles(t, w.b.GetId()))
	require.Eventually(t, func() bool { return pools.Stats().Draining == 0 }, 5*time.Second, 10*time.Millisecond,
		"the evicted pool closes once the detached work released it")
}
