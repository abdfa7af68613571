package catalogapi_test

import (
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"silo.dev/silo/controlplane/catalogapi"
)

func TestSSLMode(t *testing.T) {
	for _, tc := range []struct {
		name string
		url  string
		want string
	}{
		{name: "disable", url: "postgres://u:p@db:5432/x?sslmode=disable", want: "disable"},
		{name: "allow", url: "postgres://u:p@db:5432/x?sslmode=allow", want: "allow"},
		{name: "prefer", url: "postgres://u:p@db:5432/x?sslmode=prefer", want: "prefer"},
		{name: "default is prefer", url: "postgres://u:p@db:5432/x", want: "prefer"},
		{name: "require", url: "postgres://u:p@db:5432/x?sslmode=require", want: "require"},
		{name: "verify-ca", url: "postgres://u:p@db:5432/x?sslmode=verify-ca", want: "verify-ca"},
		{name: "system roots verify fully", url: "postgres://u:p@db:5432/x?sslmode=verify-ca&sslrootcert=system", want: "verify-full"},
		{name: "verify-full", url: "postgres://u:p@db:5432/x?sslmode=verify-full", want: "verify-full"},
		{name: "keyword form", url: "host=db port=5432 user=u password=p sslmode=require", want: "require"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("PGSSLMODE", "")
			config, err := pgconn.ParseConfig(tc.url)
			require.NoError(t, err)

			require.Equal(t, tc.want, catalogapi.SSLMode(config))
		})
	}
}
