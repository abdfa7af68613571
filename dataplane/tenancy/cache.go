package tenancy

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"silo.dev/silo/controlplane/catalog"
)

// ErrUnavailable is returned when the catalog cannot be reached and no
// cached entry is recent enough to serve.
var ErrUnavailable = errors.New("tenant catalog unavailable")

// CachedDirectory keeps in memory the results of an underlying Directory.
// The change feed keeps it current. While the feed is connected, cached
// results are served as they are and each change drops the entries it
// touches. While the feed is down, every lookup goes to the directory
// again, and a cached result younger than the stale TTL is served only when
// the directory cannot be reached. It is safe for concurrent use.
type CachedDirectory struct {
	next     Directory
	staleTTL time.Duration
	// evict is called with a tenant whose pools must close because its
	// status, placement or credentials changed.
	evict func(uuid.UUID)

	mu   sync.Mutex
	live bool
	// generation counts changes applied, so that a result fetched while a
	// change arrived is not cached, because it may predate the change.
	generation uint64
	records    map[uuid.UUID]entry[Record]
	slugs      map[string]entry[uuid.UUID]
	roles      map[membershipKey]entry[catalog.Role]
	active     map[string]entry[uuid.UUID]

	// watchers are the open streams of each tenant, called back when a
	// change may end their caller's right to stream.
	watchers map[uuid.UUID]map[*watcher]struct{}
}

type watcher struct {
	userID  string
	changed func()
}

type entry[V any] struct {
	value   V
	fetched time.Time
}

type membershipKey struct {
	tenantID uuid.UUID
	userID   string
}

// NewCachedDirectory returns a cache in front of next. It serves from
// memory only once the change feed calls Connected.
func NewCachedDirectory(next Directory, staleTTL time.Duration, evict func(uuid.UUID)) *CachedDirectory {
	c := &CachedDirectory{next: next, staleTTL: staleTTL, evict: evict, watchers: map[uuid.UUID]map[*watcher]struct{}{}}
	c.reset()

	return c
}

func (c *CachedDirectory) reset() {
	c.records = map[uuid.UUID]entry[Record]{}
	c.slugs = map[string]entry[uuid.UUID]{}
	c.roles = map[membershipKey]entry[catalog.Role]{}
	c.active = map[string]entry[uuid.UUID]{}
}

// Connected records that the change feed is listening: entries cached from
// now on stay valid until a change drops them. Anything cached before may
// have missed changes, so it is dropped.
func (c *CachedDirectory) Connected() {
	c.mu.Lock()
	c.reset()
	c.live = true
	c.generation++
	var all []*watcher
	for _, set := range c.watchers {
		for w := range set {
			all = append(all, w)
		}
	}
	c.mu.Unlock()

	// A change may have been missed, so every open stream checks again.
	for _, w := range all {
		w.changed()
	}
}

// Watch calls changed, at most once per change and outside any lock, when
// a change may end userID's right to stream from the tenant: the tenant's
// status, placement or credentials changed, or the user's membership did.
// The returned function ends the watch.
func (c *CachedDirectory) Watch(tenantID uuid.UUID, userID string, changed func()) (stop func()) {
	w := &watcher{userID: userID, changed: changed}

	c.mu.Lock()
	if c.watchers[tenantID] == nil {
		c.watchers[tenantID] = map[*watcher]struct{}{}
	}
	c.watchers[tenantID][w] = struct{}{}
	c.mu.Unlock()

	return func() {
		c.mu.Lock()
		defer c.mu.Unlock()

		delete(c.watchers[tenantID], w)
		if len(c.watchers[tenantID]) == 0 {
			delete(c.watchers, tenantID)
		}
	}
}

// Live reports whether the change feed is connected, so cached entries are
// current.
func (c *CachedDirectory) Live() bool {
	c.mu.Lock()
	defer c.mu.Unlock()

	return c.live
}

