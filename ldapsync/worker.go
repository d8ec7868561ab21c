package ldapsync

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/region-nouvelle-aquitaine/idp/idp/shared/job"
	"github.com/region-nouvelle-aquitaine/idp/idp/shared/loop"
	"github.com/region-nouvelle-aquitaine/idp/idp/shared/tracing"
	"github.com/region-nouvelle-aquitaine/idp/ldapsync/directory"
)

// Writer is what the worker needs of a directory. *directory.Writer is
// the OpenLDAP one; dev mode brings an in-memory one. Errors follow
// package directory: *directory.PolicyError, directory.ErrNoSuchUser,
// directory.ErrUnavailable (with ErrOutcomeUnknown), directory.ErrRefused.
type Writer interface {
	Lookup(ctx context.Context, login string) (directory.Entry, error)
	Write(ctx context.Context, e directory.Entry, newPassword string) error
	Changed(ctx context.Context, e directory.Entry) (bool, error)
}

// Worker applies password-change jobs. Configure it by its fields; zero
// values get the documented defaults. Run as many as wanted, in one
// process or several: each job is held by one of them at a time. Workers
// sharing a queue must have the same Targets.
type Worker struct {
	Queue  *job.Queue  // required
	Opener *job.Opener // required: the private keys jobs are sealed to
	// Verifier is required: the web tier's public keys. A job it does not
	// verify is refused (failed, unauthenticated), written nowhere.
	Verifier *job.Verifier
	// Targets are the directories every change is written to, in this
	// order (see Target). Required, unless Writer is given instead.
	Targets []Target
	// Writer alone stands for one target named "annuaire", labelled
	// « l’annuaire », that finds people by uid and checks their subject.
	Writer Writer
	// Clock decides backoffs and expiry; default time.Now. Give it the
	// Queue's clock.
	Clock func() time.Time
	// Log receives one record per settled job and per failure; default
	// discards. It never receives a password, a sealed password or a login.
	Log *slog.Logger
	// Name identifies this worker in the queue and the logs; default
	// "<hostname>-<pid>".
	Name string
	// Lease is how long a claimed job stays ours without renewal; it is
	// renewed every third of it while the job runs. A worker that dies
	// leaves its job to the others this long. Default 1m.
	Lease time.Duration
	// RetryBackoff is the wait after the first failed attempt while the
	// directory is unreachable, doubled after each further one, at most
	// MaxRetryBackoff. Defaults 5s and 1m.
	RetryBackoff, MaxRetryBackoff time.Duration
	// RetryLimit is how many retries follow the first attempt before the
	// job fails as unavailable; 0 means 5, negative means none. Keep
	// the sum of the backoffs shorter than the web tier's flow.
	RetryLimit int
	// PollInterval is the wait when no job is due; default 250ms.
	PollInterval time.Duration
	// PolicyInterval is how often the targets' password policies are read
	// and published (at start, then at this interval), each live three
	// intervals; default 1m.
	PolicyInterval time.Duration
	// Tracer opens a span per claimed job, with the claim and each
	// directory write under it; nil: none.
	Tracer trace.TracerProvider
}

// bookkeeping bounds the Redis writes that settle a job, even when Run's
// context has ended: an applied password must be recorded as such.
const bookkeeping = 5 * time.Second

// Run claims and applies jobs until ctx ends, then returns nil after the
// job in hand (its Redis bookkeeping is bounded by a few seconds). Redis
// and directory failures are logged and retried, never returned; only a
// Worker without Queue, Opener, Verifier or targets, or with bad targets, is an
// error. Meanwhile it publishes the targets' password policies.
func (w *Worker) Run(ctx context.Context) error {
	s, err := w.withDefaults()
	if err != nil {
		return err
	}
	names := make([]string, len(s.Targets))
	for i, t := range s.Targets {
		names[i] = t.Name
	}
	s.Log.Info("ldapsync: worker started", "targets", names)
	publishing := s.publishPolicies(ctx)
	defer func() { <-publishing }()
	loop.Run(ctx, s.Log, "ldapsync: queue unavailable", s.step)
	s.Log.Info("ldapsync: worker stopped")
	return nil
}

