package ldapsync

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/region-nouvelle-aquitaine/idp/idp/shared/job"
	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
	"github.com/region-nouvelle-aquitaine/idp/ldapsync/directory"
)

// stepWriter wraps a Writer: it counts writes, and can hold a worker
// still at a given step until its context ends (the test then "kills"
// the worker by cancelling Run).
type stepWriter struct {
	Writer
	holdLookup bool          // block in Lookup
	holdAfter  bool          // block after a real Write went through
	lostAnswer atomic.Bool   // after a real Write, report the answer lost and unverifiable
	reached    chan struct{} // closed when the hold is reached
	once       sync.Once
	writes     atomic.Int32
	lookups    atomic.Int32
	writesByDN sync.Map // DN → *atomic.Int32
}

func (w *stepWriter) hold(ctx context.Context) error {
	w.once.Do(func() { close(w.reached) })
	<-ctx.Done()
	return ctx.Err()
}

func (w *stepWriter) Lookup(ctx context.Context, login string) (directory.Entry, error) {
	w.lookups.Add(1)
	if w.holdLookup {
		return directory.Entry{}, errors.Join(directory.ErrUnavailable, w.hold(ctx))
	}
	return w.Writer.Lookup(ctx, login)
}

func (w *stepWriter) Write(ctx context.Context, e directory.Entry, pw string) error {
	w.writes.Add(1)
	n, _ := w.writesByDN.LoadOrStore(e.DN, new(atomic.Int32))
	n.(*atomic.Int32).Add(1)
	if err := w.Writer.Write(ctx, e, pw); err != nil {
		return err
	}
	switch {
	case w.holdAfter:
		return errors.Join(directory.ErrUnavailable, w.hold(ctx))
	case w.lostAnswer.Load():
		return errors.Join(directory.ErrUnavailable, directory.ErrOutcomeUnknown)
	}
	return nil
}

// TestWorkerDiesHoldingAJob: a worker claims a job and is never heard of
// again; another one completes it once the lease is over.
func TestWorkerDiesHoldingAJob(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testenv.SlapdOptions{})
	j := e.submit(t, "jdupont", "Nouveau-mot-de-passe-1")
	dead, err := e.q.Claim(context.Background(), "dead", 30*time.Second)
	if err != nil || dead.ID != j.ID {
		t.Fatalf("Claim = %v, %v", dead, err)
	}
	start(t, e.worker("alive", nil))
	time.Sleep(100 * time.Millisecond) // many polls of the live worker
	if st, err := e.q.Status(context.Background(), j.ID); err != nil || st.State != job.Running || st.Attempts != 1 {
		t.Fatalf("during the lease: %+v, %v", st, err)
	}
	e.clk.Advance(31 * time.Second)
	st := e.waitSettled(t, j.ID)
	if st.State != job.Done || st.Attempts != 2 {
		t.Fatalf("status = %+v, want done after 2 attempts", st)
	}
	if !e.s.Binds(t, "jdupont", "Nouveau-mot-de-passe-1") || e.s.Binds(t, "jdupont", seeded("jdupont").Password) {
		t.Error("the password was not changed")
	}
	if err := e.q.Complete(context.Background(), dead, job.Status{State: job.Failed}); !errors.Is(err, job.ErrLeaseLost) {
		t.Errorf("the dead worker could still settle the job: %v", err)
	}
}

