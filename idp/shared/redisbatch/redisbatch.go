// Package redisbatch sends several Redis commands in one round trip.
package redisbatch

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// Pipelined sends what fn queues in one round trip. Scripts go in as
// EVALSHA (a pipeline cannot fall back on NOSCRIPT by itself): when the
// server does not know one of scripts (restarted, flushed, a new primary
// after a failover), they are loaded and the whole batch is sent again, so
// what fn queues must be safe to run twice.
func Pipelined(ctx context.Context, c redis.Cmdable, scripts []*redis.Script, fn func(redis.Pipeliner)) ([]redis.Cmder, error) {
	run := func(p redis.Pipeliner) error { fn(p); return nil }
	cmds, err := c.Pipelined(ctx, run)
	if err == nil || !noScript(cmds) {
		return cmds, err
	}
	for _, s := range scripts {
		if err := s.Load(ctx, c).Err(); err != nil {
			return nil, fmt.Errorf("load script: %w", err)
		}
	}
	return c.Pipelined(ctx, run)
}

func noScript(cmds []redis.Cmder) bool {
	for _, c := range cmds {
		if redis.HasErrorPrefix(c.Err(), "NOSCRIPT") {
			return true
		}
	}
	return false
}
