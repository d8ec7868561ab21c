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
// after a failover), they are loaded and only the commands it refused are
// sent again, so that nothing else runs twice.
func Pipelined(ctx context.Context, c redis.Cmdable, scripts []*redis.Script, fn func(redis.Pipeliner)) ([]redis.Cmder, error) {
	cmds, err := c.Pipelined(ctx, func(p redis.Pipeliner) error { fn(p); return nil })
	if err == nil {
		return cmds, nil
	}
	var refused []redis.Cmder
	for _, cmd := range cmds {
		if redis.HasErrorPrefix(cmd.Err(), "NOSCRIPT") {
			refused = append(refused, cmd)
		}
	}
	if len(refused) == 0 {
		return cmds, err
	}
	for _, s := range scripts {
		if err := s.Load(ctx, c).Err(); err != nil {
			return cmds, fmt.Errorf("load script: %w", err)
		}
	}
	_, err = c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, cmd := range refused {
			cmd.SetErr(nil)
			_ = p.Process(ctx, cmd)
		}
		return nil
	})
	return cmds, firstErr(cmds, err)
}

// firstErr is the first error among cmds, as Pipelined reports it.
func firstErr(cmds []redis.Cmder, err error) error {
	for _, cmd := range cmds {
		if cmd.Err() != nil {
			return cmd.Err()
		}
	}
	return err
}