// TestWorkerKilledMidJob stops a worker at a given step of a job; another
// worker completes the job, and the password is written once.
func TestWorkerKilledMidJob(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                  string
		holdLookup, holdAfter bool // where the first worker stops
	}{
		// Stopped before writing: handed back at once, written by the other.
		{"before the write", true, false},
		// Stopped after the directory applied it, before the outcome was
		// recorded: the other finds it applied (the mark) and does not write.
		{"after the write", false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, testenv.SlapdOptions{})
			first := &stepWriter{Writer: e.dir, holdLookup: tc.holdLookup, holdAfter: tc.holdAfter, reached: make(chan struct{})}
			stopFirst := start(t, e.worker("first", func(w *Worker) { w.Writer = first }))
			j := e.submit(t, "pmartin", "Nouveau-mot-de-passe-1")
			select {
			case <-first.reached:
			case <-time.After(10 * time.Second):
				t.Fatal("the first worker never reached the step")
			}
			stopFirst()
			st := e.waitFor(t, j.ID, "handed back", func(st job.Status) bool { return st.State == job.Queued })
			if st.Attempts != 1 || st.Reason != job.ReasonNone {
				t.Errorf("handed back as %+v", st)
			}

			second := &stepWriter{Writer: e.dir, reached: make(chan struct{})}
			start(t, e.worker("second", func(w *Worker) { w.Writer = second }))
			st = e.waitSettled(t, j.ID)
			if st.State != job.Done || st.Attempts != 2 {
				t.Fatalf("status = %+v, want done after 2 attempts", st)
			}
			if n := first.writes.Load() + second.writes.Load(); n != 1 {
				t.Errorf("%d writes, want 1", n)
			}
			if !e.s.Binds(t, "pmartin", "Nouveau-mot-de-passe-1") || e.s.Binds(t, "pmartin", seeded("pmartin").Password) {
				t.Error("the password was not changed")
			}
		})
	}
}

// TestWorkerLostAnswer: the write went through but its answer was lost and
// could not be checked; the retry finds it applied instead of reporting
// "in history".
func TestWorkerLostAnswer(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testenv.SlapdOptions{})
	sw := &stepWriter{Writer: e.dir, reached: make(chan struct{})}
	sw.lostAnswer.Store(true)
	start(t, e.worker("w", func(w *Worker) { w.Writer = sw }))
	j := e.submit(t, "elefevre", "Nouveau-mot-de-passe-1")
	st := e.waitFor(t, j.ID, "retried", func(st job.Status) bool { return st.State == job.Queued && st.Attempts == 1 })
	if st.Reason != job.ReasonUnconfirmed {
		t.Errorf("status while retrying = %+v, want reason unconfirmed", st)
	}
	sw.lostAnswer.Store(false)
	e.clk.Advance(10 * time.Second)
	st = e.waitSettled(t, j.ID)
	if st.State != job.Done || st.Attempts != 2 || sw.writes.Load() != 1 {
		t.Fatalf("status = %+v after %d writes, want done after 2 attempts and 1 write", st, sw.writes.Load())
	}
}

// TestDropAfterALostAnswer: the write went through, its answer was lost,
// and while the job waits for its retry an operator drops it. The
// directory has the new password, so the change settles unconfirmed,
// never "cancelled, nothing changed", and counts as written.
func TestDropAfterALostAnswer(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testenv.SlapdOptions{})
	sw := &stepWriter{Writer: e.dir, reached: make(chan struct{})}
	sw.lostAnswer.Store(true)
	stop := start(t, e.worker("w", func(w *Worker) { w.Writer = sw }))
	opened := e.clk.Now()
	e.clk.Advance(time.Second)
	j := e.submit(t, "elefevre", "Nouveau-mot-de-passe-1")
	e.waitFor(t, j.ID, "retried", func(st job.Status) bool { return st.State == job.Queued && st.Attempts == 1 })
	stop()

	ctx := context.Background()
	state, reason, err := e.q.Cancel(ctx, j.ID)
	if err != nil || state != job.Failed || reason != job.ReasonUnconfirmed {
		t.Fatalf("Cancel = %s/%s, %v; want failed/unconfirmed", state, reason, err)
	}
	if !e.s.Binds(t, "elefevre", "Nouveau-mot-de-passe-1") {
		t.Fatal("the lost answer's write did not reach the directory: the test proves nothing")
	}
	if st, err := e.q.Status(ctx, j.ID); err != nil || st.Reason != job.ReasonUnconfirmed || len(st.Targets) != 1 || st.Targets[0].Reason != job.ReasonUnconfirmed {
		t.Errorf("status = %+v, %v; want the target unconfirmed", st, err)
	}
	step := job.Job{ID: job.NewID(), Subject: j.Subject, Login: j.Login, CreatedAt: e.clk.Now(), ExpiresAt: e.clk.Now().Add(time.Hour), Since: opened}
	if step.Sealed, err = e.sealer.Seal(step, "Autre-mot-de-passe-2"); err != nil {
		t.Fatal(err)
	}
	if err := e.q.Enqueue(ctx, step); !errors.Is(err, job.ErrSuperseded) {
		t.Errorf("a step opened with the old password before the drop: %v, want ErrSuperseded", err)
	}
}
