package reset

import (
	"cmp"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"time"

	"github.com/region-nouvelle-aquitaine/idp/idp/shared/durable"
	"github.com/region-nouvelle-aquitaine/idp/idp/shared/job"
)

// JobQueue is the change queue ldapsync reads (*job.Queue).
type JobQueue interface {
	Enqueue(ctx context.Context, j job.Job) error
	Status(ctx context.Context, id string) (job.Status, error)
}

// SessionKeeper records the session a change made while signed in keeps
// (*store.Store; read back by idp/completion).
type SessionKeeper interface {
	KeepSessionFor(ctx context.Context, jobID, keepSession string, exp time.Time) error
}

// JobChangesConfig configures NewJobChanges.
type JobChangesConfig struct {
	Queue JobQueue
	// PublicKey is the ldapsync workers' key (job.MarshalPublicKey form):
	// only they can open a new password.
	PublicKey string
	// SigningKey is the web tier's: the workers write only jobs signed
	// with it.
	SigningKey ed25519.PrivateKey
	Sessions   SessionKeeper
	// Lifetime bounds each job, so that no write starts after the
	// person's flow ended; 0: DefaultLimits.FlowLifetime.
	Lifetime time.Duration
	// Now: nil is time.Now.
	Now func() time.Time
}

// JobChanges is the Changes that seals new passwords to the ldapsync
// workers' key, signs the jobs and queues them: the web tier never writes
// the directory.
type JobChanges struct {
	queue JobQueue
	seal  *job.Sealer
	sign  *job.Signer
	keep  SessionKeeper
	now   func() time.Time
	life  time.Duration
}

// NewJobChanges checks the keys and returns the adapter.
func NewJobChanges(c JobChangesConfig) (*JobChanges, error) {
	if c.Queue == nil || c.Sessions == nil {
		return nil, errors.New("reset: job changes need a queue and a session keeper")
	}
	pk, err := job.ParsePublicKey(c.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("ldapsync.public_key: %w", err)
	}
	seal, err := job.NewSealer(pk)
	if err != nil {
		return nil, fmt.Errorf("ldapsync.public_key: %w", err)
	}
	sign, err := job.NewSigner(c.SigningKey)
	if err != nil {
		return nil, fmt.Errorf("ldapsync.signing_key: %w", err)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return &JobChanges{
		queue: c.Queue, seal: seal, sign: sign, keep: c.Sessions,
		now: c.Now, life: cmp.Or(c.Lifetime, DefaultLimits.FlowLifetime),
	}, nil
}

// Submit queues c and returns its job and the job's end, or ErrChangeUnderWay while the
// person has another job unsettled (one job per person at a time, so
// that two changes are never written in the wrong order). With
// durable.ErrNotReplicated the job is queued all the same (on the
// primary, not yet on a replica) and the Queued is set.
func (c *JobChanges) Submit(ctx context.Context, ch Change) (Queued, error) {
	now := c.now()
	j := job.Job{ID: job.NewID(), Subject: ch.Subject, Login: ch.Login, Mail: ch.Mail, CreatedAt: now, ExpiresAt: now.Add(c.life), Since: ch.Since}
	sealed, err := c.seal.Seal(j, ch.Password)
	if err != nil {
		return Queued{}, fmt.Errorf("seal the new password: %w", err)
	}
	j.Sealed = sealed
	if err := c.sign.Sign(&j); err != nil {
		return Queued{}, fmt.Errorf("sign the job: %w", err)
	}
	if ch.KeepSession != "" {
		// Before the job exists, so that its completion always finds it.
		if err := c.keep.KeepSessionFor(ctx, j.ID, ch.KeepSession, j.ExpiresAt.Add(time.Hour)); err != nil {
			return Queued{}, fmt.Errorf("keep the session: %w", err)
		}
	}
	err = c.queue.Enqueue(ctx, j)
	var pending *job.PendingError
	if errors.As(err, &pending) {
		return Queued{}, fmt.Errorf("%w (job %s)", ErrChangeUnderWay, pending.JobID)
	}
	if errors.Is(err, job.ErrSuperseded) {
		return Queued{}, fmt.Errorf("%w: %w", ErrChangeSuperseded, err)
	}
	q := Queued{JobID: j.ID, ExpiresAt: j.ExpiresAt}
	if errors.Is(err, durable.ErrNotReplicated) {
		// Queued on the primary: the caller follows it to its outcome,
		// which a failover that lost it turns into "not changed".
		return q, fmt.Errorf("queue the change: %w", err)
	}
	if err != nil {
		return Queued{}, fmt.Errorf("queue the change: %w", err)
	}
	return q, nil
}

// State is where the job stands, as the waiting page shows it; a job the
// queue no longer knows (expired) failed.
func (c *JobChanges) State(ctx context.Context, id string) (ChangeState, error) {
	st, err := c.queue.Status(ctx, id)
	if errors.Is(err, job.ErrNotFound) {
		return ChangeState{Failed: true}, nil
	}
	if err != nil {
		return ChangeState{}, err
	}
	return StateOf(st), nil
}

// StateOf maps a job's status to what the waiting page says: directories
// by their labels, a directory's refusal as the page's password problem.
func StateOf(st job.Status) ChangeState {
	switch st.State {
	case job.Done:
		return ChangeState{Done: true}
	case job.Rejected:
		return ChangeState{Refused: true, Problem: ProblemFor(st.Reason)}
	case job.Failed:
		return ChangeState{Failed: true, Unconfirmed: st.Reason == job.ReasonUnconfirmed}
	case job.Partial:
		var missing []string
		for _, t := range st.Targets {
			if t.State != job.Done {
				missing = append(missing, cmp.Or(t.Label, t.Name))
			}
		}
		return ChangeState{Partial: true, NotChangedIn: missing}
	}
	pending := ChangeState{Pending: true, Slow: st.Reason == job.ReasonUnavailable}
	for _, t := range st.Targets {
		switch {
		case t.State == job.Done:
			pending.WrittenIn = append(pending.WrittenIn, cmp.Or(t.Label, t.Name))
		case t.Reason == job.ReasonUnavailable:
			pending.SlowIn = append(pending.SlowIn, cmp.Or(t.Label, t.Name))
		}
	}
	pending.Slow = pending.Slow || len(pending.SlowIn) > 0
	return pending
}
