package job

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestEnqueueClaimComplete(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		state  State
		reason Reason
	}{
		{"done", Done, ReasonNone},
		{"rejected", Rejected, ReasonTooShort},
		{"failed", Failed, ReasonNoSuchUser},
	}
	eachBackend(t, func(t *testing.T, c redis.UniversalClient) {
		ctx := context.Background()
		f := newFixture(t, c)
		for i, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				sub := "sub-" + tc.name
				j := f.enqueue(t, sub, "login-"+tc.name, "Correct-Horse-42")
				if st := f.status(t, j.ID); st.State != Queued || st.Attempts != 0 || st.JobID != j.ID {
					t.Fatalf("status after Enqueue = %+v", st)
				}

				got := f.claim(t, "w1", time.Minute)
				if got.ID != j.ID || got.Subject != sub || got.Login != j.Login || got.Attempt != 1 ||
					got.Worker != "w1" || got.Mark != "" || !got.ExpiresAt.Equal(j.ExpiresAt) ||
					!got.LeaseUntil.Equal(f.clk.Now().Add(time.Minute)) {
					t.Fatalf("Claim = %+v, want job %s attempt 1", got, j.ID)
				}
				if pw, err := f.opener.Open(got); err != nil || pw != "Correct-Horse-42" {
					t.Fatalf("Open(claimed) = %q, %v", pw, err)
				}
				if st := f.status(t, j.ID); st.State != Running || st.Attempts != 1 {
					t.Fatalf("status after Claim = %+v", st)
				}
				if _, err := f.q.Claim(ctx, "w2", time.Minute); !errors.Is(err, ErrEmpty) {
					t.Fatalf("second Claim: %v, want ErrEmpty", err)
				}

				f.clk.Advance(time.Second)
				if err := f.q.Complete(ctx, got, Status{State: tc.state, Reason: tc.reason}); err != nil {
					t.Fatalf("Complete: %v", err)
				}
				st := f.status(t, j.ID)
				if st.State != tc.state || st.Reason != tc.reason || st.Attempts != 1 || !st.UpdatedAt.Equal(f.clk.Now()) {
					t.Fatalf("status after Complete = %+v", st)
				}
				if n := c.Exists(ctx, f.q.jobKey(j.ID), f.q.pendingKey(sub)).Val(); n != 0 {
					t.Errorf("job or pending key still there after Complete")
				}
				evs := f.events(t)
				if len(evs) != 2*i+1 { // each case settles two jobs
					t.Fatalf("%d events, want %d", len(evs), 2*i+1)
				}
				if e := evs[2*i]; e.JobID != j.ID || e.Subject != sub || e.State != tc.state || e.Reason != tc.reason ||
					e.Attempts != 1 || !e.At.Equal(f.clk.Now()) {
					t.Errorf("event = %+v", e)
				}
				if err := f.q.Complete(ctx, got, Status{State: Done}); !errors.Is(err, ErrLeaseLost) {
					t.Errorf("second Complete: %v, want ErrLeaseLost", err)
				}
				// The subject is free again.
				f.enqueue(t, sub, j.Login, "another")
				next := f.claim(t, "w1", time.Minute)
				if err := f.q.Complete(ctx, next, Status{State: Done}); err != nil {
					t.Fatal(err)
				}
			})
		}
		id := f.events(t)[0].JobID
		f.clk.Advance(10 * time.Minute)
		if _, err := f.q.Status(ctx, id); !errors.Is(err, ErrNotFound) {
			t.Errorf("Status after StatusTTL: %v, want ErrNotFound", err)
		}
	})
}

