//go:build bench

package bench

import (
	"math"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// summary condenses a set of durations.
type summary struct {
	Count  int
	Min    time.Duration
	Median time.Duration
	P95    time.Duration
	Max    time.Duration
}

// summarize returns the summary of samples, which must not be empty. The
// median is the middle value, or the mean of the two middle values for an
// even count. p95 is the nearest-rank 95th percentile: the smallest sample
// that at least 95% of the samples do not exceed.
func summarize(samples []time.Duration) summary {
	sorted := slices.Clone(samples)
	slices.Sort(sorted)
	n := len(sorted)

	median := sorted[n/2]
	if n%2 == 0 {
		median = (sorted[n/2-1] + sorted[n/2]) / 2
	}
	rank := int(math.Ceil(0.95 * float64(n)))

	return summary{
		Count:  n,
		Min:    sorted[0],
		Median: median,
		P95:    sorted[rank-1],
		Max:    sorted[n-1],
	}
}

// medianRatio returns the median of numerators[i]/denominators[i] over
// pairs of samples taken next to each other.
func medianRatio(numerators, denominators []time.Duration) float64 {
	ratios := make([]float64, len(numerators))
	for i := range numerators {
		ratios[i] = float64(numerators[i]) / float64(denominators[i])
	}
	slices.Sort(ratios)

	n := len(ratios)
	if n%2 == 0 {
		return (ratios[n/2-1] + ratios[n/2]) / 2
	}

	return ratios[n/2]
}

func TestSummarize(t *testing.T) {
	ms := func(values ...int) []time.Duration {
		out := make([]time.Duration, len(values))
		for i, v := range values {
			out[i] = time.Duration(v) * time.Millisecond
		}
		return out
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = 100 - i
	}

	tests := []struct {
		name    string
		samples []time.Duration
		want    summary
	}{
		{"one sample", ms(7), summary{Count: 1, Min: 7 * time.Millisecond, Median: 7 * time.Millisecond, P95: 7 * time.Millisecond, Max: 7 * time.Millisecond}},
		{"odd count", ms(5, 1, 3), summary{Count: 3, Min: time.Millisecond, Median: 3 * time.Millisecond, P95: 5 * time.Millisecond, Max: 5 * time.Millisecond}},
		{"even count", ms(4, 1, 2, 3), summary{Count: 4, Min: time.Millisecond, Median: 2500 * time.Microsecond, P95: 4 * time.Millisecond, Max: 4 * time.Millisecond}},
		{"hundred samples", ms(hundred...), summary{Count: 100, Min: time.Millisecond, Median: 50500 * time.Microsecond, P95: 95 * time.Millisecond, Max: 100 * time.Millisecond}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, summarize(tc.samples))
		})
	}
}

func TestSummarizeKeepsInput(t *testing.T) {
	samples := []time.Duration{3, 1, 2}

	summarize(samples)

	require.Equal(t, []time.Duration{3, 1, 2}, samples)
}

func TestMedianRatio(t *testing.T) {
	tests := []struct {
		name         string
		numerators   []time.Duration
		denominators []time.Duration
		want         float64
	}{
		{"odd count", []time.Duration{2, 9, 3}, []time.Duration{1, 3, 3}, 2},
		{"even count", []time.Duration{2, 3, 4, 8}, []time.Duration{2, 2, 2, 2}, 1.75},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.InDelta(t, tc.want, medianRatio(tc.numerators, tc.denominators), 1e-9)
		})
	}
}
