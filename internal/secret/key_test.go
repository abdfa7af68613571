package secret

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseKeyRoundTrip(t *testing.T) {
	k, err := NewKey()
	require.NoError(t, err)
	require.NotEqual(t, Key{}, k)

	parsed, err := ParseKey(k.String())
	require.NoError(t, err)
	require.Equal(t, k, parsed)
}

func TestParseKeyErrors(t *testing.T) {
	testCases := []struct {
		name    string
		input   string
		wantErr string
	}{
		{
			name:    "not base64",
			input:   "not base64 at all!",
			wantErr: "parse key: value is not valid standard base64",
		},
		{
			name:    "base64url alphabet",
			input:   strings.Repeat("-", 43) + "=",
			wantErr: "parse key: value is not valid standard base64",
		},
		{
			name:    "empty",
			input:   "",
			wantErr: "parse key: decoded length is 0 bytes, want 32",
		},
		{
			name:    "too short",
			input:   base64.StdEncoding.EncodeToString(make([]byte, 16)),
			wantErr: "parse key: decoded length is 16 bytes, want 32",
		},
		{
			name:    "too long",
			input:   base64.StdEncoding.EncodeToString(make([]byte, 33)),
			wantErr: "parse key: decoded length is 33 bytes, want 32",
		},
	}

	for _, tc := range testCases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseKey(tc.input)
			require.EqualError(t, err, tc.wantErr)
		})
	}
}

func TestNewKeyUnique(t *testing.T) {
	first, err := NewKey()
	require.NoError(t, err)

	second, err := NewKey()
	require.NoError(t, err)

	require.NotEqual(t, first, second)
}