func TestEnqueueRefuses(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, c redis.UniversalClient) {
		ctx := context.Background()
		f := newFixture(t, c)
		valid := f.job(t, "sub-x", "login", "pw")
		tests := []struct {
			name string
			edit func(j *Job)
		}{
			{"no id", func(j *Job) { j.ID = "" }},
			{"id with a colon", func(j *Job) { j.ID = "aaaaaaaaaaaaaaaa:b" }},
			{"no subject", func(j *Job) { j.Subject = "" }},
			{"login with a newline", func(j *Job) { j.Login = "a\nb" }},
			{"login too long", func(j *Job) { j.Login = strings.Repeat("a", 300) }},
			{"no sealed password", func(j *Job) { j.Sealed = nil }},
			{"no expiry", func(j *Job) { j.ExpiresAt = time.Time{} }},
			{"already expired", func(j *Job) { j.ExpiresAt = f.clk.Now() }},
		}
		for _, tc := range tests {
			j := valid
			tc.edit(&j)
			if err := f.q.Enqueue(ctx, j); !errors.Is(err, ErrInvalid) {
				t.Errorf("%s: Enqueue = %v, want ErrInvalid", tc.name, err)
			}
		}

		if err := f.q.Enqueue(ctx, valid); err != nil {
			t.Fatal(err)
		}
		if err := f.q.Enqueue(ctx, valid); !errors.Is(err, ErrConflict) {
			t.Errorf("same id twice: %v, want ErrConflict", err)
		}
		second := f.job(t, "sub-x", "login", "pw2")
		err := f.q.Enqueue(ctx, second)
		var pe *PendingError
		if !errors.Is(err, ErrPending) || !errors.As(err, &pe) || pe.JobID != valid.ID {
			t.Errorf("second job of a subject: %v, want PendingError{%s}", err, valid.ID)
		}
		if _, err := f.q.Status(ctx, second.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("refused job has a status: %v", err)
		}
		for _, id := range []string{"", "nope", "../../x", NewID()} {
			if _, err := f.q.Status(ctx, id); !errors.Is(err, ErrNotFound) {
				t.Errorf("Status(%q) = %v, want ErrNotFound", id, err)
			}
		}
	})
}

func TestRetry(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, c redis.UniversalClient) {
		ctx := context.Background()
		f := newFixture(t, c)
		j := f.enqueue(t, "sub", "login", "pw")
		got := f.claim(t, "w1", time.Minute)
		if err := f.q.Retry(ctx, got, f.clk.Now().Add(30*time.Second), ReasonUnavailable); err != nil {
			t.Fatal(err)
		}
		if st := f.status(t, j.ID); st.State != Queued || st.Reason != ReasonUnavailable || st.Attempts != 1 {
			t.Fatalf("status after Retry = %+v", st)
		}
		if err := f.q.Complete(ctx, got, Status{State: Done}); !errors.Is(err, ErrLeaseLost) {
			t.Errorf("Complete after Retry: %v, want ErrLeaseLost", err)
		}
		f.clk.Advance(29 * time.Second)
		if _, err := f.q.Claim(ctx, "w1", time.Minute); !errors.Is(err, ErrEmpty) {
			t.Fatalf("Claim before the backoff: %v, want ErrEmpty", err)
		}
		f.clk.Advance(time.Second)
		again := f.claim(t, "w2", time.Minute)
		if again.ID != j.ID || again.Attempt != 2 {
			t.Fatalf("Claim after backoff = %s attempt %d", again.ID, again.Attempt)
		}
		if waiting, running, err := f.q.Counts(ctx); err != nil || waiting != 0 || running != 1 {
			t.Errorf("Counts = %d, %d, %v", waiting, running, err)
		}
	})
}

// TestLeaseExpiry is a worker that dies holding a job: another one gets it
// once the lease is over, and the dead one can no longer touch it.
func TestLeaseExpiry(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, c redis.UniversalClient) {
		ctx := context.Background()
		f := newFixture(t, c)
		j := f.enqueue(t, "sub", "login", "pw")
		dead := f.claim(t, "dead", 30*time.Second)

		f.clk.Advance(29 * time.Second)
		if _, err := f.q.Claim(ctx, "alive", time.Minute); !errors.Is(err, ErrEmpty) {
			t.Fatalf("Claim during the lease: %v, want ErrEmpty", err)
		}
		f.clk.Advance(time.Second)
		alive := f.claim(t, "alive", time.Minute)
		if alive.ID != j.ID || alive.Attempt != 2 || alive.Worker != "alive" {
			t.Fatalf("reclaimed %+v", alive)
		}
		for name, call := range map[string]func() error{
			"Complete": func() error { return f.q.Complete(ctx, dead, Status{State: Done}) },
			"Retry":    func() error { return f.q.Retry(ctx, dead, f.clk.Now(), ReasonUnavailable) },
			"Renew":    func() error { return f.q.Renew(ctx, dead, time.Minute) },
			"Mark":     func() error { return f.q.Mark(ctx, dead, "m") },
		} {
			if err := call(); !errors.Is(err, ErrLeaseLost) {
				t.Errorf("%s by the dead worker: %v, want ErrLeaseLost", name, err)
			}
		}
		if err := f.q.Complete(ctx, alive, Status{State: Done}); err != nil {
			t.Fatal(err)
		}
		if st := f.status(t, j.ID); st.State != Done || st.Attempts != 2 {
			t.Errorf("status = %+v", st)
		}
	})
}

