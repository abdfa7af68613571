package poolcache_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"silo.dev/silo/dataplane/poolcache"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(*poolcache.Config)
		want   []string // substrings of the error; none means valid
	}{
		{
			name:   "valid",
			change: func(*poolcache.Config) {},
		},
		{
			name:   "budget equal to cache times conns",
			change: func(c *poolcache.Config) { c.Capacity, c.MaxConns, c.Budget = 100, 5, 500 },
		},
		{
			name:   "capacity zero",
			change: func(c *poolcache.Config) { c.Capacity = 0 },
			want:   []string{"SILO_POOL_CACHE_SIZE=0"},
		},
		{
			name:   "max conns zero",
			change: func(c *poolcache.Config) { c.MaxConns = 0 },
			want:   []string{"SILO_POOL_MAX_CONNS=0"},
		},
		{
			name:   "budget below cache times conns",
			change: func(c *poolcache.Config) { c.Capacity, c.MaxConns, c.Budget = 100, 5, 499 },
			want: []string{
				"SILO_POOL_CONNECTION_BUDGET=499",
				"SILO_POOL_CACHE_SIZE=100",
				"SILO_POOL_MAX_CONNS=5",
				"= 500",
			},
		},
		{
			name:   "idle ttl zero",
			change: func(c *poolcache.Config) { c.IdleTTL = 0 },
			want:   []string{"SILO_POOL_IDLE_TTL=0s"},
		},
		{
			name:   "connect timeout negative",
			change: func(c *poolcache.Config) { c.ConnectTimeout = -time.Second },
			want:   []string{"ConnectTimeout=-1s"},
		},
		{
			name:   "max conn idle time zero",
			change: func(c *poolcache.Config) { c.MaxConnIdleTime = 0 },
			want:   []string{"MaxConnIdleTime=0s"},
		},
		{
			name:   "health check period zero",
			change: func(c *poolcache.Config) { c.HealthCheckPeriod = 0 },
			want:   []string{"HealthCheckPeriod=0s"},
		},
		{
			name: "every error listed",
			change: func(c *poolcache.Config) {
				c.Capacity, c.MaxConns, c.IdleTTL = 0, 0, 0
			},
			want: []string{"SILO_POOL_CACHE_SIZE=0", "SILO_POOL_MAX_CONNS=0", "SILO_POOL_IDLE_TTL=0s"},
		},
	}

	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			tc.change(&cfg)

			err := cfg.Validate()
			if len(tc.want) == 0 {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			for _, want := range tc.want {
				require.ErrorContains(t, err, want)
			}
		})
	}
}

func TestNewRejectsInvalidConfig(t *testing.T) {
	cfg := testConfig()
	cfg.Budget = 7

	cache, err := poolcache.New(cfg, newDirectory().open, nil)
	require.ErrorContains(t, err, "SILO_POOL_CONNECTION_BUDGET=7")
	require.Nil(t, cache)
}
