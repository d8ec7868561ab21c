package job

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestConcurrentClaims: workers racing on one queue never hold one job at
// the same time, and every job is settled exactly once, some after a retry.
func TestConcurrentClaims(t *testing.T) {
	t.Parallel()
	const jobs, workers = 120, 8
	eachBackend(t, func(t *testing.T, c redis.UniversalClient) {
		ctx := context.Background()
		f := newFixture(t, c)
		for i := range jobs {
			f.enqueue(t, fmt.Sprintf("sub-%d", i), fmt.Sprintf("login-%d", i), "pw")
		}
		var (
			mu      sync.Mutex
			holding = map[string]bool{}
			claims  = map[string]int{}
			wg      sync.WaitGroup
			errs    = make(chan error, workers)
		)
		for w := range workers {
			wg.Go(func() {
				name := fmt.Sprintf("w%d", w)
				for {
					j, err := f.q.Claim(ctx, name, time.Minute)
					if errors.Is(err, ErrEmpty) {
						return
					}
					if err != nil {
						errs <- err
						return
					}
					mu.Lock()
					if holding[j.ID] {
						mu.Unlock()
						errs <- fmt.Errorf("job %s held twice", j.ID)
						return
					}
					holding[j.ID] = true
					claims[j.ID]++
					first := claims[j.ID] == 1
					mu.Unlock()

					time.Sleep(200 * time.Microsecond) // "working": another claim now would be caught
					mu.Lock()
					holding[j.ID] = false // released before Redis lets anyone else take it
					mu.Unlock()
					if first && len(j.ID)%2 == 0 { // about half the jobs fail once
						err = f.q.Retry(ctx, j, f.clk.Now(), ReasonUnavailable)
					} else {
						err = f.q.Complete(ctx, j, Status{State: Done})
					}
					if err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		evs := f.events(t)
		seen := map[string]bool{}
		for _, e := range evs {
			if seen[e.JobID] {
				t.Errorf("job %s settled twice", e.JobID)
			}
			seen[e.JobID] = true
			if e.Attempts != claims[e.JobID] {
				t.Errorf("job %s: %d attempts recorded, %d claims", e.JobID, e.Attempts, claims[e.JobID])
			}
		}
		if len(seen) != jobs {
			t.Errorf("%d jobs settled, want %d", len(seen), jobs)
		}
	})
}

// BenchmarkEnqueueClaim is one job's round trip through the queue:
// Enqueue, Claim, Complete (sealing is done beforehand).
func BenchmarkEnqueueClaim(b *testing.B) {
	for _, be := range []struct {
		name string
		c    func(b *testing.B) redis.UniversalClient
	}{
		{"redis-server", func(b *testing.B) redis.UniversalClient { return startRedisB(b) }},
		{"miniredis", func(b *testing.B) redis.UniversalClient { return startMiniredisB(b) }},
	} {
		b.Run(be.name, func(b *testing.B) {
			ctx := context.Background()
			f := newFixture(b, be.c(b))
			prepared := make([]Job, 256)
			for i := range prepared {
				prepared[i] = f.job(b, fmt.Sprintf("sub-%d", i), "login", "Correct-Horse-42")
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				j := prepared[i%len(prepared)]
				j.ID = NewID() // a fresh id; the seal is not checked here
				i++
				if err := f.q.Enqueue(ctx, j); err != nil {
					b.Fatal(err)
				}
				got, err := f.q.Claim(ctx, "bench", time.Minute)
				if err != nil {
					b.Fatal(err)
				}
				if err := f.q.Complete(ctx, got, Status{State: Done}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
