package job

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/region-nouvelle-aquitaine/idp/idp/shared/durable"
	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
)

// TestQueueAtScale runs a job's whole life on a Redis Cluster (every script
// must keep to one slot, else CROSSSLOT) and through Sentinel (Enqueue
// waits for the replica), with the clients the configuration makes.
func TestQueueAtScale(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		start func(t *testing.T) (redis.UniversalClient, func(t *testing.T) (resume func()))
	}{
		{"cluster", func(t *testing.T) (redis.UniversalClient, func(*testing.T) func()) {
			rc := testenv.StartRedisCluster(t)
			c := redis.NewUniversalClient(&redis.UniversalOptions{Addrs: rc.Addrs})
			t.Cleanup(func() { _ = c.Close() })
			return c, nil
		}},
		{"sentinel", func(t *testing.T) (redis.UniversalClient, func(*testing.T) func()) {
			rs := testenv.StartRedisSentinel(t)
			c := redis.NewUniversalClient(&redis.UniversalOptions{Addrs: rs.Sentinels, MasterName: rs.MasterName})
			t.Cleanup(func() { _ = c.Close() })
			return c, func(t *testing.T) func() { return rs.FreezeReplica(t) }
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			c, freeze := tc.start(t)
			f := newFixture(t, c)
			// Several subjects, so that per-job and per-subject keys spread
			// over many names (on a Cluster they would over many slots
			// without the hash tag).
			for _, sub := range []string{"alice", "bob", "chloé"} {
				j := f.enqueue(t, sub, "login-"+sub, "Correct-Horse-42")
				var pe *PendingError
				if err := f.q.Enqueue(ctx, f.job(t, sub, "x", "y")); !errors.As(err, &pe) || pe.JobID != j.ID {
					t.Fatalf("second Enqueue for %s: %v, want pending %s", sub, err, j.ID)
				}
				got := f.claim(t, "w1", time.Minute)
				if got.ID != j.ID {
					t.Fatalf("Claim = %s, want %s", got.ID, j.ID)
				}
				if err := f.q.Mark(ctx, got, "annuaire", "before"); err != nil {
					t.Fatalf("Mark: %v", err)
				}
				if err := f.q.Retry(ctx, got, f.clk.Now(), ReasonUnavailable); err != nil {
					t.Fatalf("Retry: %v", err)
				}
				again := f.claim(t, "w2", time.Minute)
				if again.ID != j.ID || again.Attempt != 2 || again.Marks["annuaire"] != "before" {
					t.Fatalf("Claim after Retry = %+v", again)
				}
				if err := f.q.Renew(ctx, again, time.Minute); err != nil {
					t.Fatalf("Renew: %v", err)
				}
				out := TargetOutcome{Name: "annuaire", Label: "l’annuaire", State: Done}
				if err := f.q.Record(ctx, again, []TargetOutcome{out}); err != nil {
					t.Fatalf("Record: %v", err)
				}
				if err := f.q.Complete(ctx, again, Status{State: Done}); err != nil {
					t.Fatalf("Complete: %v", err)
				}
				if st := f.status(t, j.ID); st.State != Done || st.Attempts != 2 {
					t.Fatalf("Status = %+v", st)
				}
			}
			if evs := f.events(t); len(evs) != 3 {
				t.Fatalf("%d events, want 3", len(evs))
			}
			if err := f.q.PublishPolicies(ctx, []TargetPolicy{{Name: "annuaire", Label: "l’annuaire", MinLength: 12, ReadAt: f.clk.Now()}}, time.Minute); err != nil {
				t.Fatalf("PublishPolicies: %v", err)
			}
			if ps, err := f.q.Policies(ctx); err != nil || len(ps) != 1 {
				t.Fatalf("Policies = %+v, %v", ps, err)
			}
			if w, r, err := f.q.Counts(ctx); err != nil || w != 0 || r != 0 {
				t.Fatalf("Counts = %d, %d, %v", w, r, err)
			}
			if freeze == nil {
				return
			}
			// A replica that acknowledges nothing: the change is on the
			// primary, but Enqueue does not claim it is safe.
			f.q = NewQueue(Options{Client: c, Prefix: "test:", Now: f.clk.Now, ReplicaWait: 200 * time.Millisecond})
			resume := freeze(t)
			j := f.job(t, "dan", "login-dan", "pw")
			if err := f.q.Enqueue(ctx, j); !errors.Is(err, durable.ErrNotReplicated) {
				t.Fatalf("Enqueue with the replica frozen: %v, want ErrNotReplicated", err)
			}
			resume()
			if st := f.status(t, j.ID); st.State != Queued {
				t.Fatalf("Status = %+v, want queued", st)
			}
		})
	}
}
