package main

import (
	"context"
	"errors"
	"time"

	"github.com/region-nouvelle-aquitaine/idp/idp/password"
	"github.com/region-nouvelle-aquitaine/idp/idp/reset"
	"github.com/region-nouvelle-aquitaine/idp/ldapsync/job"
	"github.com/region-nouvelle-aquitaine/idp/views"
)

// passwordPolicy shows idp/password's refusals as the page's problems.
type passwordPolicy struct{ password.Policy }

// newPasswordPolicy: 12 characters at least, or 15 when strict.
func newPasswordPolicy(strict bool) passwordPolicy {
	if strict {
		return passwordPolicy{password.StrictPolicy(password.LoadBlocklist())}
	}
	return passwordPolicy{password.DefaultPolicy(password.LoadBlocklist())}
}

func (p passwordPolicy) Lengths(context.Context) (min, max int) { return p.Policy.Lengths() }

func (p passwordPolicy) Check(_ context.Context, pw string, context ...string) views.PasswordProblem {
	err := p.Policy.Check(pw, context...)
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

// jobChanges seals new passwords to the ldapsync workers' key and queues
// them; the web tier never writes the directory.
type jobChanges struct {
	queue *job.Queue
	seal  *job.Sealer
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
	j := job.Job{ID: job.NewID(), Subject: ch.Subject, Login: ch.Login, CreatedAt: now, ExpiresAt: now.Add(c.life)}
	sealed, err := c.seal.Seal(j, ch.Password)
	if err != nil {
		return "", err
	}
	j.Sealed = sealed
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
	}
	return reset.ChangeState{Pending: true, Slow: st.Reason == job.ReasonUnavailable}, nil
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
	}
	return views.PasswordRefused
}
