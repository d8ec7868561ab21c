package job

import (
	"context"
	"errors"
	"slices"
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
					got.Worker != "w1" || got.Marks != nil || got.Outcomes != nil || !got.ExpiresAt.Equal(j.ExpiresAt) ||
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
			{"mail too long", func(j *Job) { j.Mail = strings.Repeat("a", 300) }},
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
			"Mark":     func() error { return f.q.Mark(ctx, dead, "annuaire", "m") },
			"Record": func() error {
				return f.q.Record(ctx, dead, []TargetOutcome{{Name: "annuaire", State: Done}})
			},
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
			if err := f.q.Mark(ctx, got, "annuaire", m); err != nil {
				t.Fatal(err)
			}
			if got.Marks["annuaire"] != "first" {
				t.Fatalf("Mark(%s) left j.Marks = %q, want the first", m, got.Marks)
			}
		}
		if err := f.q.Mark(ctx, got, "messagerie", "other"); err != nil || got.Marks["messagerie"] != "other" {
			t.Fatalf("a second target's mark: %v, %q", err, got.Marks)
		}
		if err := f.q.Mark(ctx, got, "annuaire", ""); !errors.Is(err, ErrInvalid) {
			t.Errorf("empty mark: %v", err)
		}
		if err := f.q.Mark(ctx, got, "Bad:Name", "m"); !errors.Is(err, ErrInvalid) {
			t.Errorf("bad target name: %v", err)
		}
		if err := f.q.Retry(ctx, got, f.clk.Now(), ReasonUnavailable); err != nil {
			t.Fatal(err)
		}
		unmarked := f.enqueue(t, "sub-unmarked", "login", "pw")

		// Both expire. The unmarked one is settled by Claim; the marked one
		// is handed out, since an earlier write may have been applied.
		f.clk.Advance(10 * time.Minute)
		again := f.claim(t, "w2", time.Minute)
		if again.ID != marked.ID || again.Marks["annuaire"] != "first" || again.Marks["messagerie"] != "other" || again.Attempt != 2 {
			t.Fatalf("Claim after expiry = %s marks %q attempt %d, want the marked job", again.ID, again.Marks, again.Attempt)
		}
		if _, err := f.q.Claim(ctx, "w2", time.Minute); !errors.Is(err, ErrEmpty) {
			t.Fatalf("the expired unmarked job was handed out: %v", err)
		}
		st := f.status(t, unmarked.ID)
		if st.State != Failed || st.Reason != ReasonExpired || st.Targets != nil {
			t.Errorf("expired job status = %+v", st)
		}
		evs := f.events(t)
		if len(evs) != 1 || evs[0].JobID != unmarked.ID || evs[0].Reason != ReasonExpired || evs[0].Targets != nil {
			t.Errorf("events = %+v", evs)
		}
		f.enqueue(t, "sub-unmarked", "login", "pw") // the subject is free
	})
}

