// Package poolcache keeps a pgx pool for each recently used tenant
// database, so the data plane serves a request over a connection to that
// tenant's own database without connecting per request.
//
// Pools live in an LRU of Config.Capacity entries keyed by tenant id. A
// request holds its pool through a Lease, and an evicted pool stays open
// until its last lease ends, so eviction never breaks a request in flight.
// Every server connection of every pool, including pools that are still
// draining after eviction, takes a slot of one semaphore of Config.Budget
// slots, so the process never holds more than Budget connections to tenant
// databases.
//
// Before a new pool serves anything, the cache checks that the database's
// tenant_identity row names the tenant it was opened for, so a catalog
// mistake cannot route one tenant's requests to another tenant's data.
package poolcache
