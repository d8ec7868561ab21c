package testenv

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis is a redis-server without persistence on 127.0.0.1.
type Redis struct {
	Addr string // 127.0.0.1:PORT

	bin   string
	dir   string
	extra []string // more redis-server arguments, after the defaults
	port  int
	proc  *process
}

// StartRedis starts redis-server with --save "" --appendonly no in the
// test's temporary directory. It is stopped in t.Cleanup.
func StartRedis(t testing.TB) *Redis {
	t.Helper()
	return StartRedisWith(t)
}

// StartRedisWith is StartRedis with more redis-server arguments, which
// override the defaults (e.g. "--appendonly", "yes").
func StartRedisWith(t testing.TB, args ...string) *Redis {
	t.Helper()
	r := &Redis{bin: Require(t, "redis-server", "redis-server"), dir: t.TempDir(), extra: args}
	r.proc, r.port = startWithRetry(t, r.run)
	r.Addr = "127.0.0.1:" + portString(r.port)
	t.Cleanup(func() { r.Stop(t) })
	return r
}

func (r *Redis) run(port int) (*process, error) {
	args := append([]string{"--port", portString(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", r.dir,
		"--daemonize", "no", "--loglevel", "warning"}, r.extra...)
	p, err := startProcess("redis-server", r.bin, args...)
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + portString(port)
	err = p.waitReady(10*time.Second, func() error {
		c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: time.Second})
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		return c.Ping(ctx).Err()
	})
	if err != nil {
		p.kill()
		return nil, err
	}
	return p, nil
}

// Stop stops redis-server. Nothing is persisted: after Start it is empty.
func (r *Redis) Stop(t testing.TB) {
	t.Helper()
	if r.proc != nil {
		r.proc.stop(t)
		r.proc = nil
	}
}

// Start starts a stopped redis-server again on the same port (empty).
func (r *Redis) Start(t testing.TB) {
	t.Helper()
	if r.proc != nil {
		return
	}
	p, err := r.run(r.port)
	if err != nil {
		t.Fatalf("testenv: restart redis-server on port %d: %v", r.port, err)
	}
	r.proc = p
}

// Client returns a client for this server, closed in t.Cleanup.
func (r *Redis) Client(t testing.TB) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: r.Addr})
	t.Cleanup(func() { _ = c.Close() })
	return c
}
