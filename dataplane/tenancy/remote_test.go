package tenancy_test

import (
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"

	silov1 "silo.dev/silo/gen/silo/v1"
	"silo.dev/silo/internal/config"
	"silo.dev/silo/internal/silotest"
)

// newSplitWorld starts a control plane and a data plane with tenants
// tenant-a and tenant-b; w.env is the data plane, whose Tenants client
// calls the control plane.
func newSplitWorld(t *testing.T, opts *silotest.SplitOptions, users map[string]map[string]silov1.TenantRole) (*world, *silotest.Split) {
	t.Helper()

	split := silotest.StartSplit(t, opts)
	env := split.Data
	w := &world{env: env, adminToken: env.Token(t, silotest.AdminSubject, true)}
	tenants := map[string]*silov1.Tenant{}
	for _, slug := range []string{"tenant-a", "tenant-b"} {
		resp, err := env.Tenants.CreateTenant(t.Context(), connect.NewRequest(&silov1.CreateTenantRequest{Name: slug, Slug: slug}))
		require.NoError(t, err)
		require.Equal(t, silov1.TenantStatus_TENANT_STATUS_ACTIVE, resp.Msg.GetTenant().GetStatus())
		tenants[slug] = resp.Msg.GetTenant()
	}
	w.a, w.b = tenants["tenant-a"], tenants["tenant-b"]

	for user, roles := range users {
		for slug, role := range roles {
			_, err := env.Tenants.AddTenantUser(t.Context(), connect.NewRequest(&silov1.AddTenantUserRequest{
				TenantId: tenants[slug].GetId(), UserId: user, Role: role,
			}))
			require.NoError(t, err)
		}
	}

	return w, split
}

func TestSplitTicketsLandInTenant(t *testing.T) {
	t.Parallel()
	w, _ := newSplitWorld(t, nil, map[string]map[string]silov1.TenantRole{
		"nora": {"tenant-a": silov1.TenantRole_TENANT_ROLE_MEMBER, "tenant-b": silov1.TenantRole_TENANT_ROLE_MEMBER},
	})

	_, err := w.tickets(t, "nora", "tenant-a").CreateTicket("only in A")
	require.NoError(t, err)
	_, err = w.tickets(t, "nora", w.b.GetId()).CreateTicket("only in B")
	require.NoError(t, err)

	require.Equal(t, []string{"only in A"}, databaseTitles(t, w.a.GetId()))
	require.Equal(t, []string{"only in B"}, databaseTitles(t, w.b.GetId()))
	inA, err := w.tickets(t, "nora", "tenant-a").ListTickets()
	require.NoError(t, err)
	require.Equal(t, []string{"only in A"}, titles(inA))

	_, err = w.tickets(t, "stranger", "tenant-a").ListTickets()
	require.Equal(t, connect.CodePermissionDenied, connect.CodeOf(err), "non-members are rejected")
}

func TestSplitChangesStopRequests(t *testing.T) {
	t.Parallel()
	w, _ := newSplitWorld(t, nil, map[string]map[string]silov1.TenantRole{
		"sam": {"tenant-a": silov1.TenantRole_TENANT_ROLE_MEMBER, "tenant-b": silov1.TenantRole_TENANT_ROLE_MEMBER},
	})
	sam := w.tickets(t, "sam", "tenant-a")
	_, err := sam.ListTickets()
	require.NoError(t, err, "warm the cache and the pool")

	_, err = w.env.Tenants.SuspendTenant(t.Context(), connect.NewRequest(&silov1.SuspendTenantRequest{Id: w.a.GetId()}))
	require.NoError(t, err)
	requireRefused(t, func() error { _, err := sam.ListTickets(); return err }, connect.CodeFailedPrecondition)

	_, err = w.env.Tenants.ResumeTenant(t.Context(), connect.NewRequest(&silov1.ResumeTenantRequest{Id: w.a.GetId()}))
	require.NoError(t, err)
	require.Eventually(t, func() bool { _, err := sam.ListTickets(); return err == nil }, changeTimeout, 20*time.Millisecond)

	_, err = w.env.Tenants.RemoveTenantUser(t.Context(), connect.NewRequest(&silov1.RemoveTenantUserRequest{TenantId: w.a.GetId(), UserId: "sam"}))
	require.NoError(t, err)
	requireRefused(t, func() error { _, err := sam.ListTickets(); return err }, connect.CodePermissionDenied)

	_, err = w.tickets(t, "sam", "tenant-b").ListTickets()
	require.NoError(t, err, "tenant B is untouched")
}

