//go:build bench

package bench

import (
	"math"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// percentile returns the nearest-rank q-th percentile of samples, which
// must not be empty: the smallest sample that at least q percent of the
// samples do not exceed. q is in (0, 100].
func percentile(samples []time.Duration, q float64) time.Duration {
	sorted := slices.Clone(samples)
	slices.Sort(sorted)
	rank := max(int(math.Ceil(q/100*float64(len(sorted)))), 1)

	return sorted[rank-1]
}

func TestPercentile(t *testing.T) {
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(100 - i)
	}

	tests := []struct {
		name    string
		samples []time.Duration
		q       float64
		want    time.Duration
	}{
		{"one sample", []time.Duration{7}, 99, 7},
		{"median of odd count", []time.Duration{5, 1, 3}, 50, 3},
		{"median of even count is lower middle", []time.Duration{4, 1, 2, 3}, 50, 2},
		{"p99 of hundred", hundred, 99, 99},
		{"p50 of hundred", hundred, 50, 50},
		{"p100 is max", hundred, 100, 100},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, percentile(tc.samples, tc.q))
		})
	}
}
