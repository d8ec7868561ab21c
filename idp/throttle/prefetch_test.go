package throttle_test

import (
	"context"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/region-nouvelle-aquitaine/idp/idp/shared/redisbatch"
	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
	"github.com/region-nouvelle-aquitaine/idp/idp/throttle"
)

// sentCounter counts the commands a client sends, a pipeline's one by one.
type sentCounter struct{ n atomic.Int64 }

func (s *sentCounter) DialHook(next redis.DialHook) redis.DialHook { return next }
func (s *sentCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error { s.n.Add(1); return next(ctx, cmd) }
}
func (s *sentCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error { s.n.Add(int64(len(cmds))); return next(ctx, cmds) }
}

// TestCheckNetworkPrefetched: in a context from PrefetchNetwork, once a
// store read carried the rider, CheckNetwork answers for that address
// from it without a command of its own, blocked or not; for another
// address, or when nothing carried the rider, it reads as usual.
func TestCheckNetworkPrefetched(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: testenv.StartRedis(t).Addr})
	t.Cleanup(func() { _ = c.Close() })
	sent := &sentCounter{}
	c.AddHook(sent)
	clock := testenv.NewClock(time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC))
	l := throttle.New(throttle.Options{Client: c, Prefix: "prefetch:", Now: clock.Now, Policy: throttle.Policy{IPFailures: 2}})
	for i := range 2 {
		fail(t, l, "id:guess-"+string(rune('a'+i)), lycee)
	}
	tests := []struct {
		name         string
		prefetchFor  netip.Addr
		ask          netip.Addr
		ride         bool
		want         throttle.Kind
		wantOwnReads int64
	}{
		{"blocked address, prefetched", lycee, lycee, true, throttle.Network, 0},
		{"free address, prefetched", others, others, true, throttle.None, 0},
		{"prefetched for another address", others, lycee, true, throttle.Network, 1},
		{"nothing carried the rider", lycee, lycee, false, throttle.Network, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pctx := l.PrefetchNetwork(ctx, tc.prefetchFor)
			if tc.ride {
				// What store.AuthRequestByRef does with a rider.
				_, _ = c.Pipelined(pctx, func(p redis.Pipeliner) error {
					p.Get(pctx, "prefetch:some-pending-sign-in")
					redisbatch.Rider(pctx)(pctx, p)
					return nil
				})
			}
			before := sent.n.Load()
			b, err := l.CheckNetwork(pctx, tc.ask)
			if err != nil {
				t.Fatal(err)
			}
			if b.Kind != tc.want {
				t.Errorf("CheckNetwork = %+v, want kind %v", b, tc.want)
			}
			if n := sent.n.Load() - before; n != tc.wantOwnReads {
				t.Errorf("CheckNetwork sent %d commands, want %d", n, tc.wantOwnReads)
			}
		})
	}
}
