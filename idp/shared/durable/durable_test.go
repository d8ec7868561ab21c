package durable_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/region-nouvelle-aquitaine/idp/idp/shared/durable"
	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
)

func TestWrite(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		client  func(t *testing.T) redis.UniversalClient
		freeze  bool // stop the replica first: WAIT gets no acknowledgement
		wantErr error
	}{
		{"lone redis-server", func(t *testing.T) redis.UniversalClient { return testenv.StartRedis(t).Client(t) }, false, nil},
		{"miniredis", func(t *testing.T) redis.UniversalClient {
			c := redis.NewClient(&redis.Options{Addr: miniredis.RunT(t).Addr()})
			t.Cleanup(func() { _ = c.Close() })
			return c
		}, false, nil},
		{"cluster without replicas", func(t *testing.T) redis.UniversalClient { return testenv.StartRedisCluster(t).Client(t) }, false, nil},
		{"sentinel", func(t *testing.T) redis.UniversalClient { return testenv.StartRedisSentinel(t).Client(t) }, false, nil},
		{"sentinel, replica frozen", nil, true, durable.ErrNotReplicated},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var c redis.UniversalClient
			if tc.freeze {
				rs := testenv.StartRedisSentinel(t)
				c = rs.Client(t)
				// Connect before freezing: the Sentinels must still answer.
				if err := c.Ping(t.Context()).Err(); err != nil {
					t.Fatal(err)
				}
				rs.FreezeReplica(t)
			} else {
				c = tc.client(t)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			var set *redis.StatusCmd
			start := time.Now()
			err := durable.Write(ctx, c, "{k}:a", 2*time.Second, func(p redis.Pipeliner) {
				set = p.Set(ctx, "{k}:a", "v", time.Minute)
			})
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Write = %v, want %v", err, tc.wantErr)
			}
			if set.Err() != nil {
				t.Fatalf("SET in the pipeline: %v", set.Err())
			}
			if v := c.Get(ctx, "{k}:a").Val(); v != "v" {
				t.Errorf("GET after Write = %q", v)
			}
			if tc.wantErr == nil && time.Since(start) > time.Second {
				t.Errorf("Write waited %s with nothing to wait for", time.Since(start))
			}
		})
	}
}

func TestWriteReportsErrors(t *testing.T) {
	t.Parallel()
	c := testenv.StartRedis(t).Client(t)
	ctx := t.Context()
	c.Set(ctx, "s", "string", time.Minute)
	err := durable.Write(ctx, c, "s", time.Second, func(p redis.Pipeliner) { p.HSet(ctx, "s", "f", "v") })
	if err == nil || errors.Is(err, durable.ErrNotReplicated) {
		t.Fatalf("Write of a failing command = %v, want its error", err)
	}
}
