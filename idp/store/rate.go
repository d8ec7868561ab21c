package store

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// countScript adds n to a window counter and sets its TTL on creation.
var countScript = redis.NewScript(`
local c = redis.call('INCRBY', KEYS[1], ARGV[1])
if c == tonumber(ARGV[1]) then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return c
`)

// Count adds one to the counter name in the fixed window of the given
// length that contains the logical now, and returns the new count and the
// end of the window. Windows are aligned on the clock, so moving the
// injected clock past the end starts a fresh count. Callers hash anything
// personal (an address) into name.
func (s *Store) Count(ctx context.Context, name string, window time.Duration) (int64, time.Time, error) {
	return s.count(ctx, name, window, 1)
}

// Peek returns the counter without changing it.
func (s *Store) Peek(ctx context.Context, name string, window time.Duration) (int64, time.Time, error) {
	return s.count(ctx, name, window, 0)
}

func (s *Store) count(ctx context.Context, name string, window time.Duration, n int) (int64, time.Time, error) {
	if window <= 0 {
		return 0, time.Time{}, fmt.Errorf("store: counter %q without a window", name)
	}
	w := window.Milliseconds()
	idx := s.now().UnixMilli() / w
	end := time.UnixMilli((idx + 1) * w)
	key := s.prefix + "rate:" + name + ":" + strconv.FormatInt(idx, 10)
	if n == 0 {
		c, err := s.c.Get(ctx, key).Int64()
		if err == redis.Nil {
			return 0, end, nil
		}
		if err != nil {
			return 0, end, fmt.Errorf("store: counter: %w", err)
		}
		return c, end, nil
	}
	c, err := countScript.Run(ctx, s.c, []string{key}, n, s.ttl(end).Milliseconds()).Int64()
	if err != nil {
		return 0, end, fmt.Errorf("store: counter: %w", err)
	}
	return c, end, nil
}
