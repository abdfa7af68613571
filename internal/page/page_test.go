package page

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSize(t *testing.T) {
	for _, tc := range []struct {
		name      string
		requested int32
		want      int
	}{
		{name: "unset", requested: 0, want: DefaultSize},
		{name: "small", requested: 7, want: 7},
		{name: "max", requested: MaxSize, want: MaxSize},
		{name: "above max", requested: MaxSize + 1, want: MaxSize},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Size(tc.requested)

			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestSizeNegative(t *testing.T) {
	_, err := Size(-1)

	require.ErrorContains(t, err, "negative")
}
