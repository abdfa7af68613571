// Package secret encrypts tenant role passwords for storage in silo's catalog
// and derives the SCRAM-SHA-256 verifiers that silo sends to PostgreSQL in
// place of those passwords, so that neither silo's logs nor the server's log
// can contain a password.
package secret