// step claims one job and applies it. It returns an error only when the
// queue failed; loop.Run then pauses before the next claim.
func (w *Worker) step(ctx context.Context) error {
	claimStart := time.Now()
	j, err := w.Queue.Claim(ctx, w.Name, w.Lease)
	if j != nil && w.Tracer != nil {
		// Spans only for claimed jobs, not for every empty poll: the
		// claim's span is opened afterwards with its real start time.
		tracer := w.Tracer.Tracer(tracing.Instrumentation)
		var span trace.Span
		ctx, span = tracer.Start(ctx, "ldapsync.job", trace.WithTimestamp(claimStart),
			trace.WithAttributes(attribute.String("job.id", j.ID), attribute.Int("job.attempt", j.Attempt)))
		defer span.End()
		_, claim := tracer.Start(ctx, "ldapsync.claim", trace.WithTimestamp(claimStart))
		claim.End()
	}
	switch {
	case errors.Is(err, job.ErrEmpty):
		loop.Sleep(ctx, w.PollInterval)
		return nil
	case errors.Is(err, job.ErrReplayed):
		w.Log.Warn("ldapsync: job refused: its id was settled already (a copy queued again); dropped", "err", err)
		return nil
	case err != nil:
		return err
	}
	w.handle(ctx, j)
	return nil
}

func (w *Worker) withDefaults() (*Worker, error) {
	s := *w
	if s.Queue == nil || s.Opener == nil || s.Verifier == nil {
		return nil, errors.New("ldapsync: Worker needs a Queue, an Opener and a Verifier")
	}
	targets, err := resolveTargets(s.Targets, s.Writer)
	if err != nil {
		return nil, err
	}
	s.Targets, s.Writer = targets, nil
	if s.Clock == nil {
		s.Clock = time.Now
	}
	if s.Log == nil {
		s.Log = slog.New(slog.DiscardHandler)
	}
	if s.Name == "" {
		host, _ := os.Hostname()
		s.Name = host + "-" + strconv.Itoa(os.Getpid())
	}
	s.Log = s.Log.With("component", "ldapsync", "worker", s.Name)
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&s.Lease, time.Minute)
	def(&s.RetryBackoff, 5*time.Second)
	def(&s.MaxRetryBackoff, time.Minute)
	def(&s.PollInterval, 250*time.Millisecond)
	def(&s.PolicyInterval, time.Minute)
	switch {
	case s.RetryLimit == 0:
		s.RetryLimit = 5
	case s.RetryLimit < 0:
		s.RetryLimit = 0
	}
	return &s, nil
}

// outcome is what became of one attempt, or of one target in it.
type outcome struct {
	state  job.State  // Done, Rejected, Failed or Partial: settle; "": try again later
	reason job.Reason // why (for a retry: what the status shows meanwhile)
	lost   bool       // the lease is gone: another worker has the job
	// targets are every target in order, as this attempt leaves them
	// (for a whole job only).
	targets []job.TargetOutcome
}

func settled(state job.State, reason job.Reason) outcome {
	return outcome{state: state, reason: reason}
}
func retry(reason job.Reason) outcome { return outcome{reason: reason} }

// handle applies one claimed job, renewing its lease meanwhile, and
// records the outcome.
func (w *Worker) handle(ctx context.Context, j *job.Job) {
	log := w.Log.With("job", j.ID, "attempt", j.Attempt)
	jctx, cancel := context.WithCancel(ctx)
	renewing := w.keepLease(jctx, cancel, j, log)
	out := w.apply(jctx, j, log)
	cancel()
	<-renewing
	w.record(ctx, j, out, log)
}

// keepLease renews j's lease every third of Lease until ctx ends; if the
// lease is lost, it cancels the job's work.
func (w *Worker) keepLease(ctx context.Context, cancel context.CancelFunc, j *job.Job, log *slog.Logger) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(w.Lease / 3)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			err := w.Queue.Renew(ctx, j, w.Lease)
			switch {
			case errors.Is(err, job.ErrLeaseLost):
				log.Warn("ldapsync: lease lost while working; stopping this job")
				cancel()
				return
			case err != nil && ctx.Err() == nil:
				log.Warn("ldapsync: lease not renewed", "err", err)
			}
		}
	}()
	return done
}