// Disconnected records that the change feed stopped listening.
func (c *CachedDirectory) Disconnected() {
	c.mu.Lock()
	defer c.mu.Unlock()

	c.live = false
}

// Apply drops the entries a change touches, and closes the tenant's pools
// when the change requires it.
func (c *CachedDirectory) Apply(change Change) {
	c.mu.Lock()
	c.generation++
	switch change.Kind {
	case ChangeTenant:
		delete(c.records, change.TenantID)
		for slug, e := range c.slugs {
			if e.value == change.TenantID {
				delete(c.slugs, slug)
			}
		}
	case ChangeMember:
		delete(c.roles, membershipKey{change.TenantID, change.UserID})
	case ChangeActive:
		delete(c.active, change.UserID)
	}
	var affected []*watcher
	for w := range c.watchers[change.TenantID] {
		if (change.Kind == ChangeTenant && change.Evict) || (change.Kind == ChangeMember && change.UserID == w.userID) {
			affected = append(affected, w)
		}
	}
	c.mu.Unlock()

	if change.Evict && c.evict != nil {
		c.evict(change.TenantID)
	}
	for _, w := range affected {
		w.changed()
	}
}

// lookup returns the value from the cache or from fetch, following the rules in the
// type's documentation.
//
// table returns the map to use; it is called with c.mu held, because
// Connected replaces the maps.
func lookup[K comparable, V any](c *CachedDirectory, table func() map[K]entry[V], key K, fetch func() (V, error)) (V, error) {
	c.mu.Lock()
	cached, ok := table()[key]
	live, generation := c.live, c.generation
	c.mu.Unlock()
	if ok && live {
		return cached.value, nil
	}

	value, err := fetch()
	switch {
	case err == nil:
		c.mu.Lock()
		if c.generation == generation {
			table()[key] = entry[V]{value: value, fetched: time.Now()}
		}
		c.mu.Unlock()
		return value, nil
	case errors.Is(err, ErrNotFound), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return value, err
	case ok && time.Since(cached.fetched) < c.staleTTL:
		return cached.value, nil
	}

	var zero V
	return zero, errors.Join(ErrUnavailable, err)
}

// Lookup implements Directory.
func (c *CachedDirectory) Lookup(ctx context.Context, id uuid.UUID) (Record, error) {
	return lookup(c, func() map[uuid.UUID]entry[Record] { return c.records }, id, func() (Record, error) { return c.next.Lookup(ctx, id) })
}

// LookupSlug implements Directory.
func (c *CachedDirectory) LookupSlug(ctx context.Context, slug string) (Record, error) {
	id, err := lookup(c, func() map[string]entry[uuid.UUID] { return c.slugs }, slug, func() (uuid.UUID, error) {
		r, err := c.next.LookupSlug(ctx, slug)
		return r.ID, err
	})
	if err != nil {
		return Record{}, err
	}

	return c.Lookup(ctx, id)
}

// Role implements Directory.
func (c *CachedDirectory) Role(ctx context.Context, tenantID uuid.UUID, userID string) (catalog.Role, error) {
	return lookup(c, func() map[membershipKey]entry[catalog.Role] { return c.roles }, membershipKey{tenantID, userID}, func() (catalog.Role, error) {
		return c.next.Role(ctx, tenantID, userID)
	})
}

// ActiveTenant implements Directory.
func (c *CachedDirectory) ActiveTenant(ctx context.Context, userID string) (uuid.UUID, error) {
	return lookup(c, func() map[string]entry[uuid.UUID] { return c.active }, userID, func() (uuid.UUID, error) { return c.next.ActiveTenant(ctx, userID) })
}

// ConnConfig implements Directory without caching, because the pool cache
// calls it only when it opens a pool.
func (c *CachedDirectory) ConnConfig(ctx context.Context, tenantID uuid.UUID) (*pgx.ConnConfig, error) {
	return c.next.ConnConfig(ctx, tenantID)
}
