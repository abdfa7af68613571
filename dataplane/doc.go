// Package dataplane is the half of silo that serves each tenant's own data
// from the tenant's database. Its parts live in the packages below this
// one: tenancy resolves each request's tenant, poolcache keeps the tenant
// pools, and ticketapi serves tickets and workflows.
package dataplane
