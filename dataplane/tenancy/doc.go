// Package tenancy decides which tenant a data plane request acts on and
// whether the caller may act there, and hands handlers that tenant's pool.
//
// The interceptor resolves the tenant from the X-Tenant-ID header (a UUID
// or a slug), else from a tenant-scoped token, else from the caller's
// active tenant. Handlers read the tenant and its pool only through
// FromContext and Pool. A context without a tenant has no pool, so no
// handler can fall back to another tenant's database.
package tenancy
