// Package dataplane is the half of silo that serves each tenant's own data
// from the tenant's database. A process started with `silo serve --role
// dataplane` serves health, readiness and metrics so far; tenant-scoped
// services, the tenant resolution interceptor and the pool cache live in
// packages below this one.
package dataplane