// TestTargetProgress: per-target outcomes survive a retry and a lost
// lease, reach the status and the event, and decide how an expired job
// settles.
func TestTargetProgress(t *testing.T) {
	t.Parallel()
	a, m := annuaire, messagerie
	tests := []struct {
		name string
		// progress recorded by the first worker, which then dies holding
		// the job (marks of the targets with an outcome or in marked).
		record  []TargetOutcome
		marked  []string
		expire  bool
		handout bool // an expired job is handed out (a mark to resolve)
		state   State
		reason  Reason
		targets []TargetOutcome // the final status's
	}{
		{"not expired: resumed", []TargetOutcome{a(Done, ""), m(Queued, ReasonUnavailable)}, []string{"annuaire"}, false, true, "", "", nil},
		{"expired, one written", []TargetOutcome{a(Done, ""), m(Queued, ReasonUnavailable)}, []string{"annuaire"}, true, false,
			Partial, ReasonExpired, []TargetOutcome{a(Done, ""), m(Failed, ReasonExpired)}},
		{"expired, one written, a mark to resolve", []TargetOutcome{a(Done, ""), m(Queued, ReasonUnconfirmed)}, []string{"annuaire", "messagerie"}, true, true, "", "", nil},
		{"expired, every target written", []TargetOutcome{a(Done, ""), m(Done, "")}, []string{"annuaire", "messagerie"}, true, false,
			Done, ReasonNone, []TargetOutcome{a(Done, ""), m(Done, "")}},
		{"expired, nothing written", []TargetOutcome{a(Failed, ReasonNoSuchUser), m(Queued, ReasonUnavailable)}, nil, true, false,
			Failed, ReasonExpired, []TargetOutcome{a(Failed, ReasonNoSuchUser), m(Failed, ReasonExpired)}},
	}
	eachBackend(t, func(t *testing.T, c redis.UniversalClient) {
		ctx := context.Background()
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				f := newFixture(t, c)
				f.q = NewQueue(Options{Client: c, Prefix: "test-" + NewID() + ":", Now: f.clk.Now, StatusTTL: 10 * time.Minute})
				j := f.enqueue(t, "sub", "login", "pw")
				first := f.claim(t, "first", time.Minute)
				for _, name := range tc.marked {
					if err := f.q.Mark(ctx, first, name, "mark-"+name); err != nil {
						t.Fatal(err)
					}
				}
				if err := f.q.Record(ctx, first, tc.record); err != nil {
					t.Fatal(err)
				}
				if st := f.status(t, j.ID); st.State != Running || len(st.Targets) != len(tc.record) || st.Targets[0] != tc.record[0] {
					t.Fatalf("status while running = %+v", st)
				}
				// The first worker dies; its lease runs out.
				f.clk.Advance(time.Minute)
				if tc.expire {
					f.clk.Advance(10 * time.Minute)
				}
				got, err := f.q.Claim(ctx, "second", time.Minute)
				if tc.handout {
					if err != nil || got.ID != j.ID || got.Attempt != 2 {
						t.Fatalf("Claim = %+v, %v; want the job handed out", got, err)
					}
					for _, o := range tc.record {
						if o.State.settledTarget() && got.Outcomes[o.Name] != o {
							t.Errorf("outcome of %s = %+v, want %+v", o.Name, got.Outcomes[o.Name], o)
						}
						if !o.State.settledTarget() && got.Outcomes[o.Name] != (TargetOutcome{}) {
							t.Errorf("unsettled %s has an outcome %+v", o.Name, got.Outcomes[o.Name])
						}
					}
					for _, name := range tc.marked {
						if got.Marks[name] != "mark-"+name {
							t.Errorf("marks = %q", got.Marks)
						}
					}
					return
				}
				if !errors.Is(err, ErrEmpty) {
					t.Fatalf("Claim = %+v, %v; want the expired job settled", got, err)
				}
				st := f.status(t, j.ID)
				if st.State != tc.state || st.Reason != tc.reason || !slices.Equal(st.Targets, tc.targets) {
					t.Errorf("status = %+v\nwant %s/%s %+v", st, tc.state, tc.reason, tc.targets)
				}
				evs := f.events(t)
				if len(evs) != 1 || evs[0].State != tc.state || !slices.Equal(evs[0].Targets, tc.targets) {
					t.Errorf("events = %+v", evs)
				}
			})
		}
	})
}

