// Package pgtest gives the tests of one test binary a throwaway PostgreSQL
// cluster and a fresh database per test.
//
// A package that uses it calls Main from TestMain, so the cluster is stopped
// and removed after the tests:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
// The first call to Cluster, NewDatabase, Template or LogLines starts the
// cluster: Fast settings (no fsync), a random superuser password, and every
// statement and connection written to the server log. A failed start fails
// the test instead of skipping it, so tests never pass without PostgreSQL.
//
// NewDatabase copies a template database, which PostgreSQL rejects while
// another session is connected to the template. Template therefore requires
// its prepare function to close every connection it opens, and then closes
// the template to new connections.
//
// The cluster is state of the whole test binary, because Main and the
// helpers are package functions that tests call without passing anything
// around.
package pgtest
