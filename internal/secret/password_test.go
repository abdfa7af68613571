package secret

import (
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestNewPasswordFormat(t *testing.T) {
	password, err := NewPassword()
	require.NoError(t, err)
	require.Len(t, password, 43)
	require.Regexp(t, regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`), password)
}

func TestNewPasswordUnique(t *testing.T) {
	const count = 1000
	seen := make(map[string]bool, count)

	for range count {
		password, err := NewPassword()
		require.NoError(t, err)
		require.False(t, seen[password], "NewPassword returned a duplicate")
		seen[password] = true
	}
}
