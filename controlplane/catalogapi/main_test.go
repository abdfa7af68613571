package catalogapi_test

import (
	"testing"

	"silo.dev/silo/internal/pgtest"
)

func TestMain(m *testing.M) {
	pgtest.Main(m)
}
