// Package catalogapi serves the control plane's catalog to data plane
// processes that run apart from it (silo serve --role dataplane): tenant
// resolution, memberships, active tenants, tenant database addresses, and
// the catalog change feed as a stream.
//
// Callers authenticate with the shared service token (SILO_SERVICE_TOKEN),
// never with user tokens. Role passwords leave the control plane only in
// their sealed catalog form; a data plane opens them with the shared
// encryption key.
package catalogapi
