package redisbatch_test

import (
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/region-nouvelle-aquitaine/idp/idp/shared/redisbatch"
	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
)

// TestScriptUnknownToTheServer: a batch whose script the server does not
// know (a fresh server, SCRIPT FLUSH, a new primary) loads it and runs again.
func TestScriptUnknownToTheServer(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: testenv.StartRedis(t).Addr})
	t.Cleanup(func() { _ = c.Close() })
	incr := redis.NewScript(`return redis.call("INCRBY", KEYS[1], ARGV[1])`)
	for _, flush := range []bool{true, false, true} {
		if flush {
			if err := c.ScriptFlush(t.Context()).Err(); err != nil {
				t.Fatal(err)
			}
		}
		var got *redis.Cmd
		var set *redis.StatusCmd
		_, err := redisbatch.Pipelined(t.Context(), c, []*redis.Script{incr}, func(p redis.Pipeliner) {
			set = p.Set(t.Context(), "k", 40, 0)
			got = incr.EvalSha(t.Context(), p, []string{"k"}, 2)
		})
		if err != nil {
			t.Fatalf("flush=%v: %v", flush, err)
		}
		if n, err := got.Int(); err != nil || n != 42 || set.Err() != nil {
			t.Fatalf("flush=%v: script answered %d, %v (SET: %v), want 42", flush, n, err, set.Err())
		}
	}
}