// TestCompleteWithTargets: the targets given to Retry and Complete are
// the status's and the event's; Partial is a settled state.
func TestCompleteWithTargets(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, c redis.UniversalClient) {
		ctx := context.Background()
		f := newFixture(t, c)
		j := f.enqueue(t, "sub", "login", "pw")
		got := f.claim(t, "w", time.Minute)
		waiting := []TargetOutcome{
			{Name: "annuaire", Label: "l’annuaire", State: Done},
			{Name: "messagerie", Label: "la messagerie", State: Queued, Reason: ReasonUnavailable},
		}
		if err := f.q.Retry(ctx, got, f.clk.Now(), ReasonUnavailable, waiting...); err != nil {
			t.Fatal(err)
		}
		if st := f.status(t, j.ID); st.State != Queued || !slices.Equal(st.Targets, waiting) {
			t.Fatalf("status after Retry = %+v", st)
		}
		got = f.claim(t, "w", time.Minute)
		final := []TargetOutcome{waiting[0], {Name: "messagerie", Label: "la messagerie", State: Rejected, Reason: ReasonTooShort}}
		if err := f.q.Complete(ctx, got, Status{State: Partial, Reason: ReasonTooShort, Targets: final}); err != nil {
			t.Fatal(err)
		}
		st := f.status(t, j.ID)
		if st.State != Partial || st.Reason != ReasonTooShort || !st.State.Settled() || !slices.Equal(st.Targets, final) {
			t.Fatalf("status = %+v", st)
		}
		evs := f.events(t)
		if len(evs) != 1 || evs[0].State != Partial || !slices.Equal(evs[0].Targets, final) {
			t.Fatalf("events = %+v", evs)
		}
		if err := f.q.Complete(ctx, got, Status{State: Done}); !errors.Is(err, ErrLeaseLost) {
			t.Errorf("second Complete: %v", err)
		}
		bad := []TargetOutcome{{Name: "Not valid", State: Done}}
		f.enqueue(t, "sub-2", "login", "pw")
		got = f.claim(t, "w", time.Minute)
		for name, err := range map[string]error{
			"Record":   f.q.Record(ctx, got, bad),
			"Retry":    f.q.Retry(ctx, got, f.clk.Now(), ReasonNone, bad...),
			"Complete": f.q.Complete(ctx, got, Status{State: Done, Targets: bad}),
			"empty":    f.q.Record(ctx, got, nil),
		} {
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("%s with a bad target: %v, want ErrInvalid", name, err)
			}
		}
	})
}

// TestMail: the optional mail travels with the job and is checked like
// the login.
func TestMail(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, c redis.UniversalClient) {
		ctx := context.Background()
		f := newFixture(t, c)
		j := Job{ID: NewID(), Subject: "sub", Login: "jdupont", Mail: "jeanne.dupont@example.org", ExpiresAt: f.clk.Now().Add(time.Minute)}
		var err error
		if j.Sealed, err = f.sealer.Seal(j, "pw"); err != nil {
			t.Fatal(err)
		}
		bad := j
		bad.ID, bad.Mail = NewID(), "a\nb"
		if err := f.q.Enqueue(ctx, bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("mail with a newline: %v", err)
		}
		if err := f.q.Enqueue(ctx, j); err != nil {
			t.Fatal(err)
		}
		got := f.claim(t, "w", time.Minute)
		if got.Mail != j.Mail || got.Login != j.Login {
			t.Fatalf("claimed %+v", got)
		}
		if pw, err := f.opener.Open(got); err != nil || pw != "pw" {
			t.Fatalf("Open = %q, %v", pw, err)
		}
	})
}

func TestPolicies(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, c redis.UniversalClient) {
		ctx := context.Background()
		f := newFixture(t, c)
		if ps, err := f.q.Policies(ctx); err != nil || len(ps) != 0 {
			t.Fatalf("Policies before any = %+v, %v", ps, err)
		}
		read := f.clk.Now()
		published := []TargetPolicy{
			{Name: "messagerie", Label: "la messagerie des lycées", MinLength: 14, MaxLength: 64, CheckQuality: 2, ReadAt: read},
			{Name: "annuaire", Label: "l’annuaire des usagers", MinLength: 12, CheckQuality: 1, ReadAt: read},
		}
		if err := f.q.PublishPolicies(ctx, published, 3*time.Minute); err != nil {
			t.Fatal(err)
		}
		if ps, err := f.q.Policies(ctx); err != nil || !samePolicies(ps, published) {
			t.Fatalf("Policies = %+v, %v; want the published ones in order", ps, err)
		}
		// A minute later only the first target is read again: the second
		// keeps its value until it expires.
		f.clk.Advance(time.Minute)
		again := published[0]
		again.MinLength, again.ReadAt = 16, f.clk.Now()
		if err := f.q.PublishPolicies(ctx, []TargetPolicy{again}, 3*time.Minute); err != nil {
			t.Fatal(err)
		}
		if ps, err := f.q.Policies(ctx); err != nil || !samePolicies(ps, []TargetPolicy{again, published[1]}) {
			t.Fatalf("Policies = %+v, %v", ps, err)
		}
		f.clk.Advance(2 * time.Minute) // the second's life is over, on the logical clock
		if ps, err := f.q.Policies(ctx); err != nil || !samePolicies(ps, []TargetPolicy{again}) {
			t.Fatalf("Policies = %+v, %v; want only the live one", ps, err)
		}
		f.clk.Advance(time.Minute)
		if ps, err := f.q.Policies(ctx); err != nil || len(ps) != 0 {
			t.Fatalf("Policies after every expiry = %+v, %v", ps, err)
		}
		if ttl := c.PTTL(ctx, f.q.policiesKey()).Val(); ttl <= 0 || !strings.Contains(f.q.policiesKey(), "{pwchange}") {
			t.Errorf("policies key %q TTL %v", f.q.policiesKey(), ttl)
		}
		for _, bad := range [][]TargetPolicy{{{Name: ""}}, {{Name: "a:b"}}} {
			if err := f.q.PublishPolicies(ctx, bad, time.Minute); !errors.Is(err, ErrInvalid) {
				t.Errorf("PublishPolicies(%+v) = %v", bad, err)
			}
		}
		if err := f.q.PublishPolicies(ctx, published, 0); !errors.Is(err, ErrInvalid) {
			t.Errorf("PublishPolicies without a lifetime: %v", err)
		}
	})
}

