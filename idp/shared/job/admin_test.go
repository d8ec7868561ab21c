package job

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestCancel: an operator's drop settles a waiting job as a worker giving
// up would. A directory that may have the new password (a write sent,
// its answer lost) makes it unconfirmed, never cancelled: the person is
// not told that nothing changed, and the written time is recorded, so
// that older steps opened with the old password are superseded.
func TestCancel(t *testing.T) {
	t.Parallel()
	a, m := annuaire, messagerie
	tests := []struct {
		name string
		// what the worker left before waiting for its retry: the marks of
		// the targets it wrote to, the outcomes it recorded, the status's
		// targets
		marked   []string
		recorded []TargetOutcome
		waiting  []TargetOutcome
		state    State
		reason   Reason
		targets  []TargetOutcome
		written  bool // the change supersedes a step begun before it
	}{
		{"nothing sent", nil, nil, []TargetOutcome{a(Queued, ReasonUnavailable), m(Queued, ReasonUnavailable)},
			Failed, ReasonCancelled, []TargetOutcome{a(Failed, ReasonCancelled), m(Failed, ReasonCancelled)}, false},
		{"one directory written", []string{"annuaire"}, []TargetOutcome{a(Done, "")}, []TargetOutcome{a(Done, ""), m(Queued, ReasonUnavailable)},
			Partial, ReasonCancelled, []TargetOutcome{a(Done, ""), m(Failed, ReasonCancelled)}, true},
		{"a write sent, its answer lost", []string{"annuaire"}, nil, []TargetOutcome{a(Queued, ReasonUnconfirmed), m(Queued, ReasonUnavailable)},
			Failed, ReasonUnconfirmed, []TargetOutcome{a(Failed, ReasonUnconfirmed), m(Failed, ReasonCancelled)}, true},
		{"one written, another unconfirmed", []string{"annuaire", "messagerie"}, []TargetOutcome{a(Done, "")}, []TargetOutcome{a(Done, ""), m(Queued, ReasonUnconfirmed)},
			Partial, ReasonUnconfirmed, []TargetOutcome{a(Done, ""), m(Failed, ReasonUnconfirmed)}, true},
		{"no targets listed, a write sent", []string{"annuaire"}, nil, nil,
			Failed, ReasonUnconfirmed, nil, true},
	}
	eachBackend(t, func(t *testing.T, c redis.UniversalClient) {
		ctx := context.Background()
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				f := newFixture(t, c)
				f.q = NewQueue(Options{Client: c, Prefix: "test-" + NewID() + ":", Now: f.clk.Now, StatusTTL: 10 * time.Minute})
				opened := f.clk.Now()
				f.clk.Advance(time.Second)
				j := f.enqueue(t, "sub", "login", "pw")
				got := f.claim(t, "worker", time.Minute)
				for _, name := range tc.marked {
					if err := f.q.Mark(ctx, got, name, "mark-"+name); err != nil {
						t.Fatal(err)
					}
				}
				if len(tc.recorded) > 0 {
					if err := f.q.Record(ctx, got, tc.recorded); err != nil {
						t.Fatal(err)
					}
				}
				if err := f.q.Retry(ctx, got, f.clk.Now().Add(time.Minute), ReasonUnavailable, tc.waiting...); err != nil {
					t.Fatal(err)
				}

				st, reason, err := f.q.Cancel(ctx, j.ID)
				if err != nil || st != tc.state || reason != tc.reason {
					t.Fatalf("Cancel = %s/%s, %v; want %s/%s", st, reason, err, tc.state, tc.reason)
				}
				status := f.status(t, j.ID)
				if status.State != tc.state || status.Reason != tc.reason || !slices.Equal(status.Targets, tc.targets) {
					t.Errorf("status = %+v\nwant %s/%s %+v", status, tc.state, tc.reason, tc.targets)
				}
				evs := f.events(t)
				if len(evs) != 1 || evs[0].State != tc.state || evs[0].Reason != tc.reason {
					t.Errorf("events = %+v", evs)
				}
				// A step opened with the old password before the drop.
				step := f.job(t, "sub", "login", "another")
				step.Since = opened
				err = f.q.Enqueue(ctx, step)
				if tc.written && !errors.Is(err, ErrSuperseded) {
					t.Errorf("a step begun before a change that may be written: %v, want ErrSuperseded", err)
				}
				if !tc.written && err != nil {
					t.Errorf("a step begun before a change that was not written: %v", err)
				}
			})
		}
	})
}
