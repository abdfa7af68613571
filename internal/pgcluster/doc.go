// Package pgcluster manages a PostgreSQL cluster in a folder with the server
// binaries initdb and pg_ctl. The test harness (package pgtest) and `silo dev`
// use it to run a private server on 127.0.0.1.
//
// A Cluster keeps everything under Options.Dir: the data directory Dir/data
// and the server log Dir/postgres.log. The server listens on TCP only, on
// 127.0.0.1, and every connection authenticates with scram-sha-256 as the
// superuser "postgres".
//
// initdb and postgres exit when run as root. When the calling process is
// root, the package runs both as the OS user "postgres" and makes that user
// the owner of Dir. Every folder above Dir must then be searchable by that
// user: a folder under os.TempDir() works, a folder under root's home
// usually does not.
//
// The server runs in a session of its own, because pg_ctl starts it with
// setsid and this package starts pg_ctl in a new process group. A Ctrl-C on
// the terminal therefore reaches only the Go program, which can then call
// Stop. A server left running by a program that did not call Stop is stopped
// by the next Start on the same Dir.
package pgcluster
