package ldapsync

import (
	"context"
	"errors"
	"log/slog"

	"github.com/go-ldap/ldap/v3"

	"github.com/region-nouvelle-aquitaine/idp/ldapsync/directory"
	"github.com/region-nouvelle-aquitaine/idp/ldapsync/job"
)

// apply makes one attempt at j: open the password, find the entry, make
// sure an earlier attempt did not apply it already, mark, write.
func (w *Worker) apply(ctx context.Context, j *job.Job, log *slog.Logger) outcome {
	pw, err := w.Opener.Open(j)
	if err != nil {
		log.Error("ldapsync: sealed password unreadable (sealed to another key?)", "err", err)
		return settled(job.Failed, job.ReasonUnreadable)
	}
	// An earlier attempt that marked the job may have written: until the
	// directory says otherwise, a failure leaves the outcome unconfirmed.
	uncertain := j.Mark != ""
	e, err := w.Writer.Lookup(ctx, j.Login)
	if err != nil {
		return w.failure(err, uncertain, log)
	}
	if e.Subject != j.Subject {
		// The login now names someone else, or the directory's subject
		// attribute is not the web tier's: never write then.
		log.Warn("ldapsync: the login names an entry of another subject; not written", "sub", j.Subject)
		return settled(job.Failed, job.ReasonNoSuchUser)
	}
	before := e // the entry as it was before this job's first write
	if uncertain {
		before.Mark = j.Mark
		changed, err := w.Writer.Changed(ctx, before)
		if err != nil {
			return w.failure(err, true, log)
		}
		if changed {
			log.Info("ldapsync: an earlier attempt applied the password")
			return settled(job.Done, job.ReasonNone)
		}
	}
	if !w.Clock().Before(j.ExpiresAt) {
		return settled(job.Failed, job.ReasonExpired) // no write starts after ExpiresAt
	}
	if !uncertain {
		// Recorded before writing, so that whoever takes the job over after
		// a crash asks the directory before writing again.
		if err := w.Queue.Mark(ctx, j, e.Mark); err != nil {
			if errors.Is(err, job.ErrLeaseLost) {
				return outcome{lost: true}
			}
			log.Warn("ldapsync: could not record the mark; not written", "err", err)
			return retry(job.ReasonUnavailable)
		}
	}

	err = w.Writer.Write(ctx, e, pw)
	var pe *directory.PolicyError
	switch {
	case err == nil:
		return settled(job.Done, job.ReasonNone)
	case errors.As(err, &pe):
		if pe.Code == ldap.BeheraPasswordInHistory && uncertain {
			// An earlier attempt's write may have landed after the check
			// above; then "in history" is our own password.
			if changed, cerr := w.Writer.Changed(ctx, before); cerr == nil && changed {
				log.Info("ldapsync: an earlier attempt applied the password")
				return settled(job.Done, job.ReasonNone)
			}
		}
		return settled(job.Rejected, policyReason(pe.Code))
	}
	return w.failure(err, errors.Is(err, directory.ErrOutcomeUnknown), log)
}

// failure sorts a directory error: settled for good, or retried later
// (as unconfirmed when a write may have been applied).
func (w *Worker) failure(err error, unconfirmed bool, log *slog.Logger) outcome {
	switch {
	case errors.Is(err, directory.ErrNoSuchUser):
		return settled(job.Failed, job.ReasonNoSuchUser)
	case errors.Is(err, directory.ErrRefused):
		log.Error("ldapsync: the directory refused the writer; check its rights and the configuration", "err", err)
		return settled(job.Failed, job.ReasonRefused)
	}
	log.Warn("ldapsync: directory unavailable", "err", err)
	if unconfirmed {
		return retry(job.ReasonUnconfirmed)
	}
	return retry(job.ReasonUnavailable)
}

// policyReason maps a ppolicy error code to a job reason.
func policyReason(code int8) job.Reason {
	switch code {
	case ldap.BeheraPasswordTooShort:
		return job.ReasonTooShort
	case ldap.BeheraPasswordInHistory:
		return job.ReasonInHistory
	case ldap.BeheraPasswordTooYoung:
		return job.ReasonTooYoung
	case ldap.BeheraInsufficientPasswordQuality:
		return job.ReasonQuality
	}
	return job.ReasonPolicy
}
