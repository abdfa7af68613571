// Package bench measures silo against baselines of the same work done
// without silo, and records the results in docs/benchmarks.md. Its tests
// build only with the bench tag, so `go test ./...` leaves them out, and
// `make bench` runs them.
package bench
