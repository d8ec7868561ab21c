package testenv

import (
	"context"
	"testing"
	"time"
)

func TestRedisCluster(t *testing.T) {
	t.Parallel()
	rc := StartRedisCluster(t)
	c := rc.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Keys spread over every master; each must be writable.
	masters := map[string]bool{}
	for _, k := range []string{"a", "b", "c", "d", "e", "f", "g", "h"} {
		if err := c.Set(ctx, k, "v", time.Minute).Err(); err != nil {
			t.Fatalf("SET %s: %v", k, err)
		}
		m, err := c.MasterForKey(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		masters[m.Options().Addr] = true
	}
	if len(masters) != 3 {
		t.Errorf("keys landed on %d masters, want 3", len(masters))
	}
	if err := c.MSet(ctx, "a", "1", "b", "2").Err(); err == nil {
		t.Error("a cross-slot MSET succeeded: not a cluster")
	}
}

func TestRedisSentinel(t *testing.T) {
	t.Parallel()
	rs := StartRedisSentinel(t)
	c := rs.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if n, err := c.Wait(ctx, 1, 5*time.Second).Result(); err != nil || n != 1 {
		t.Fatalf("WAIT 1: %d, %v", n, err)
	}
	old, err := rs.Primary(ctx)
	if err != nil {
		t.Fatal(err)
	}
	now, err := rs.Failover(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if now == old {
		t.Fatalf("primary still %s after failover", old)
	}
	// The failover client follows the Sentinels to the new primary.
	Eventually(t, 10*time.Second, func() (bool, string) {
		if err := c.Set(ctx, "k2", "v", 0).Err(); err != nil {
			return false, err.Error()
		}
		return true, ""
	})
	if v, err := c.Get(ctx, "k").Result(); err != nil || v != "v" {
		t.Errorf("GET k after failover: %q, %v", v, err)
	}
}
