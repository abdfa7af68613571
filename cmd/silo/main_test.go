package main

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRunVersion(t *testing.T) {
	var stdout, stderr bytes.Buffer

	require.NoError(t, run(t.Context(), []string{"version"}, &stdout, &stderr))
	require.NotEmpty(t, stdout.String())
}

func TestRunRejectsBadInput(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{name: "no command", args: nil, want: "no command"},
		{name: "unknown command", args: []string{"frobnicate"}, want: "frobnicate"},
		{name: "unknown role", args: []string{"serve", "--role", "everything"}, want: "everything"},
		{name: "missing catalog", args: []string{"serve"}, env: map[string]string{"SILO_CATALOG_URL": ""}, want: "SILO_CATALOG_URL"},
		{name: "bad grace period", args: []string{"migrate"}, env: map[string]string{"SILO_DELETE_GRACE_PERIOD": "soon"}, want: "SILO_DELETE_GRACE_PERIOD"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("SILO_CATALOG_URL", "postgres://silo@127.0.0.1:1/silo")
			t.Setenv("SILO_ENCRYPTION_KEY", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")
			t.Setenv("SILO_AUTH_HMAC_KEY", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")
			t.Setenv("SILO_TOKEN_SIGNING_KEY", "HyAhIiMkJSYnKCkqKywtLi8wMTIzNDU2Nzg5Ojs8PT4=")
			for name, value := range tc.env {
				t.Setenv(name, value)
			}
			var stdout, stderr bytes.Buffer

			err := run(t.Context(), tc.args, &stdout, &stderr)

			require.Error(t, err)
			require.Contains(t, err.Error(), tc.want)
		})
	}
}
