package tenancy_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"silo.dev/silo/controlplane/catalog"
	"silo.dev/silo/dataplane/tenancy"
)

// countingDirectory returns an active tenant for every lookup and counts
// the calls, or fails every call while down is set.
type countingDirectory struct {
	calls atomic.Int64
	down  atomic.Bool
}

func (d *countingDirectory) answer() error {
	d.calls.Add(1)
	if d.down.Load() {
		return errors.New("control plane unreachable")
	}

	return nil
}

func (d *countingDirectory) Lookup(_ context.Context, id uuid.UUID) (tenancy.Record, error) {
	return tenancy.Record{ID: id, Slug: "acme", Status: catalog.StatusActive}, d.answer()
}

func (d *countingDirectory) LookupSlug(_ context.Context, slug string) (tenancy.Record, error) {
	return tenancy.Record{ID: uuid.NewSHA1(uuid.Nil, []byte(slug)), Slug: slug, Status: catalog.StatusActive}, d.answer()
}

func (d *countingDirectory) Role(context.Context, uuid.UUID, string) (catalog.Role, error) {
	return catalog.RoleMember, d.answer()
}

func (d *countingDirectory) ActiveTenant(context.Context, string) (uuid.UUID, error) {
	return uuid.Nil, tenancy.ErrNotFound
}

func (d *countingDirectory) ConnConfig(context.Context, uuid.UUID) (*pgx.ConnConfig, error) {
	return nil, errors.New("not used")
}

func TestCacheServesWhileLive(t *testing.T) {
	next := &countingDirectory{}
	cache := tenancy.NewCachedDirectory(next, time.Minute, nil)
	id := uuid.New()

	_, err := cache.Lookup(t.Context(), id)
	require.NoError(t, err)
	_, err = cache.Lookup(t.Context(), id)
	require.NoError(t, err)
	require.EqualValues(t, 2, next.calls.Load(), "nothing is cached before the feed connects")

	cache.Connected()
	for range 3 {
		_, err = cache.Lookup(t.Context(), id)
		require.NoError(t, err)
	}
	require.EqualValues(t, 3, next.calls.Load(), "one fetch, then the cache")

	cache.Apply(tenancy.Change{Kind: tenancy.ChangeTenant, TenantID: id})
	_, err = cache.Lookup(t.Context(), id)
	require.NoError(t, err)
	require.EqualValues(t, 4, next.calls.Load(), "a change drops the entry")
}

func TestCacheStaleThenUnavailable(t *testing.T) {
	next := &countingDirectory{}
	cache := tenancy.NewCachedDirectory(next, 200*time.Millisecond, nil)
	id := uuid.New()
	_, err := cache.Lookup(t.Context(), id)
	require.NoError(t, err)

	next.down.Store(true)
	_, err = cache.Lookup(t.Context(), id)
	require.NoError(t, err, "a recent entry is served while the directory is down")

	time.Sleep(250 * time.Millisecond)
	_, err = cache.Lookup(t.Context(), id)
	require.ErrorIs(t, err, tenancy.ErrUnavailable)
}

func TestCacheConcurrentResync(t *testing.T) {
	next := &countingDirectory{}
	cache := tenancy.NewCachedDirectory(next, time.Minute, nil)
	ids := []uuid.UUID{uuid.New(), uuid.New(), uuid.New()}

	var wg sync.WaitGroup
	for worker := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				id := ids[(worker+i)%len(ids)]
				_, err := cache.Lookup(context.Background(), id)
				if err == nil {
					_, err = cache.Role(context.Background(), id, "user")
				}
				if err == nil {
					_, err = cache.LookupSlug(context.Background(), "acme")
				}
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	for range 200 {
		cache.Connected()
		cache.Apply(tenancy.Change{Kind: tenancy.ChangeMember, TenantID: ids[0], UserID: "user"})
	}
	wg.Wait()
}
