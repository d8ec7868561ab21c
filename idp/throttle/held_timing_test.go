package throttle_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
	"github.com/region-nouvelle-aquitaine/idp/idp/throttle"
)

// roundTrips counts what a client sends: one per command or pipeline.
type roundTrips struct{ n atomic.Int64 }

func (*roundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }
func (r *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error { r.n.Add(1); return next(ctx, cmd) }
}
func (r *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error { r.n.Add(1); return next(ctx, cmds) }
}

// TestHeldAttemptTellsNoAccount: once an identifier is held back (its
// delays begin before the person's ceiling, which only ever locks), an
// attempt on it is answered after the same Redis round trips whether it
// names a person (whose ceiling is counted too, then taken back) or
// nobody. Otherwise a held identifier of a real account answers one round
// trip later than an unknown one: a timing oracle on who has an account,
// for anyone who first fails a few times on each identifier they test.
func TestHeldAttemptTellsNoAccount(t *testing.T) {
	p := throttle.Policy{DelayAfter: 3, Delay: time.Minute, MaxDelay: time.Minute, LockAfter: 10, LockDuration: 15 * time.Minute}
	c := testenv.NewClock(time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC))
	hook := &roundTrips{}
	rc := redis.NewUniversalClient(&redis.UniversalOptions{Addrs: []string{miniredis.RunT(t).Addr()}})
	t.Cleanup(func() { _ = rc.Close() })
	rc.AddHook(hook)
	l := throttle.New(throttle.Options{Client: rc, Prefix: "throttle:", Now: c.Now, Policy: p})
	keys := map[string]throttle.Keys{
		"a person's identifier": {Counter: throttle.IdentifierKey("known"), Account: throttle.AccountKey("sub-1")},
		"an unknown identifier": {Counter: throttle.IdentifierKey("unknown")},
	}
	trips := map[string]int64{}
	for name, k := range keys {
		for range p.DelayAfter {
			d := attemptKeys(t, l, k)
			if err := l.Failed(ctx, d); err != nil {
				t.Fatal(err)
			}
		}
		before := hook.n.Load()
		d := attemptKeys(t, l, k)
		trips[name] = hook.n.Load() - before
		if d.Allowed || d.Block.Kind != throttle.Delay {
			t.Fatalf("%s: %+v, want held", name, d)
		}
		l.Wait()
	}
	if trips["a person's identifier"] != trips["an unknown identifier"] {
		t.Errorf("a held attempt waits for %v round trips, want the same for both", trips)
	}
}
