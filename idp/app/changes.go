package app

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"time"
	"unicode/utf8"

	"github.com/region-nouvelle-aquitaine/idp/idp/password"
	"github.com/region-nouvelle-aquitaine/idp/idp/reset"
	"github.com/region-nouvelle-aquitaine/idp/idp/shared/job"
	"github.com/region-nouvelle-aquitaine/idp/views"
)

// passwordPolicy is the provider's own rules (idp/password) and those
// every directory target published (ldapsync reads them from ppolicy):
// a password the page accepts is one no target should refuse for its
// length. It shows refusals as the page's problems.
type passwordPolicy struct {
	own     password.Policy
	targets publishedPolicies // nil: none
	log     *slog.Logger
}

// publishedPolicies are the directory targets' rules (*job.Queue).
type publishedPolicies interface {
	Policies(ctx context.Context) ([]job.TargetPolicy, error)
}

// newPasswordPolicy: 12 characters at least, or 15 when strict, and what
// the targets demand.
func newPasswordPolicy(strict bool, targets publishedPolicies, log *slog.Logger) passwordPolicy {
	own := password.DefaultPolicy(password.LoadBlocklist())
	if strict {
		own = password.StrictPolicy(password.LoadBlocklist())
	}
	return passwordPolicy{own: own, targets: targets, log: log}
}

func (p passwordPolicy) published(ctx context.Context) []job.TargetPolicy {
	if p.targets == nil {
		return nil
	}
	ps, err := p.targets.Policies(ctx)
	if err != nil {
		// The queue shares this Redis: the change itself will fail if it
		// is really down. Until then the provider's own rules still hold.
		p.log.WarnContext(ctx, "directory policies unreadable; only the provider's rules are checked", "err", err)
		return nil
	}
	return ps
}

// Lengths is the strictest of all: the page shows what every target takes.
func (p passwordPolicy) Lengths(ctx context.Context) (lo, hi int) {
	lo, hi = p.own.Lengths()
	for _, t := range p.published(ctx) {
		lo = max(lo, t.MinLength)
		if t.MaxLength > 0 {
			hi = min(hi, t.MaxLength)
		}
	}
	return lo, hi
}

func (p passwordPolicy) Check(ctx context.Context, pw string, context ...string) views.PasswordProblem {
	if problem := p.checkOwn(pw, context...); problem != views.PasswordOK {
		return problem
	}
	// ppolicy counts bytes; asking for as many characters is never less.
	for _, t := range p.published(ctx) {
		switch {
		case utf8.RuneCountInString(pw) < t.MinLength:
			return views.PasswordTooShort
		case t.MaxLength > 0 && len(pw) > t.MaxLength:
			return views.PasswordTooLong
		}
	}
	return views.PasswordOK
}

func (p passwordPolicy) checkOwn(pw string, context ...string) views.PasswordProblem {
	err := p.own.Check(pw, context...)
	if err == nil {
		return views.PasswordOK
	}
	var r *password.Rejection
	if !errors.As(err, &r) {
		return views.PasswordRefused
	}
	switch r.Reason {
	case password.Empty:
		return views.PasswordMissing
	case password.InvalidUTF8, password.ControlChars:
		return views.PasswordInvalidChars
	case password.TooShort:
		return views.PasswordTooShort
	case password.TooLong:
		return views.PasswordTooLong
	case password.ContainsContext:
		return views.PasswordContainsContext
	case password.Blocklisted:
		return views.PasswordBlocklisted
	}
	return views.PasswordRefused
}

// jobChanges seals new passwords to the ldapsync workers' key, signs the
// jobs (the workers write nothing else) and queues them; the web tier
// never writes the directory.
type jobChanges struct {
	queue *job.Queue
	seal  *job.Sealer
	sign  *job.Signer
	keep  sessionKeeper
	now   func() time.Time
	// life bounds the job: no write starts after the person's flow ended.
	life time.Duration
}

// sessionKeeper records the session a change made while signed in keeps
// (*store.Store; read back by idp/completion).
type sessionKeeper interface {
	KeepSessionFor(ctx context.Context, jobID, keepSession string, exp time.Time) error
}

func (c jobChanges) Submit(ctx context.Context, ch reset.Change) (string, error) {
	now := c.now()
	j := job.Job{ID: job.NewID(), Subject: ch.Subject, Login: ch.Login, Mail: ch.Mail, CreatedAt: now, ExpiresAt: now.Add(c.life)}
	sealed, err := c.seal.Seal(j, ch.Password)
	if err != nil {
		return "", err
	}
	j.Sealed = sealed
	if err := c.sign.Sign(&j); err != nil {
		return "", err
	}
	if ch.KeepSession != "" {
		// Before the job exists, so that its completion always finds it.
		if err := c.keep.KeepSessionFor(ctx, j.ID, ch.KeepSession, j.ExpiresAt.Add(time.Hour)); err != nil {
			return "", err
		}
	}
	err = c.queue.Enqueue(ctx, j)
	var pending *job.PendingError
	if errors.As(err, &pending) {
		// A change of this person is already under way: follow it.
		return pending.JobID, nil
	}
	if err != nil {
		return "", err
	}
	return j.ID, nil
}

func (c jobChanges) State(ctx context.Context, id string) (reset.ChangeState, error) {
	st, err := c.queue.Status(ctx, id)
	if errors.Is(err, job.ErrNotFound) {
		return reset.ChangeState{Failed: true}, nil
	}
	if err != nil {
		return reset.ChangeState{}, err
	}
	switch st.State {
	case job.Done:
		return reset.ChangeState{Done: true}, nil
	case job.Rejected:
		return reset.ChangeState{Refused: true, Problem: refusal(st.Reason)}, nil
	case job.Failed:
		return reset.ChangeState{Failed: true, Unconfirmed: st.Reason == job.ReasonUnconfirmed}, nil
	case job.Partial:
		var missing []string
		for _, t := range st.Targets {
			if t.State != job.Done {
				missing = append(missing, cmp.Or(t.Label, t.Name))
			}
		}
		return reset.ChangeState{Partial: true, NotChangedIn: missing}, nil
	}
	pending := reset.ChangeState{Pending: true, Slow: st.Reason == job.ReasonUnavailable}
	for _, t := range st.Targets {
		switch {
		case t.State == job.Done:
			pending.WrittenIn = append(pending.WrittenIn, cmp.Or(t.Label, t.Name))
		case t.Reason == job.ReasonUnavailable:
			pending.SlowIn = append(pending.SlowIn, cmp.Or(t.Label, t.Name))
		}
	}
	pending.Slow = pending.Slow || len(pending.SlowIn) > 0
	return pending, nil
}

func refusal(r job.Reason) views.PasswordProblem {
	switch r {
	case job.ReasonTooShort:
		return views.PasswordTooShort
	case job.ReasonInHistory:
		return views.PasswordInHistory
	case job.ReasonTooYoung:
		return views.PasswordTooYoung
	case job.ReasonQuality:
		return views.PasswordQuality
	case job.ReasonTooLong:
		return views.PasswordTooLong
	}
	return views.PasswordRefused
}