func TestRenew(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, c redis.UniversalClient) {
		ctx := context.Background()
		f := newFixture(t, c)
		f.enqueue(t, "sub", "login", "pw")
		held := f.claim(t, "w1", 30*time.Second)
		f.clk.Advance(20 * time.Second)
		if err := f.q.Renew(ctx, held, 30*time.Second); err != nil {
			t.Fatal(err)
		}
		if !held.LeaseUntil.Equal(f.clk.Now().Add(30 * time.Second)) {
			t.Errorf("LeaseUntil = %v", held.LeaseUntil)
		}
		f.clk.Advance(29 * time.Second)
		if _, err := f.q.Claim(ctx, "w2", time.Minute); !errors.Is(err, ErrEmpty) {
			t.Fatalf("Claim of a renewed job: %v, want ErrEmpty", err)
		}
		f.clk.Advance(time.Second)
		if got := f.claim(t, "w2", time.Minute); got.ID != held.ID {
			t.Fatalf("reclaimed %s", got.ID)
		}
	})
}

func TestMarkAndExpiry(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, c redis.UniversalClient) {
		ctx := context.Background()
		f := newFixture(t, c)

		marked := f.enqueue(t, "sub-marked", "login", "pw")
		got := f.claim(t, "w1", time.Minute)
		for _, m := range []string{"first", "second"} {
			if err := f.q.Mark(ctx, got, m); err != nil {
				t.Fatal(err)
			}
			if got.Mark != "first" {
				t.Fatalf("Mark(%s) left j.Mark = %q, want the first", m, got.Mark)
			}
		}
		if err := f.q.Mark(ctx, got, ""); !errors.Is(err, ErrInvalid) {
			t.Errorf("empty mark: %v", err)
		}
		if err := f.q.Retry(ctx, got, f.clk.Now(), ReasonUnavailable); err != nil {
			t.Fatal(err)
		}
		unmarked := f.enqueue(t, "sub-unmarked", "login", "pw")

		// Both expire. The unmarked one is settled by Claim; the marked one
		// is handed out, since an earlier write may have been applied.
		f.clk.Advance(10 * time.Minute)
		again := f.claim(t, "w2", time.Minute)
		if again.ID != marked.ID || again.Mark != "first" || again.Attempt != 2 {
			t.Fatalf("Claim after expiry = %s mark %q attempt %d, want the marked job", again.ID, again.Mark, again.Attempt)
		}
		if _, err := f.q.Claim(ctx, "w2", time.Minute); !errors.Is(err, ErrEmpty) {
			t.Fatalf("the expired unmarked job was handed out: %v", err)
		}
		st := f.status(t, unmarked.ID)
		if st.State != Failed || st.Reason != ReasonExpired {
			t.Errorf("expired job status = %+v", st)
		}
		evs := f.events(t)
		if len(evs) != 1 || evs[0].JobID != unmarked.ID || evs[0].Reason != ReasonExpired {
			t.Errorf("events = %+v", evs)
		}
		f.enqueue(t, "sub-unmarked", "login", "pw") // the subject is free
	})
}

// TestKeys checks the key layout: one hash tag, TTLs on per-job keys only.
func TestKeys(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, c redis.UniversalClient) {
		ctx := context.Background()
		f := newFixture(t, c)
		f.enqueue(t, "sub-1", "l1", "pw")
		f.enqueue(t, "sub-2", "l2", "pw")
		j := f.claim(t, "w", time.Minute)
		if err := f.q.Complete(ctx, j, Status{State: Done}); err != nil {
			t.Fatal(err)
		}
		f.claim(t, "w", time.Minute)

		keys, err := c.Keys(ctx, "*").Result()
		if err != nil {
			t.Fatal(err)
		}
		noTTL := map[string]bool{f.q.readyKey(): true, f.q.leasesKey(): true, f.q.EventsStream(): true}
		for _, k := range keys {
			if !strings.HasPrefix(k, "test:{pwchange}:") {
				t.Errorf("key %q outside the hash tag", k)
			}
			ttl := c.PTTL(ctx, k).Val()
			if noTTL[k] != (ttl < 0) {
				t.Errorf("key %q: TTL %v", k, ttl)
			}
		}
		// leases, events, two statuses, the held job and its subject's
		// pending key (an empty ready set does not exist).
		if len(keys) != 6 {
			t.Errorf("keys: %q", keys)
		}
	})
}