func samePolicies(a, b []TargetPolicy) bool {
	return slices.EqualFunc(a, b, func(x, y TargetPolicy) bool {
		same := x.ReadAt.Equal(y.ReadAt)
		x.ReadAt, y.ReadAt = time.Time{}, time.Time{}
		return same && x == y
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
		// leases, events, two statuses, the settled job's id and its
		// subject's written time, the held job and its subject's pending
		// key (an empty ready set does not exist).
		if len(keys) != 8 {
			t.Errorf("keys: %q", keys)
		}
	})
}

// TestEnqueueSuperseded: a job whose Since is not after the subject's last
// change that was or may have been written (done, partial, failed
// unconfirmed) is refused; one that began later, one without Since, or one
// after a change that was not written is queued.
func TestEnqueueSuperseded(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		state State
		since time.Duration // the second job's Since, from the first one's settling
		want  error
	}{
		{"began before a written change", Done, -time.Minute, ErrSuperseded},
		{"began as it was written", Done, 0, ErrSuperseded},
		{"began before a partly written change", Partial, -time.Minute, ErrSuperseded},
		{"began after a written change", Done, time.Millisecond, nil},
		{"began before a refused change", Rejected, -time.Minute, nil},
		{"began before a failed change", Failed, -time.Minute, nil},
		{"began before a change that may have been written", Failed, -time.Minute, ErrSuperseded},
	}
	eachBackend(t, func(t *testing.T, c redis.UniversalClient) {
		ctx := context.Background()
		f := newFixture(t, c)
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				sub := "sub-" + tc.name
				f.enqueue(t, sub, "login", "Correct-Horse-42")
				got := f.claim(t, "w1", time.Minute)
				f.clk.Advance(time.Second)
				reason := ReasonNone
				switch {
				case tc.state == Rejected:
					reason = ReasonTooShort
				case tc.state == Failed && tc.want != nil:
					reason = ReasonUnconfirmed
				case tc.state == Failed:
					reason = ReasonNoSuchUser
				}
				if err := f.q.Complete(ctx, got, Status{State: tc.state, Reason: reason}); err != nil {
					t.Fatalf("Complete: %v", err)
				}
				settled := f.clk.Now()
				f.clk.Advance(time.Second)

				next := f.job(t, sub, "login", "Another-Horse-43")
				next.Since = settled.Add(tc.since)
				if err := f.q.Enqueue(ctx, next); !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
					t.Fatalf("Enqueue = %v, want %v", err, tc.want)
				}
				if tc.want == nil {
					if got := f.claim(t, "w1", time.Minute); got.ID != next.ID {
						t.Fatalf("claimed %s, want %s", got.ID, next.ID)
					} else if err := f.q.Complete(ctx, got, Status{State: Rejected, Reason: ReasonTooShort}); err != nil {
						t.Fatal(err)
					}
					return
				}
				without := f.job(t, sub, "login", "Third-Horse-44")
				if err := f.q.Enqueue(ctx, without); err != nil {
					t.Fatalf("a job without Since: %v", err)
				}
				got = f.claim(t, "w1", time.Minute)
				if err := f.q.Complete(ctx, got, Status{State: Rejected, Reason: ReasonTooShort}); err != nil {
					t.Fatal(err)
				}
			})
		}
	})
}
