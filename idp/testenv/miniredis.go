package testenv

import (
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// Miniredis starts an in-process Redis (miniredis, Lua scripts included)
// and returns it with a client; both end in t.Cleanup. It is for fast
// in-package tests of handlers and consumers; what depends on real Redis
// behaviour (persistence, restarts, Cluster) uses StartRedis. Keys expire
// only when the test calls FastForward: decisions come from the code's
// injected clock.
func Miniredis(t testing.TB) (*miniredis.Miniredis, *redis.Client) {
	t.Helper()
	m := miniredis.RunT(t)
	c := redis.NewClient(&redis.Options{Addr: m.Addr()})
	t.Cleanup(func() { _ = c.Close() })
	return m, c
}
