package redisbatch_test

import (
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/region-nouvelle-aquitaine/idp/idp/shared/redisbatch"
	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
)

// TestScriptUnknownToTheServer: a batch whose script the server does not
// know (a fresh server, SCRIPT FLUSH, a new primary) loads it and sends
// that command again, and only that one: the rest of the batch ran once.
func TestScriptUnknownToTheServer(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: testenv.StartRedis(t).Addr})
	t.Cleanup(func() { _ = c.Close() })
	ctx := t.Context()
	incr := redis.NewScript(`return redis.call("INCRBY", KEYS[1], ARGV[1])`)
	for i, flush := range []bool{true, false, true} {
		if flush {
			if err := c.ScriptFlush(ctx).Err(); err != nil {
				t.Fatal(err)
			}
		}
		var byScript *redis.Cmd
		var plain *redis.IntCmd
		_, err := redisbatch.Pipelined(ctx, c, []*redis.Script{incr}, func(p redis.Pipeliner) {
			plain = p.Incr(ctx, "plain")
			byScript = incr.EvalSha(ctx, p, []string{"scripted"}, 1)
		})
		if err != nil {
			t.Fatalf("flush=%v: %v", flush, err)
		}
		if n, err := byScript.Int(); err != nil || n != i+1 {
			t.Fatalf("flush=%v: the script answered %d, %v; want %d", flush, n, err, i+1)
		}
		if n, err := plain.Result(); err != nil || n != int64(i+1) {
			t.Fatalf("flush=%v: the plain command answered %d, %v; want %d (run once)", flush, n, err, i+1)
		}
	}
	// An error that is not NOSCRIPT is the batch's error.
	_, err := redisbatch.Pipelined(ctx, c, nil, func(p redis.Pipeliner) { p.HSet(ctx, "plain", "f", "v") })
	if err == nil || !redis.HasErrorPrefix(err, "WRONGTYPE") {
		t.Fatalf("a wrong type: %v", err)
	}
}