func TestSplitFeedCutAndRestored(t *testing.T) {
	t.Parallel()
	const staleTTL = 2 * time.Second
	var relay *proxy
	w, split := newSplitWorld(t, &silotest.SplitOptions{
		ControlPlaneURL: func(controlURL string) string {
			relay = startProxy(t, strings.TrimPrefix(controlURL, "http://"))
			return "http://" + relay.addr()
		},
		ConfigureData: func(cfg *config.Config) { cfg.ResolveStaleTTL = staleTTL },
	}, map[string]map[string]silov1.TenantRole{
		"sam": {"tenant-a": silov1.TenantRole_TENANT_ROLE_MEMBER},
	})
	sam := w.tickets(t, "sam", "tenant-a")
	require.Eventually(t, func() bool { return feedConnections(split) >= 1 }, changeTimeout, 20*time.Millisecond)

	// A change still in flight from the setup makes the cache skip what
	// the first call fetched, so a second call after a pause caches it.
	beforeWarm := time.Now()
	_, err := sam.ListTickets()
	require.NoError(t, err, "warm the pool")
	time.Sleep(200 * time.Millisecond)
	_, err = sam.ListTickets()
	require.NoError(t, err, "warm the cache")
	relay.cut()

	_, err = sam.ListTickets()
	require.NoError(t, err, "a cached tenant is served while the control plane is unreachable")
	require.Eventually(t, func() bool {
		_, err := sam.ListTickets()
		return connect.CodeOf(err) == connect.CodeUnavailable
	}, changeTimeout, 20*time.Millisecond, "after the stale TTL the tenant is unavailable")
	require.GreaterOrEqual(t, time.Since(beforeWarm), staleTTL, "stale entries are served for the whole TTL")

	_, err = split.Control.Tenants.SuspendTenant(t.Context(), connect.NewRequest(&silov1.SuspendTenantRequest{Id: w.a.GetId()}))
	require.NoError(t, err)
	relay.restore()

	requireRefused(t, func() error { _, err := sam.ListTickets(); return err }, connect.CodeFailedPrecondition)
	require.Eventually(t, func() bool { return feedConnections(split) >= 2 }, changeTimeout, 20*time.Millisecond,
		"the change stream reconnects")

	_, err = split.Control.Tenants.ResumeTenant(t.Context(), connect.NewRequest(&silov1.ResumeTenantRequest{Id: w.a.GetId()}))
	require.NoError(t, err)
	require.Eventually(t, func() bool { _, err := sam.ListTickets(); return err == nil }, changeTimeout, 20*time.Millisecond)
	_, err = split.Control.Tenants.SuspendTenant(t.Context(), connect.NewRequest(&silov1.SuspendTenantRequest{Id: w.a.GetId()}))
	require.NoError(t, err)
	requireRefused(t, func() error { _, err := sam.ListTickets(); return err }, connect.CodeFailedPrecondition)
}

// feedConnections counts the times the data plane's change stream
// received its sync message, from the data plane's debug log.
func feedConnections(split *silotest.Split) int {
	return strings.Count(split.Data.Logs.String(), "control plane change stream connected")
}

// proxy relays TCP connections from a loopback port to target. cut drops
// every relayed connection and closes new ones at once until restore.
type proxy struct {
	listener net.Listener
	target   string

	mu    sync.Mutex
	down  bool
	conns map[net.Conn]struct{}
}

func startProxy(t *testing.T, target string) *proxy {
	t.Helper()

	var lc net.ListenConfig
	listener, err := lc.Listen(t.Context(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &proxy{listener: listener, target: target, conns: map[net.Conn]struct{}{}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.serve()
	}()
	t.Cleanup(func() {
		_ = listener.Close()
		<-done
		p.cut()
	})

	return p
}

func (p *proxy) addr() string { return p.listener.Addr().String() }

func (p *proxy) serve() {
	for {
		client, err := p.listener.Accept()
		if err != nil {
			return
		}
		go p.relay(client)
	}
}

func (p *proxy) relay(client net.Conn) {
	defer client.Close()
	if !p.track(client) {
		return
	}
	defer p.untrack(client)

	upstream, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	defer upstream.Close()
	if !p.track(upstream) {
		return
	}
	defer p.untrack(upstream)

	copied := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(upstream, client); copied <- struct{}{} }()
	go func() { _, _ = io.Copy(client, upstream); copied <- struct{}{} }()
	<-copied
}

// track records conn unless the proxy is down.
func (p *proxy) track(conn net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()

	if p.down {
		return false
	}
	p.conns[conn] = struct{}{}

	return true
}

func (p *proxy) untrack(conn net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()

	delete(p.conns, conn)
}

func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()

	p.down = true
	for conn := range p.conns {
		_ = conn.Close()
		delete(p.conns, conn)
	}
}

func (p *proxy) restore() {
	p.mu.Lock()
	defer p.mu.Unlock()

	p.down = false
}