// record settles the job, or puts it back, as out says.
func (w *Worker) record(ctx context.Context, j *job.Job, out outcome, log *slog.Logger) {
	bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), bookkeeping)
	defer cancel()
	var err error
	switch {
	case out.lost:
		return
	case out.state != "":
		err = w.Queue.Complete(bg, j, job.Status{State: out.state, Reason: out.reason, Targets: out.targets})
		if err == nil {
			logSettled(log, j, out)
		}
	case ctx.Err() != nil:
		// Stopping: hand it back at once rather than after the lease. The
		// directories were not at fault, unless a write is unconfirmed.
		reason := out.reason
		if reason == job.ReasonUnavailable {
			reason = job.ReasonNone
		}
		targets := slices.Clone(out.targets)
		for i, t := range targets {
			if t.State == job.Queued && t.Reason == job.ReasonUnavailable {
				targets[i].Reason = job.ReasonNone
			}
		}
		err = w.Queue.Retry(bg, j, w.Clock(), reason, targets...)
		if err == nil {
			log.Info("ldapsync: stopping; job handed back")
		}
	case j.Attempt > w.RetryLimit:
		out = giveUp(out.targets)
		err = w.Queue.Complete(bg, j, job.Status{State: out.state, Reason: out.reason, Targets: out.targets})
		if err == nil {
			msg := "ldapsync: password not changed: retry limit reached"
			if out.state == job.Partial {
				msg = "ldapsync: password changed in some directories only: retry limit reached"
			}
			log.Error(msg, "sub", j.Subject, "reason", out.reason,
				"written", targetNames(out.targets, job.Done), "not_written", notWritten(out.targets))
		}
	default:
		wait := w.backoff(j.Attempt)
		err = w.Queue.Retry(bg, j, w.Clock().Add(wait), out.reason, out.targets...)
		if err == nil {
			log.Warn("ldapsync: will retry", "reason", out.reason, loop.Duration("retry_in", wait),
				"written", targetNames(out.targets, job.Done), "pending", targetNames(out.targets, job.Queued))
		}
	}
	switch {
	case errors.Is(err, job.ErrLeaseLost):
		log.Warn("ldapsync: lease lost before the outcome was recorded; another worker has the job")
	case err != nil:
		log.Error("ldapsync: outcome not recorded; the job comes back after its lease", "err", err)
	}
}

func logSettled(log *slog.Logger, j *job.Job, out outcome) {
	switch out.state {
	case job.Done:
		log.Info("ldapsync: password changed", "sub", j.Subject, "written", targetNames(out.targets, job.Done))
	case job.Rejected:
		log.Info("ldapsync: password refused by the directory's policy", "sub", j.Subject, "reason", out.reason,
			"refused_by", targetNames(out.targets, job.Rejected))
	case job.Partial:
		log.Error("ldapsync: password changed in some directories only", "sub", j.Subject, "reason", out.reason,
			"written", targetNames(out.targets, job.Done), "not_written", notWritten(out.targets))
	default:
		log.Error("ldapsync: password not changed", "sub", j.Subject, "reason", out.reason)
	}
}

// targetNames are the names of the targets in state st.
func targetNames(ts []job.TargetOutcome, st job.State) []string {
	var names []string
	for _, t := range ts {
		if t.State == st {
			names = append(names, t.Name)
		}
	}
	return names
}

// notWritten names the targets not written, with why.
func notWritten(ts []job.TargetOutcome) []string {
	var out []string
	for _, t := range ts {
		if t.State != job.Done {
			out = append(out, t.Name+":"+string(t.State)+"/"+string(t.Reason))
		}
	}
	return out
}

// backoff is the wait after the n-th attempt failed.
func (w *Worker) backoff(n int) time.Duration {
	d := w.RetryBackoff
	for i := 1; i < n && d < w.MaxRetryBackoff; i++ {
		d *= 2
	}
	return min(d, w.MaxRetryBackoff)
}
